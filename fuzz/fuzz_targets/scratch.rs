// SPDX-License-Identifier: MIT
//! A scratch directory per fuzzing process, on tmpfs when there is one (the
//! targets write segment files and fsync them on every input).
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub fn scratch(target: &str) -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        base.join(format!("nwal-fuzz-{target}-{}", std::process::id()))
    })
}
