//! Hostile and broken archives (issue 8): a bad-input corpus generated here, in a temp dir, from the shipped
//! fixtures (no binary file is committed). Every case runs `convert` (and `inspect`/`verify` where they say
//! something) and checks: the exit code, a message naming the archive and the member, no "panicked", nothing
//! left in the output folder on failure (no output, no `.*.tmp`), the input unchanged byte for byte, and
//! nothing created anywhere in the temp dir but the output.
//!
//! The harness is here; the corpus builders in `builders`, the cases by topic in the other files
//! (`scripts/bad-corpus.sh` reads each test's doc comment from these files).

mod base256;
pub(crate) mod builders;
mod containers;
mod names;
mod output;
mod sizes;
mod xml;
mod zip_records;

use builders::*;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::{
    self, RawMember, index_for, listing, raw_members, run, tempdir, ustar, write_tgz,
};

const UNTIL: &str = "2027-08-31";
const FROM: &str = "cohort,database";
const ENROL: &str = "course/enrolments.xml";
const INDEX: &str = ".ARCHIVE_INDEX";

fn fixture(name: &str) -> PathBuf {
    util::root().join("fixtures").join(name)
}

// ---------------------------------------------------------------------------------------------------------
// The harness: one temp dir per case, `in/` holds the input and `out/` is the output folder.

struct Case {
    dir: tempfile::TempDir,
    input: PathBuf,
    before: Vec<u8>,
}

impl Case {
    /// A case whose input is `bytes`, saved as `in/<name>`.
    fn new(name: &str, bytes: &[u8]) -> Case {
        Case::with(name, |p| std::fs::write(p, bytes).unwrap())
    }

    /// A case whose input `make` writes (for inputs too large to hold in memory).
    fn with(name: &str, make: impl FnOnce(&Path)) -> Case {
        let dir = tempdir();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        let input = dir.path().join("in").join(name);
        make(&input);
        let before = std::fs::read(&input).unwrap();
        save_to_corpus(name, &before);
        Case { dir, input, before }
    }

    /// A tar.gz case from members (the `.ARCHIVE_INDEX` recomputed when present).
    fn tgz(name: &str, mut members: Vec<RawMember>) -> Case {
        reindex(&mut members);
        Case::with(name, |p| write_tgz(p, &members))
    }

    fn name(&self) -> String {
        self.input
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    fn out_dir(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn out(&self) -> PathBuf {
        self.out_dir().join("out.mbz")
    }

    /// Every path under the temp dir, relative.
    fn tree(&self) -> BTreeSet<PathBuf> {
        let mut out = BTreeSet::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() && !p.is_symlink() {
                    stack.push(p.clone());
                }
                out.insert(p.strip_prefix(self.dir.path()).unwrap().to_path_buf());
            }
        }
        out
    }

