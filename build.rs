//! Build script: the commit and its date for `--version`, read from git when the sources are a checkout
//! ("unknown" otherwise, e.g. a tarball or `cargo package` build). The commit's date, never the build clock, so
//! the same commit always builds the same text.

use std::process::Command;

/// `git ARGS` in the package's folder, its trimmed output when it succeeds.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short=9", "HEAD"]);
    let date = commit
        .as_ref()
        .and_then(|_| git(&["log", "-1", "--format=%cd", "--date=short", "HEAD"]));
    // Rebuild when HEAD moves: the HEAD file (a branch switch), its reflog (every commit, checkout or reset of this
    // worktree) and the branch's loose ref. Only paths that exist: cargo reruns a script on every build for a
    // missing one; never the refs folder, which other branches' commits touch.
    if commit.is_some() {
        let mut watch: Vec<String> = ["HEAD", "logs/HEAD"]
            .iter()
            .filter_map(|p| git(&["rev-parse", "--git-path", p]))
            .collect();
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"])
            && let Some(p) = git(&["rev-parse", "--git-path", &r])
        {
            watch.push(p);
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for p in watch.iter().filter(|p| root.join(p).exists()) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!(
        "cargo:rustc-env=MBZ_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!(
        "cargo:rustc-env=MBZ_COMMIT_DATE={}",
        date.as_deref().unwrap_or("date unknown")
    );
}
