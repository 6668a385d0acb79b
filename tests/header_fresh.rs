//! The committed `include/nano_wal.h` must be exactly what cbindgen
//! generates from the current Rust source with `cbindgen.toml`.
//! `NWAL_BLESS=1 cargo test --test header_fresh` rewrites it.

use std::path::Path;

fn generate() -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("reading cbindgen.toml");
    // Only the FFI module (and its submodules) makes the header: the engine's
    // own public constants and types are not part of the C API.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen failed");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("header is UTF-8")
}

#[test]
fn committed_header_is_fresh() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/nano_wal.h");
    let fresh = generate();
    if std::env::var_os("NWAL_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("writing include/nano_wal.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/nano_wal.h is stale: run `NWAL_BLESS=1 cargo test --test header_fresh` and commit it"
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
