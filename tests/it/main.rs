//! Integration tests: one test binary (see style.md).
mod util;
mod rules;
