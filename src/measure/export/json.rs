//! `--json`: a report as one JSON object on one line, named like the result types' fields.

use serde::Serialize;

/// `report` as one line of JSON.
pub fn to_line(report: &impl Serialize) -> anyhow::Result<String> {
    serde_json::to_string(report)
        .map_err(|err| anyhow::anyhow!("could not encode the report: {err}"))
}
