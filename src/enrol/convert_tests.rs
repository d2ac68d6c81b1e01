//! Unit tests of the conversion rules on small synthetic documents.
use super::*;
