//! Integration tests: one test binary (see style.md).
mod apply;
mod batch;
mod cli;
mod container_shapes;
mod fuzz_replay;
mod hostile;
mod live;
mod plan;
mod props;
mod real;
mod renew;
mod rules;
mod splice;
mod util;
mod verify;
mod verify_origin;
mod xml_shapes;
