//! Batches: walking folders of backups, sharding, resuming, running archives in parallel with per-archive
//! isolation (one failure never stops the rest), and per-course end dates from a map of courses to dates.
//!
//! The driver knows nothing of rendering: it returns one result per archive and reports each as it finishes
//! through a callback.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::archive::{self, Cancel};
use crate::error::{Error, Result};

pub mod resume;

pub use resume::Record;

/// One archive to process.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// The input file.
    pub input: PathBuf,
    /// Its path relative to the input folder it was found in, with `/` separators (the file name for a file
    /// given directly).
    pub relative: String,
    /// Where its output goes (OUTDIR + relative).
    pub output: PathBuf,
    /// Input size in bytes.
    pub bytes: u64,
}

/// A file that was not processed, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Its path relative to the input folder it was found in.
    pub relative: String,
    /// Why.
    pub reason: Reason,
}

/// Why a file was not processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum Reason {
    /// Its name does not end in `.mbz`.
    NotMbz,
    /// It belongs to another shard (`shard` of `of`).
    OtherShard {
        /// Its shard, 1-based.
        shard: u64,
        /// The number of shards.
        of: u64,
    },
    /// Resuming: its output's [`Record`] says it was made from the same input bytes with the same options by
    /// this version.
    UpToDate,
    /// Another input already maps to the same relative path.
    SameOutput(String),
    /// It could not be read (the cause, in words).
    Unreadable(String),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::NotMbz => f.write_str("not named *.mbz"),
            Reason::OtherShard { shard, of } => write!(f, "shard {shard} of {of}"),
            Reason::UpToDate => {
                f.write_str("output already made from the same input bytes with the same options")
            }
            Reason::SameOutput(rel) => write!(f, "another input already maps to `{rel}`"),
            Reason::Unreadable(why) => f.write_str(why),
        }
    }
}

/// A shard that is not `K/N` with 1 <= K <= N (the text as given).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}: expected K/N with 1 <= K <= N, e.g. 1/4")]
pub struct ShardError(pub String);

/// A map of courses to end dates that cannot be used: the file, the line when known, why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}{}: {reason}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct UntilMapError {
    /// The CSV file.
    pub path: PathBuf,
    /// The line (1-based), when the problem is one row.
    pub line: Option<usize>,
    /// Why.
    pub reason: String,
}

/// What [`discover`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Discovery {
    /// Archives to process, sorted by relative path.
    pub jobs: Vec<Job>,
    /// Files left out (not named *.mbz, other shard, up to date).
    pub skipped: Vec<Skipped>,
    /// Files or folders that could not be read, and files named *.mbz that are neither gzip nor zip (empty,
    /// an HTML error page saved under the name): failures, not skips.
    pub unreadable: Vec<Skipped>,
}

/// Shard K of N: this machine takes the archives whose relative path hashes to K (1-based) among N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 1..=n.
    pub k: u64,
    /// Number of shards.
    pub n: u64,
}

impl Shard {
    /// Parses `K/N` with 1 ≤ K ≤ N.
    ///
    /// # Errors
    /// [`ShardError`].
    pub fn parse(s: &str) -> Result<Self, ShardError> {
        let bad = || ShardError(s.to_owned());
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n): (u64, u64) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if n == 0 || k == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }

    /// The shard (1..=n) that `relative` belongs to: FNV-1a 64 of its UTF-8 bytes, modulo n, plus one. Stable
    /// across machines and runs.
    pub fn of(relative: &str, n: u64) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in relative.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h % n + 1
    }

    /// Whether `relative` is this shard's.
    pub fn takes(&self, relative: &str) -> bool {
        Self::of(relative, self.n) == self.k
    }
}

/// Finds the archives under `inputs` (files or folders, walked recursively): names ending in `.mbz` whose
/// first bytes are gzip or zip. Other names are reported as skipped, as are archives of other shards and, with
/// `resume`, archives whose output's [`Record`] covers them ([`Record::covers`]): `resume` gives the options
/// that would apply to a record's course (`None`: none would, so the archive is converted again).
///
/// # Errors
/// [`Error::Usage`] when `outdir` is inside an input folder; [`archive::Error::Read`] (as [`Error::Archive`])
/// when an input cannot be listed.
pub fn discover(
    inputs: &[PathBuf],
    outdir: &Path,
    shard: Option<Shard>,
    resume: Option<&resume::Options<'_>>,
) -> Result<Discovery> {
    let out_canon = canonical_or_planned(outdir);
    for input in inputs {
        if input.is_dir()
            && let Ok(root) = fs::canonicalize(input)
            && out_canon.starts_with(&root)
        {
            return Err(Error::Usage(format!(
                "output folder `{}` is inside input folder `{}`: choose an output folder outside the inputs",
                outdir.display(),
                input.display()
            )));
        }
    }
    let found = find(inputs)?;
    let mut d = Discovery {
        skipped: found.skipped,
        unreadable: found.unreadable,
        ..Discovery::default()
    };
    for mut job in found.jobs {
        if let Some(s) = shard
            && !s.takes(&job.relative)
        {
            d.skipped.push(Skipped {
                path: job.input,
                reason: Reason::OtherShard {
                    shard: Shard::of(&job.relative, s.n),
                    of: s.n,
                },
                relative: job.relative,
            });
            continue;
        }
        job.output = outdir.join(&job.relative);
        if let Some(options) = resume
            && Record::read(outdir, &job.relative)
                .is_some_and(|r| r.covers(&job, |r| options(&job, r)))
        {
            d.skipped.push(Skipped {
                path: job.input,
                reason: Reason::UpToDate,
                relative: job.relative,
            });
            continue;
        }
        d.jobs.push(job);
    }
    Ok(d)
}

