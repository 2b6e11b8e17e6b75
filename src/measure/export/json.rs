//! `--json`: a report as one JSON object on one line, named like the result types' fields, with
//! a `"mode"` naming what was measured (`ping-pong`, `rate`, `stream`; `ping`, `connect`).

use serde::Serialize;

/// `report` as one line of JSON (bench's reports carry their mode already).
pub fn to_line(report: &impl Serialize) -> anyhow::Result<String> {
    serde_json::to_string(report)
        .map_err(|err| anyhow::anyhow!("could not encode the report: {err}"))
}

/// `report` as one line of JSON, with `"mode": mode` first.
pub fn to_line_as(mode: &str, report: &impl Serialize) -> anyhow::Result<String> {
    #[derive(Serialize)]
    struct Tagged<'a, R> {
        mode: &'a str,
        #[serde(flatten)]
        report: &'a R,
    }
    to_line(&Tagged { mode, report })
}
