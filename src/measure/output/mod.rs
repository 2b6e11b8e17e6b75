//! Showing a measuring run to a person: the lines and reports as text, and the live progress
//! line. Nothing here measures; everything here reads what the workloads produced.

pub mod progress;
pub mod text;
