//! Integration tests: one test binary (see style.md).
mod rules;
mod util;
