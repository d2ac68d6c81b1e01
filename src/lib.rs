//! mbz-enrol: rewrite enrolments inside Moodle course backups (`.mbz`), offline.
//!
//! The flow is the same for every command: [`archive`] detects the container and reads the few XML members
//! that matter, [`enrol`] applies Moodle's rules and computes byte-span edits, [`xml`] splices them into the
//! original bytes, and [`archive`] writes a restorable archive where every other member is copied unchanged.
//!
//! ```no_run
//! use mbz_enrol::{ConvertOptions, convert_file};
//! let opts = ConvertOptions {
//!     from: vec!["database".into(), "cohort".into()],
//!     stamp_roles: vec!["student".into()],
//!     until: 1_819_749_600,
//!     ..Default::default()
//! };
//! let outcome = convert_file("in.mbz".as_ref(), Some("out.mbz".as_ref()), &opts)?;
//! println!("{} users converted", outcome.report.totals.users_converted);
//! # Ok::<(), mbz_enrol::Error>(())
//! ```
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod apply;
pub mod archive;
pub mod backup;
pub mod batch;
pub mod enrol;
pub mod error;
mod fast_hash;
pub mod job;
pub mod plan;
pub mod report;
#[doc(hidden)]
pub mod testkit;
pub mod time;
pub mod verify;
pub mod xml;

pub use enrol::convert::Options as ConvertOptions;
pub use error::{Error, Result};
pub use job::{
    ConvertOutcome, Course, Inspection, RenewOutcome, convert_file, inspect_file, renew_file,
};
