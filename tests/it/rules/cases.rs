//! Converting every fixture once (cached for all tests).

use std::path::Path;
use std::path::PathBuf;
use std::process::Output;
use std::sync::OnceLock;

use crate::util::mbz_files;
use crate::util::run;
use crate::util::shared;
use crate::util::truth_of;

use super::*;

// ---------------------------------------------------------------------------------------------
// Converting every fixture once
// ---------------------------------------------------------------------------------------------

pub(crate) struct Case {
    pub(crate) label: String,
    pub(crate) input: PathBuf,
    pub(crate) truth: PathBuf,
    pub(crate) out: PathBuf,
    /// Second conversion of the same input (with `--json`), for determinism.
    pub(crate) out2: PathBuf,
    /// Conversion of `out`, for idempotence.
    pub(crate) out3: PathBuf,
    pub(crate) run1: Output,
    pub(crate) run2: Output,
    pub(crate) run3: Option<Output>,
}

pub(crate) fn convert(input: &Path, out: &Path, json: bool) -> Output {
    let mut args = vec![
        "convert",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(CONVERT_OPTS);
    if json {
        args.push("--json");
    }
    run(&args)
}

pub(crate) fn work_dir() -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rules");
    let dir = base.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) fn cases() -> Option<&'static [Case]> {
    static CASES: OnceLock<Option<Vec<Case>>> = OnceLock::new();
    CASES
        .get_or_init(|| {
            let dir = shared("moodle43")?;
            let work = work_dir();
            let mut cases = Vec::new();
            for input in mbz_files(&dir) {
                let label = input
                    .strip_prefix(&dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let flat = label.replace('/', "_");
                let out = work.join(format!("1_{flat}"));
                let out2 = work.join(format!("2_{flat}"));
                let out3 = work.join(format!("3_{flat}"));
                let run1 = convert(&input, &out, false);
                let run2 = convert(&input, &out2, true);
                let run3 =
                    (run1.status.success() && out.exists()).then(|| convert(&out, &out3, false));
                cases.push(Case {
                    truth: truth_of(&input),
                    label,
                    input,
                    out,
                    out2,
                    out3,
                    run1,
                    run2,
                    run3,
                });
            }
            Some(cases)
        })
        .as_deref()
}

/// The converted archive of a case, or a failure explaining why there is none.
pub(crate) fn converted(c: &Case, fails: &mut Fails) -> Option<(Archive, Archive)> {
    if !c.run1.status.success() {
        fails.add(format!(
            "{}: convert exited with {:?}; stderr: {}",
            c.label,
            c.run1.status.code(),
            String::from_utf8_lossy(&c.run1.stderr).trim()
        ));
        return None;
    }
    let inp = match read_archive(&c.input) {
        Ok(a) => a,
        Err(e) => {
            fails.add(format!("{}: cannot read input: {e}", c.label));
            return None;
        }
    };
    match read_archive(&c.out) {
        Ok(a) => Some((inp, a)),
        Err(e) => {
            fails.add(format!(
                "{}: cannot read output {}: {e}",
                c.label,
                c.out.display()
            ));
            None
        }
    }
}
