//! Independent checker of the conversion contract (`convert`, `inspect --json`), written from the
//! specification, the format notes and the fixtures' ground truth only (never from `src/`).
//!
//! Every archive under `../shared/fixtures/moodle43` is converted once (cached for all tests) with
//! `--until 2027-08-31 --timezone Europe/Paris --from cohort,database,meta`; each test then checks one
//! property over all archives and reports every failure as "archive: what (user, field): expected X,
//! got Y". Archives are read with our own readers (`tar` crate + `MultiGzDecoder`, `zip` crate) and the
//! XML with a tiny quick-xml tree builder that keeps byte spans, so untouched records can be compared
//! byte for byte.
//!
//! Split by topic: readers (`archive`, `xml`), the model and the rules (`model`, `expect`), the conversion of
//! every fixture (`cases`), the checks (`checks`, `archive`), and the tests (`fixtures`, `inspect`, `synthetic`,
//! `tampering`).

mod archive;
mod cases;
mod checks;
mod expect;
mod fixtures;
mod inspect;
mod model;
mod synthetic;
mod tampering;
mod xml;

use archive::*;
use cases::*;
use checks::*;
use expect::*;
use model::*;
use synthetic::*;
use xml::*;

/// `--until 2027-08-31` in Europe/Paris: the following local midnight, 2027-09-01T00:00:00+02:00
/// (CEST) = 1819749600. NOTE: the brief that specified this checker quoted 1788213600, which is
/// 2026-09-01T00:00:00+02:00, one year earlier; the date arithmetic below is the authority.
const UNTIL: i64 = days_from_civil(2027, 9, 1) * 86_400 - 2 * 3_600;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
const FROM: [&str; 3] = ["cohort", "database", "meta"];
const STAMP_ROLES: [&str; 1] = ["student"];
const NULL: &str = "$@NULL@$";
const INDEX: &str = ".ARCHIVE_INDEX";
const INDEX_PREFIX: &str = "Moodle archive file index. Count: ";
const ENROLMENTS: &str = "course/enrolments.xml";
const COURSE_ROLES: &str = "course/roles.xml";
const GROUPS: &str = "groups.xml";
const ROOT_ROLES: &str = "roles.xml";
/// The only members a conversion may rewrite (besides the tar index).
const REWRITABLE: [&str; 3] = [ENROLMENTS, COURSE_ROLES, GROUPS];
const CONVERT_OPTS: [&str; 6] = [
    "--until",
    "2027-08-31",
    "--timezone",
    "Europe/Paris",
    "--from",
    "cohort,database,meta",
];
const MAX_REPORTED: usize = 120;

// ---------------------------------------------------------------------------------------------
// Failure collection
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Fails(Vec<String>);

impl Fails {
    fn add(&mut self, msg: impl Into<String>) {
        self.0.push(msg.into());
    }

    fn finish(self, what: &str) {
        if self.0.is_empty() {
            return;
        }
        let n = self.0.len();
        let shown: Vec<&str> = self
            .0
            .iter()
            .take(MAX_REPORTED)
            .map(String::as_str)
            .collect();
        let more = if n > MAX_REPORTED {
            format!("\n  ... and {} more", n - MAX_REPORTED)
        } else {
            String::new()
        };
        panic!("{what}: {n} failure(s)\n  - {}{more}", shown.join("\n  - "));
    }
}
