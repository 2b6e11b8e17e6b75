//! Results in machine formats, one file per format.

pub mod json;
