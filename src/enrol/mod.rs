//! Moodle's enrolment rules on backup XML: the model ([`model`]), conversion of synced methods into manual
//! enrolments ([`convert`]) and the summary that `inspect` shows ([`summary`]).

pub mod convert;
pub mod model;
pub mod renew;
pub mod summary;

pub use convert::{Conversion, Options, Report, convert};
