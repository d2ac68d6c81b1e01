//! Shared helpers for the integration tests: fixture lookup, the binary, temp dirs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Environment variable set by `.ci/run`: a missing `../shared` is then a failure, not a skip.
pub const REQUIRE_SHARED: &str = "MBZ_REQUIRE_SHARED";

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/fixtures/<sub>` if present. When absent: panics under CI (`MBZ_REQUIRE_SHARED` set),
/// otherwise prints that the test is skipped and returns `None`.
pub fn shared(sub: &str) -> Option<PathBuf> {
    let dir = root().join("..").join("shared").join("fixtures").join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os(REQUIRE_SHARED).is_some() {
        panic!("{} is missing and {REQUIRE_SHARED} is set", dir.display());
    }
    eprintln!(
        "skipped: {} not found (fresh clone without ../shared)",
        dir.display()
    );
    None
}

/// Every `.mbz` under `dir` (recursively), sorted.
pub fn mbz_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "mbz") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The truth file of a shared moodle43 archive: `x.mbz` and `x.zip.mbz` -> `x.truth.json`.
pub fn truth_of(mbz: &Path) -> PathBuf {
    let name = mbz.file_name().unwrap().to_str().unwrap();
    let stem = name.trim_end_matches(".mbz").trim_end_matches(".zip");
    mbz.with_file_name(format!("{stem}.truth.json"))
}

/// Runs the binary with `args`.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mbz-enrol"))
        .args(args)
        .env("TZ", "Europe/Paris")
        .output()
        .expect("run mbz-enrol")
}

/// A fresh temp dir, removed on drop.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}
