//! mbz-enrol: rewrite enrolments inside Moodle course backups (`.mbz`), offline.
pub mod archive;
pub mod time;
pub mod xml;