/// The archives under `inputs` (files, or folders walked recursively), without outputs: names ending in `.mbz`
/// whose first bytes are gzip or zip; other names are skipped with the reason, and a `.mbz` that is neither
/// gzip nor zip is unreadable (a failure).
///
/// # Errors
/// [`archive::Error::Read`] (as [`Error::Archive`]) when an input cannot be listed.
pub fn find(inputs: &[PathBuf]) -> Result<Discovery> {
    let mut found: Vec<(PathBuf, String)> = Vec::new();
    let mut d = Discovery::default();
    for input in inputs {
        let meta = fs::metadata(input).map_err(|source| archive::Error::Read {
            path: input.clone(),
            source,
        })?;
        if meta.is_dir() {
            // Links are followed (a folder of links to the backups is common); loops are reported by walkdir.
            for entry in walkdir::WalkDir::new(input)
                .follow_links(true)
                .sort_by_file_name()
            {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        let path = e.path().map_or_else(|| input.clone(), Path::to_path_buf);
                        d.unreadable.push(Skipped {
                            relative: path.display().to_string(),
                            path,
                            reason: Reason::Unreadable(format!("cannot read: {e}")),
                        });
                        continue;
                    }
                };
                if !entry.file_type().is_file() {
                    continue;
                }
                let rel = entry
                    .path()
                    .strip_prefix(input)
                    .unwrap_or(entry.path())
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                found.push((entry.path().to_path_buf(), rel));
            }
        } else {
            let name = input
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            found.push((input.clone(), name));
        }
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
    let mut seen = std::collections::HashSet::new();
    for (path, rel) in found {
        if !rel.ends_with(".mbz") {
            d.skipped.push(Skipped {
                path,
                relative: rel,
                reason: Reason::NotMbz,
            });
            continue;
        }
        // A file named *.mbz that is not an archive is a backup that failed to arrive (empty, truncated to
        // nothing, an error page saved under its name): a failure, never a skip.
        if let Err(e) = archive::detect(&path) {
            d.unreadable.push(Skipped {
                path,
                relative: rel,
                reason: Reason::Unreadable(
                    e.to_string()
                        + &std::error::Error::source(&e)
                            .map(|s| format!(": {s}"))
                            .unwrap_or_default(),
                ),
            });
            continue;
        }
        if !seen.insert(rel.clone()) {
            d.skipped.push(Skipped {
                path,
                reason: Reason::SameOutput(rel.clone()),
                relative: rel,
            });
            continue;
        }
        let bytes = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        d.jobs.push(Job {
            input: path,
            relative: rel,
            output: PathBuf::new(),
            bytes,
        });
    }
    Ok(d)
}

fn canonical_or_planned(p: &Path) -> PathBuf {
    if let Ok(c) = fs::canonicalize(p) {
        return c;
    }
    // Not created yet: canonicalise the nearest existing ancestor.
    let mut rest = Vec::new();
    let mut cur = p.to_path_buf();
    loop {
        if let Ok(c) = fs::canonicalize(&cur) {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return out;
        }
        match (cur.file_name().map(|n| n.to_os_string()), cur.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                cur = if parent.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    parent.to_path_buf()
                };
            }
            _ => return p.to_path_buf(),
        }
    }
}

/// Runs `work` on every job, `threads` at a time, each isolated: an error is that job's result only. Jobs
/// not started when `cancel` is set get [`Error::Cancelled`]. `done` is called as each job finishes. With
/// `create_dirs`, each output's folder is created first.
pub fn run<T: Send>(
    jobs: &[Job],
    threads: usize,
    create_dirs: bool,
    cancel: &Cancel,
    work: impl Fn(&Job) -> Result<T> + Sync + Send,
    done: impl Fn(&Job, &Result<T>, Duration) + Sync + Send,
) -> Vec<(Result<T>, Duration)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build();
    let each = |job: &Job| {
        let started = Instant::now();
        let result = if cancel.is_set() {
            Err(Error::Cancelled)
        } else {
            if create_dirs
                && let Some(parent) = job.output.parent()
                && !parent.is_dir()
            {
                let _ = fs::create_dir_all(parent);
            }
            work(job)
        };
        let took = started.elapsed();
        done(job, &result, took);
        (result, took)
    };
    match pool {
        Ok(pool) => pool.install(|| jobs.par_iter().map(each).collect()),
        Err(_) => jobs.iter().map(each).collect(),
    }
}

