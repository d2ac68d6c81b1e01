//! Integration tests: one test binary (see style.md).
mod cli;
mod rules;
mod util;
