// SPDX-License-Identifier: MIT
//! Gives the shared library a versioned soname (`libnano_wal.so.0.<minor>`
//! while the version is 0.x, `libnano_wal.so.<major>` from 1.0), so programs
//! linked against one ABI never load an incompatible one. The CMake build
//! creates the matching symlink next to the library.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let abi = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" || target_os == "freebsd" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnano_wal.so.{abi}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