/// One row of a map of courses to end dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRow {
    /// Course shortname, idnumber, or a file-name glob (`*`, `?`).
    pub course: String,
    /// The date, as given (parsed by the caller).
    pub until: String,
}

/// A map of courses to end dates (a CSV file): columns `course` and `until`; the first matching row wins.
#[derive(Debug, Clone, Default)]
pub struct UntilMap {
    /// Rows in file order.
    pub rows: Vec<MapRow>,
}

impl UntilMap {
    /// Reads the CSV (header `course,until`, any column order, extra columns ignored).
    ///
    /// # Errors
    /// [`UntilMapError`] naming the file and, for a bad row, its line.
    pub fn read(path: &Path) -> Result<Self, UntilMapError> {
        let fail = |line: Option<usize>, reason: String| UntilMapError {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let mut r = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(true)
            .from_path(path)
            .map_err(|e| fail(None, e.to_string()))?;
        let headers = r.headers().map_err(|e| fail(None, e.to_string()))?.clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    fail(
                        None,
                        format!("no `{name}` column (expected a header line `course,until`)"),
                    )
                })
        };
        let (c, u) = (col("course")?, col("until")?);
        let mut rows = Vec::new();
        for (i, rec) in r.records().enumerate() {
            let rec = rec.map_err(|e| fail(None, e.to_string()))?;
            let (Some(course), Some(until)) = (rec.get(c), rec.get(u)) else {
                return Err(fail(Some(i + 2), "missing course or until".into()));
            };
            if course.is_empty() && until.is_empty() {
                continue;
            }
            rows.push(MapRow {
                course: course.to_owned(),
                until: until.to_owned(),
            });
        }
        Ok(UntilMap { rows })
    }

    /// The first row matching the course's shortname or idnumber exactly, or whose glob matches the archive's
    /// file name or relative path.
    pub fn find(
        &self,
        shortname: Option<&str>,
        idnumber: Option<&str>,
        relative: &str,
    ) -> Option<&MapRow> {
        self.position(shortname, idnumber, relative)
            .map(|i| &self.rows[i])
    }

    /// The index of the row [`UntilMap::find`] returns.
    pub fn position(
        &self,
        shortname: Option<&str>,
        idnumber: Option<&str>,
        relative: &str,
    ) -> Option<usize> {
        let file = relative.rsplit('/').next().unwrap_or(relative);
        self.rows.iter().position(|r| {
            Some(r.course.as_str()) == shortname
                || Some(r.course.as_str()) == idnumber
                || glob(&r.course, file)
                || glob(&r.course, relative)
        })
    }
}

/// Shell-style match of `text` against `pattern` with `*` (any run) and `?` (one character).
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_and_are_stable() {
        let names: Vec<String> = (0..200)
            .map(|i| format!("faculty/course_{i}.mbz"))
            .collect();
        let n = 3;
        let mut counts = [0; 3];
        for name in &names {
            let k = Shard::of(name, n);
            assert!((1..=n).contains(&k));
            counts[(k - 1) as usize] += 1;
            let taken: Vec<u64> = (1..=n).filter(|k| Shard { k: *k, n }.takes(name)).collect();
            assert_eq!(taken, [k]);
        }
        assert!(counts.iter().all(|&c| c > 40), "{counts:?}");
        // A fixed value: the hash must never change between versions or machines.
        assert_eq!(
            Shard::of("batch_01.mbz", 1000),
            Shard::of("batch_01.mbz", 1000)
        );
        assert_eq!(Shard::of("a", 7), (0xaf63dc4c8601ec8c_u64 % 7) + 1);
    }

    #[test]
    fn shard_parsing() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { k: 2, n: 4 });
        for bad in ["0/4", "5/4", "1/0", "x/2", "3", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob("*.mbz", "a.mbz"));
        assert!(glob("batch_0?.mbz", "batch_07.mbz"));
        assert!(!glob("batch_0?.mbz", "batch_10.mbz"));
        assert!(glob("L3-*", "L3-MATH"));
        assert!(!glob("L3-*", "M1-MATH"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
    }

    #[test]
    fn until_map_first_match_wins() {
        let map = UntilMap {
            rows: vec![
                MapRow {
                    course: "MATH101".into(),
                    until: "2027-06-30".into(),
                },
                MapRow {
                    course: "batch_0*".into(),
                    until: "2027-07-31".into(),
                },
                MapRow {
                    course: "*".into(),
                    until: "2027-08-31".into(),
                },
            ],
        };
        assert_eq!(
            map.find(Some("MATH101"), None, "x/batch_01.mbz")
                .unwrap()
                .until,
            "2027-06-30"
        );
        assert_eq!(
            map.find(None, Some("MATH101"), "y.mbz").unwrap().until,
            "2027-06-30"
        );
        assert_eq!(
            map.find(Some("X"), None, "x/batch_01.mbz").unwrap().until,
            "2027-07-31"
        );
        assert_eq!(
            map.find(Some("X"), None, "other.mbz").unwrap().until,
            "2027-08-31"
        );
    }
}
