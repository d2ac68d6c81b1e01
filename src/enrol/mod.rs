//! Moodle's enrolment rules on backup XML: where the members and fields are ([`members`]), the model
//! ([`model`]), conversion of synced methods into manual enrolments ([`convert`](mod@convert)), renewal of
//! manual ones ([`renew`]), merging enrolments ([`merge`]), what Moodle's restore stores in each target course
//! ([`restore`]) and the summary that `inspect` shows ([`summary`]).

pub mod convert;
mod error;
pub mod members;
pub mod merge;
pub mod model;
pub mod renew;
pub mod restore;
pub mod summary;
pub mod warning;

pub use convert::{
    Conversion, Options, OwnedDocs, Report, convert, convert_owned, convert_owned_with,
};
pub use error::EnrolError;
pub use members::Docs;
pub use model::Values;
pub use restore::Limit;
pub use warning::{Setting, Warning};
