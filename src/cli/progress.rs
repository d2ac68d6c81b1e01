//! Progress on a terminal while one large archive is read (convert, renew, verify): bytes read and an ETA.
//!
//! The library stays out of it: the binary watches, from a thread, how far the process has read each file it
//! names, through the position of its open descriptors (`/proc/self/fdinfo`, Linux). A file read twice (a tar.gz
//! is read, then copied into the output; verify reads the output, then the original) shows one pass after the
//! other. Nothing is shown when stderr is not a terminal, with --quiet, for archives of 100 MB or less, or where
//! `/proc` is not there.
//!
//! Also the bar of apply's courses ([`courses`]), counted by course.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Archives larger than this (bytes) get a progress bar.
pub const THRESHOLD: u64 = 100_000_000;

/// How often the positions are read.
const TICK: Duration = Duration::from_millis(200);

/// A running watch; dropping it stops the thread and clears the bar.
pub struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whether a bar is shown: a terminal, not --quiet, a large archive.
#[must_use]
pub fn wanted(size: u64, terminal: bool, quiet: bool) -> bool {
    terminal && !quiet && size > THRESHOLD
}

/// The bar of a run over several courses (apply): courses done of all, failures counted, on a terminal only,
/// not with --quiet, not for one course.
pub fn courses(total: usize, terminal: bool, quiet: bool) -> Option<ProgressBar> {
    (terminal && !quiet && total > 1).then(|| {
        let b = ProgressBar::new(total as u64);
        b.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_message(format!("0/{total} courses"));
        // A course takes seconds of calls: the clock and spinner move meanwhile.
        b.enable_steady_tick(TICK);
        b
    })
}

/// Watches `files` (the archive first: its size decides) while the returned guard lives, when [`wanted`].
pub fn watch(files: &[&Path], globals: super::Globals) -> Option<Watch> {
    let size = std::fs::metadata(files.first()?).ok()?.len();
    if !wanted(size, std::io::stderr().is_terminal(), globals.quiet) {
        return None;
    }
    start(files, ProgressDrawTarget::stderr())
}

/// Starts the watching thread, drawing to `target`.
fn start(files: &[&Path], target: ProgressDrawTarget) -> Option<Watch> {
    if !Path::new("/proc/self/fdinfo").is_dir() {
        return None;
    }
    // The output does not exist yet: its full path is what its descriptor will name once it is read back.
    let files: Vec<(PathBuf, String)> = files
        .iter()
        .map(|f| {
            let full = std::fs::canonicalize(f).unwrap_or_else(|_| {
                let parent = f.parent().filter(|p| !p.as_os_str().is_empty());
                let parent = parent.and_then(|p| std::fs::canonicalize(p).ok());
                match (parent, f.file_name()) {
                    (Some(p), Some(n)) => p.join(n),
                    _ => f.to_path_buf(),
                }
            });
            // One line on an 80-column terminal: a long name keeps its end.
            let name: String = f.file_name().map_or_else(
                || f.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            let chars = name.chars().count();
            let name = if chars > 24 {
                format!("…{}", name.chars().skip(chars - 23).collect::<String>())
            } else {
                name
            };
            (full, name)
        })
        .collect();
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:24}] {bytes}/{total_bytes} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let thread = std::thread::spawn(move || {
        // The file being read and its last position; a pass starts when a file is (re)opened.
        let mut current: Option<(usize, u64)> = None;
        while !stopped.load(Ordering::SeqCst) {
            let now = files
                .iter()
                .enumerate()
                .find_map(|(i, (path, _))| position(path).map(|pos| (i, pos)));
            match (current, now) {
                (_, None) => current = None,
                // The same file, not read again from near its start: the same pass.
                (Some((i, last)), Some((j, pos))) if i == j && pos.saturating_mul(2) >= last => {
                    bar.set_position(pos);
                    current = Some((i, pos));
                }
                (_, Some((j, pos))) => {
                    let (path, name) = &files[j];
                    bar.reset();
                    bar.set_length(std::fs::metadata(path).map_or(0, |m| m.len()));
                    bar.set_message(format!("reading {name}"));
                    bar.set_position(pos);
                    current = Some((j, pos));
                }
            }
            std::thread::sleep(TICK);
        }
        bar.finish_and_clear();
    });
    Some(Watch {
        stop,
        thread: Some(thread),
    })
}

/// How far this process has read `path`: the largest position of the descriptors open on it (`None` when none).
fn position(path: &Path) -> Option<u64> {
    let mut best = None;
    for entry in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if target != path {
            continue;
        }
        let Ok(info) =
            std::fs::read_to_string(Path::new("/proc/self/fdinfo").join(entry.file_name()))
        else {
            continue;
        };
        let pos = info
            .lines()
            .find_map(|l| l.strip_prefix("pos:"))
            .and_then(|p| p.trim().parse::<u64>().ok());
        best = best.max(pos);
    }
    best
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    #[test]
    fn only_large_archives_on_a_terminal_without_quiet() {
        assert!(wanted(THRESHOLD + 1, true, false));
        assert!(!wanted(THRESHOLD, true, false), "100 MB or less");
        assert!(!wanted(THRESHOLD + 1, false, false), "not a terminal");
        assert!(!wanted(THRESHOLD + 1, true, true), "--quiet");
    }

    #[test]
    fn a_courses_bar_only_for_several_on_a_terminal_without_quiet() {
        assert!(courses(2, true, false).is_some());
        assert!(courses(1, true, false).is_none(), "one course");
        assert!(courses(2, false, false).is_none(), "not a terminal");
        assert!(courses(2, true, true).is_none(), "--quiet");
    }

    #[test]
    fn the_position_is_how_far_the_file_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.mbz");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&[7u8; 10_000])
            .unwrap();
        let path = std::fs::canonicalize(&path).unwrap();
        assert_eq!(position(&path), None, "not open");
        let mut f = std::fs::File::open(&path).unwrap();
        let mut buf = [0u8; 4096];
        f.read_exact(&mut buf).unwrap();
        assert_eq!(position(&path), Some(4096));
        // The watch runs and stops with its guard (drawn nowhere).
        let w = start(&[&path], ProgressDrawTarget::hidden());
        assert!(w.is_some());
        drop(w);
        drop(f);
        assert_eq!(position(&path), None);
    }
}
