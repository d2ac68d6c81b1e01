//! The command line on the fixtures shipped in `fixtures/` (these run on a fresh clone too): exit codes,
//! messages, archive guarantees.
//!
//! By topic: outputs of convert and inspect (`outputs`), errors (`errors`), help, messages and snapshots
//! (`messages`), reading limits and output folders (`limits`), completions, man pages and --version (`shell`).

mod errors;
mod limits;
mod messages;
mod outputs;
mod shell;

use std::path::{Path, PathBuf};

use crate::util::{self, Entry, entries, listing, run, tar_headers, tempdir, zip_raw};

const UNTIL: &str = "2027-08-31";
const UNTIL_EPOCH: i64 = 1_819_749_600; // 2027-09-01T00:00:00+02:00
const REWRITABLE: &[&str] = &[
    "course/enrolments.xml",
    "course/roles.xml",
    "groups.xml",
    ".ARCHIVE_INDEX",
];

fn fixture(name: &str) -> PathBuf {
    util::root().join("fixtures").join(name)
}

fn convert(input: &Path, output: &Path, extra: &[&str]) -> std::process::Output {
    convert_with(input, output, extra, |c| c)
}

/// [`convert`] with the command set up further by `setup` (its standard streams, say).
fn convert_with(
    input: &Path,
    output: &Path,
    extra: &[&str],
    setup: impl FnOnce(&mut std::process::Command) -> &mut std::process::Command,
) -> std::process::Output {
    let mut args = vec![
        "convert",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--until",
        UNTIL,
        "--timezone",
        "Europe/Paris",
        "--from",
        "cohort,database,meta",
    ];
    args.extend_from_slice(extra);
    util::run_with(&args, setup)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn by_path(list: &[Entry]) -> std::collections::BTreeMap<&str, &Entry> {
    list.iter().map(|e| (e.path.as_str(), e)).collect()
}
