// SPDX-License-Identifier: MIT
//! Development tasks of nano_wal.
//!
//! `header`: generates `include/nano_wal.h` from `src/ffi/` with
//! `cbindgen.toml` (only the FFI module and its submodules make the header:
//! the engine's own public constants and types are not part of the C API).
//! `header --check` writes nothing and exits 1 when the committed header is
//! not what cbindgen generates now.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ lies in the repository")
        .to_path_buf()
}

fn generate(root: &Path) -> Result<String, String> {
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml"))
        .map_err(|e| format!("reading cbindgen.toml: {e}"))?;
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .map_err(|e| format!("cbindgen failed: {e}"))?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).map_err(|_| "the generated header is not UTF-8".to_string())
}

fn header(check: bool) -> Result<(), String> {
    let root = repo_root();
    let path = root.join("include/nano_wal.h");
    let fresh = generate(&root)?;
    if check {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != fresh {
            return Err(
                "include/nano_wal.h is stale: run `cargo run --manifest-path xtask/Cargo.toml -- header` \
                 (or `NWAL_BLESS=1 cargo test --test header_fresh`) and commit it"
                    .to_string(),
            );
        }
        println!("include/nano_wal.h is fresh");
        return Ok(());
    }
    std::fs::write(&path, fresh).map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["header"] => header(false),
        ["header", "--check"] => header(true),
        _ => {
            eprintln!("usage: cargo run --manifest-path xtask/Cargo.toml -- header [--check]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
