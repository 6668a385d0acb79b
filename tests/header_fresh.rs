// SPDX-License-Identifier: MIT
//! The committed `include/nano_wal.h` must be exactly what cbindgen
//! generates from the current Rust source with `cbindgen.toml`. The
//! generator is the `xtask` crate (`xtask/`, its own workspace: cbindgen is
//! no dependency of the library, so an offline build of the library needs
//! only its runtime crates); this test runs it as a child process.
//! `NWAL_BLESS=1 cargo test --test header_fresh` rewrites the header.

use std::path::Path;
use std::process::Command;

#[test]
fn committed_header_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["run", "--quiet", "--locked", "--manifest-path"])
        .arg(root.join("xtask/Cargo.toml"))
        // Its own target directory: never the one this test was built in.
        .arg("--target-dir")
        .arg(root.join("xtask/target"))
        .args(["--", "header"]);
    if std::env::var_os("NWAL_BLESS").is_none() {
        cmd.arg("--check");
    }
    let out = cmd.output().expect("running the xtask (cargo run)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn header_version_macros_match_cargo() {
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/nano_wal.h"))
            .unwrap();
    for (name, value) in [
        ("NWAL_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("NWAL_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("NWAL_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        let line = format!("#define {name} {value}\n");
        assert!(header.contains(&line), "header lacks `{}`", line.trim());
    }
}

#[test]
fn header_has_no_test_only_symbols() {
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/nano_wal.h"))
            .unwrap();
    assert!(!header.contains("nwal_test_panic"));
    // Only the C API's names: every macro and declaration is nwal_/NWAL_.
    for line in header.lines() {
        if let Some(rest) = line.strip_prefix("#define ") {
            assert!(
                rest.starts_with("NWAL_") || rest.starts_with("NANO_WAL_H"),
                "foreign macro in the header: {line}"
            );
        }
        if line.starts_with(|c: char| c.is_ascii_lowercase()) && !line.starts_with("extern") {
            assert!(
                line.contains("nwal"),
                "foreign declaration in the header: {line}"
            );
        }
    }
}
