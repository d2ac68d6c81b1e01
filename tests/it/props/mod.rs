//! Property tests (issue 8): the span editor, and conversion of generated enrolment sets, both on the
//! documents and on whole archives. Public API only; documents are built in Moodle's exact layout (the shared
//! builders of `mbz_enrol::testkit`) and read back with a small text reader written here, not the crate's.
//!
//! Failure persistence is off (no `proptest-regressions/` in the source tree): a failure prints its shrunk case,
//! which belongs in a named regression test.
//!
//! By topic: the span editor and scanner (`splice`), generated enrolment sets (`generated`, read back with `read`),
//! access never grows (`access`), generated archives (`archives`), every legal XML spelling (`spelling`).

mod access;
mod archives;
mod generated;
mod read;
mod spelling;
mod splice;

use access::*;
use archives::*;
use generated::*;
use read::*;
pub(crate) use spelling::quote_singly;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mbz_enrol::enrol::Conversion;
use mbz_enrol::enrol::convert::{Docs, Options, convert};
use mbz_enrol::testkit::{self, NUL};
use mbz_enrol::xml::{Edit, splice};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use proptest::test_runner::TestCaseError;

use crate::util::{self, RawMember, raw_members, tempdir, write_indexed};

/// A config with `cases` cases and no regression files.
fn config(cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::with_cases(cases);
    c.failure_persistence = None;
    c
}