    /// Runs the binary; checks no panic, the input unchanged, and that nothing but the output appeared.
    fn run(&self, args: &[&str]) -> Output {
        let before = self.tree();
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            std::fs::read(&self.input).unwrap() == self.before,
            "{args:?} modified the input"
        );
        let out_rel = self
            .out()
            .strip_prefix(self.dir.path())
            .unwrap()
            .to_path_buf();
        let new: Vec<PathBuf> = self
            .tree()
            .difference(&before)
            .filter(|p| **p != out_rel)
            .cloned()
            .collect();
        assert!(new.is_empty(), "{args:?} created {new:?}");
        o
    }

    fn convert(&self) -> Output {
        self.run(&[
            "convert",
            self.input.to_str().unwrap(),
            "-o",
            self.out().to_str().unwrap(),
            "--until",
            UNTIL,
            "--from",
            FROM,
        ])
    }

    /// `convert` exits 2 naming the archive and every needle, and leaves the output folder empty.
    fn convert_fails(&self, needles: &[&str]) -> String {
        let o = self.convert();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "convert {}: {err}", self.name());
        self.names(&err, needles);
        assert!(
            listing(&self.out_dir()).is_empty(),
            "convert {} left {:?}",
            self.name(),
            listing(&self.out_dir())
        );
        err
    }

    /// `convert` exits 0 and leaves exactly the output in the output folder (no temp file).
    fn convert_ok(&self) -> String {
        let o = self.convert();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "convert {}: {err}", self.name());
        assert_eq!(listing(&self.out_dir()), ["out.mbz"], "{}", self.name());
        err
    }

    /// `COMMAND INPUT ARGS… -o OUT --until …` exits 2 naming the archive and every needle, and leaves nothing.
    fn command_fails(&self, command: &str, args: &[&str], needles: &[&str]) {
        let (input, out) = (self.input.to_str().unwrap(), self.out());
        let mut all = vec![
            command,
            input,
            "-o",
            out.to_str().unwrap(),
            "--until",
            UNTIL,
        ];
        all.extend(args);
        let o = self.run(&all);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{command} {}: {err}", self.name());
        self.names(&err, needles);
        assert!(
            listing(&self.out_dir()).is_empty(),
            "{command} {} left output",
            self.name()
        );
    }

    /// `plan` exits 2 naming the archive and every needle, and writes no plan.
    fn plan_fails(&self, needles: &[&str]) {
        self.command_fails("plan", &["--format", "json"], needles);
    }

    fn inspect(&self) -> Output {
        self.run(&["inspect", self.input.to_str().unwrap()])
    }

    fn inspect_fails(&self, needles: &[&str]) {
        let o = self.inspect();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "inspect {}: {err}", self.name());
        self.names(&err, needles);
    }

    fn inspect_ok(&self) -> String {
        let o = self.inspect();
        assert_eq!(
            o.status.code(),
            Some(0),
            "inspect {}: {}",
            self.name(),
            stderr(&o)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `inspect` exits 0 and warns about `member`, saying the writing commands refuse the archive.
    fn inspect_warns(&self, member: &str) {
        let out = self.inspect_ok();
        assert!(
            out.lines()
                .any(|l| l.contains(&format!("`{member}`")) && l.contains("refuse")),
            "inspect {}: no warning about `{member}`: {out}",
            self.name()
        );
    }

    /// `verify --json`: exit code, failed check names, stderr.
    fn verify(&self) -> (i32, Vec<String>, String) {
        let o = self.run(&["verify", self.input.to_str().unwrap(), "--json"]);
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
        let failed = v["checks"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter(|c| c["passed"] == false)
                    .map(|c| c["name"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        (o.status.code().unwrap_or(-1), failed, stderr(&o))
    }

    /// `verify` passes (exit 0) with warnings from at least these checks: restore skips or misreports.
    fn verify_warns(&self, checks: &[&str]) {
        let o = self.run(&["verify", self.input.to_str().unwrap(), "--json"]);
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
        assert_eq!(o.status.code(), Some(0), "verify {}: {v:#}", self.name());
        for c in checks {
            assert!(
                v["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["name"] == *c && x["severity"] == "warning"),
                "verify {}: `{c}` did not warn: {v:#}",
                self.name()
            );
        }
    }

    /// `verify` reads the archive and fails (exit 1) with at least these checks.
    fn verify_fails(&self, checks: &[&str]) {
        let (code, failed, err) = self.verify();
        assert_eq!(code, 1, "verify {}: {failed:?} {err}", self.name());
        for c in checks {
            assert!(
                failed.iter().any(|f| f == c),
                "verify {}: `{c}` not among failed {failed:?}",
                self.name()
            );
        }
    }

    /// `verify` cannot read the archive at all: exit 2 naming it.
    fn verify_unreadable(&self, needles: &[&str]) {
        let (code, failed, err) = self.verify();
        assert_eq!(code, 2, "verify {}: {failed:?} {err}", self.name());
        self.names(&err, needles);
    }

    /// Every command that reads the archive refuses it alike, naming the archive and every needle: `convert`,
    /// `renew`, `plan` and `inspect` exit 2 leaving nothing; `batch` lists it as failed (exit 1) and writes no
    /// output for it.
    fn refused_everywhere(&self, needles: &[&str]) {
        self.convert_fails(needles);
        self.command_fails("renew", &[], needles);
        self.plan_fails(needles);
        self.inspect_fails(needles);
        let batch_out = tempdir();
        let o = run(&[
            "batch",
            self.input.to_str().unwrap(),
            "-o",
            batch_out.path().to_str().unwrap(),
            "--until",
            UNTIL,
        ]);
        let said = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert_eq!(o.status.code(), Some(1), "batch: {said}");
        assert!(said.contains("FAILED"), "batch: {said}");
        self.names(&said, needles);
        assert!(
            !listing(batch_out.path())
                .iter()
                .any(|n| n.ends_with(".mbz")),
            "batch left an output: {:?}",
            listing(batch_out.path())
        );
    }

    /// The message names the archive and every needle.
    fn names(&self, err: &str, needles: &[&str]) {
        assert!(
            err.contains(&self.name()),
            "message does not name the archive `{}`: {err}",
            self.name()
        );
        for n in needles {
            assert!(err.contains(n), "expected `{n}` in: {err}");
        }
    }
}

/// With `MBZ_BAD_CORPUS=DIR` (scripts/bad-corpus.sh), every case's input is also saved there, and its test's
/// name appended to `DIR/.cases` (the script turns those into the corpus index with each test's description).
fn save_to_corpus(name: &str, bytes: &[u8]) {
    let Some(dir) = std::env::var_os("MBZ_BAD_CORPUS") else {
        return;
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let mut cases = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(".cases"))
        .unwrap();
    writeln!(cases, "{name}\t{test}").unwrap();
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
