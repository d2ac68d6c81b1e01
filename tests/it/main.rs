//! Integration tests: one test binary (see style.md).
mod batch;
mod cli;
mod real;
mod renew;
mod rules;
mod util;
mod verify;
