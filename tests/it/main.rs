//! Integration tests: one test binary (see style.md).
mod cli;
mod real;
mod rules;
mod util;
mod verify;
