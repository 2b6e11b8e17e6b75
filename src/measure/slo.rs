//! `--slo`: objectives a trustworthy run is held to, each `METRIC OP VALUE` (`p99<=2ms`,
//! `loss<0.1%`, `rate>=99%`, `throughput>100MB/s`), and what a run made of each. A run that
//! cannot be trusted fails whatever its objectives say; one that can is judged by them.

use std::fmt;

use super::report::{LatencyMs, Report};

/// What an objective is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// A latency figure (the corrected one in open-loop runs), in milliseconds.
    Latency(Figure),
    /// Lost as a share of sent, in percent.
    Loss,
    /// Late as a share of sent, in percent.
    Late,
    /// RFC 3550 jitter, in milliseconds.
    Jitter,
    /// Echoed as a share of asked, in percent (open loop).
    Rate,
    /// Megabytes (10^6 bytes) a second (a stream).
    Throughput,
}

/// Which latency figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    P50,
    P90,
    P99,
    P999,
    P9999,
    Max,
    Mean,
}

/// How a value compares with an objective's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// One objective: `metric op value`, the value in the metric's own unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    pub metric: Metric,
    pub op: Op,
    pub value: f64,
    /// As the user wrote it, without spaces (`p99<=2ms`).
    pub text: String,
}

/// What a run made of an objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub objective: Objective,
    /// What was measured, in the metric's unit; `None` when the run measured none (no round
    /// trip), which misses every objective.
    pub value: Option<f64>,
    pub met: bool,
}

/// The metrics' names, as objectives write them, in the order errors list them.
const NAMES: [(&str, Metric); 13] = [
    ("p50", Metric::Latency(Figure::P50)),
    ("p90", Metric::Latency(Figure::P90)),
    ("p99", Metric::Latency(Figure::P99)),
    ("p99.9", Metric::Latency(Figure::P999)),
    ("p99.99", Metric::Latency(Figure::P9999)),
    ("max", Metric::Latency(Figure::Max)),
    ("mean", Metric::Latency(Figure::Mean)),
    ("loss", Metric::Loss),
    ("late", Metric::Late),
    ("jitter", Metric::Jitter),
    ("rate", Metric::Rate),
    ("throughput", Metric::Throughput),
    ("p999", Metric::Latency(Figure::P999)),
];

impl Metric {
    /// The metric's name in an objective.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, metric)| *metric == self)
            .map_or("?", |(name, _)| name)
    }

    /// The unit its values are given and shown in.
    fn unit(self) -> &'static str {
        match self {
            Metric::Latency(_) | Metric::Jitter => "ms",
            Metric::Loss | Metric::Late | Metric::Rate => "%",
            Metric::Throughput => "MB/s",
        }
    }
}

/// Reads `text`: objectives separated by commas. The error says which one, and why.
pub fn parse(text: &str) -> Result<Vec<Objective>, String> {
    let objectives: Vec<Objective> = text
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(parse_one)
        .collect::<Result<_, _>>()?;
    match objectives.is_empty() {
        true => Err(format!(
            "'{text}' has no objective (e.g. p99<=2ms,loss<0.1%)"
        )),
        false => Ok(objectives),
    }
}

fn parse_one(text: &str) -> Result<Objective, String> {
    let text: String = text.split_whitespace().collect();
    let at = text
        .find(['<', '>'])
        .ok_or_else(|| format!("'{text}': no comparison (<, <=, > or >=), as in p99<=2ms"))?;
    let (name, rest) = text.split_at(at);
    let (op, value) = match rest.as_bytes() {
        [b'<', b'=', ..] => (Op::LessOrEqual, &rest[2..]),
        [b'>', b'=', ..] => (Op::GreaterOrEqual, &rest[2..]),
        [b'<', ..] => (Op::Less, &rest[1..]),
        _ => (Op::Greater, &rest[1..]),
    };
    let metric = NAMES
        .iter()
        .find(|(known, _)| *known == name.to_ascii_lowercase())
        .map(|(_, metric)| *metric)
        .ok_or_else(|| {
            let known: Vec<&str> = NAMES[..12].iter().map(|(name, _)| *name).collect();
            format!("'{text}': '{name}' is not a metric ({})", known.join(", "))
        })?;
    let value = value_in(metric, value).map_err(|why| format!("'{text}': {why}"))?;
    Ok(Objective {
        metric,
        op,
        value,
        text,
    })
}

/// `value` with its unit, in `metric`'s unit: `2ms`, `500us`, `1.5s`; `0.1%`; `100MB/s`.
fn value_in(metric: Metric, value: &str) -> Result<f64, String> {
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| format!("'{value}' is not a number with a unit"))?;
    let scale = match (metric.unit(), unit) {
        ("ms", "ms") => 1.0,
        ("ms", "us" | "µs") => 1e-3,
        ("ms", "s") => 1e3,
        ("%", "%") => 1.0,
        ("MB/s", "MB/s") => 1.0,
        ("MB/s", "kB/s") => 1e-3,
        ("MB/s", "GB/s") => 1e3,
        (wanted, _) => {
            let units = match wanted {
                "ms" => "ms, us or s",
                "%" => "%",
                _ => "kB/s, MB/s or GB/s",
            };
            return Err(format!("{} takes a value in {units}", metric.name()));
        }
    };
    Ok(number * scale)
}

/// The metrics `report_mode` measures (a report's `mode`), which its objectives may name.
pub fn measured_by(report_mode: &str) -> Vec<Metric> {
    use Figure::*;
    let latency = [P50, P90, P99, P999, Max, Mean].map(Metric::Latency);
    let mut metrics: Vec<Metric> = match report_mode {
        // A merge does not know its mode before it reads its files: every metric, then.
        "merge" => return NAMES[..12].iter().map(|(_, metric)| *metric).collect(),
        "stream" => Vec::new(),
        _ => latency.to_vec(),
    };
    match report_mode {
        "ping" | "connect" => metrics.push(Metric::Loss),
        "udp-ping" => metrics.extend([Metric::Loss, Metric::Late, Metric::Jitter]),
        "rate" => metrics.extend([Metric::Latency(P9999), Metric::Rate]),
        "udp-rate" => metrics.extend([
            Metric::Latency(P9999),
            Metric::Rate,
            Metric::Loss,
            Metric::Late,
        ]),
        "stream" => metrics.push(Metric::Throughput),
        _ => {}
    }
    metrics
}

/// Checks that `objectives` name only metrics `mode` measures; the error says which does not,
/// and lists those it does.
pub fn check(objectives: &[Objective], mode: &str, said_as: &str) -> Result<(), String> {
    let measured = measured_by(mode);
    for objective in objectives {
        if !measured.contains(&objective.metric) {
            let names: Vec<&str> = measured.iter().map(|metric| metric.name()).collect();
            return Err(format!(
                "'{}': {said_as} does not measure {}; it measures {}",
                objective.text,
                objective.metric.name(),
                names.join(", ")
            ));
        }
    }
    Ok(())
}

/// Whether `objectives` judge `metric` themselves (then it fails no run).
pub fn judges(objectives: &[Objective], metric: Metric) -> bool {
    objectives
        .iter()
        .any(|objective| objective.metric == metric)
}

/// What `report` made of each of `objectives`.
pub fn judge(objectives: &[Objective], report: &Report) -> Vec<Judged> {
    objectives
        .iter()
        .map(|objective| {
            let value = value_of(objective.metric, report);
            let met = value.is_some_and(|value| match objective.op {
                Op::Less => value < objective.value,
                Op::LessOrEqual => value <= objective.value,
                Op::Greater => value > objective.value,
                Op::GreaterOrEqual => value >= objective.value,
            });
            Judged {
                objective: objective.clone(),
                value,
                met,
            }
        })
        .collect()
}

/// What `report` measured of `metric`, in the metric's unit.
fn value_of(metric: Metric, report: &Report) -> Option<f64> {
    let share = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64 * 100.0);
    match (metric, report) {
        (Metric::Latency(figure), report) => figure_of(figure, latency_of(report)?),
        (Metric::Loss, Report::Ping(r)) => share(r.lost, r.sent),
        (Metric::Loss, Report::Connect(r)) => share(r.failed, r.sent),
        (Metric::Loss, Report::UdpPing(r)) => share(r.lost, r.sent),
        (Metric::Loss, Report::UdpRate(r)) => share(r.counts.lost, r.counts.sent),
        (Metric::Late, Report::UdpPing(r)) => share(r.late, r.sent),
        (Metric::Late, Report::UdpRate(r)) => share(r.counts.late, r.counts.sent),
        (Metric::Jitter, Report::UdpPing(r)) => r.jitter_ms,
        (Metric::Rate, Report::Rate(r)) => Some(r.echoed_rate / r.asked_rate * 100.0),
        (Metric::Rate, Report::UdpRate(r)) => Some(r.echoed_rate / r.asked_rate * 100.0),
        (Metric::Throughput, Report::Stream(r)) => Some(r.mb_per_sec),
        _ => None,
    }
}

/// The run's latency (in open loop, the corrected one).
fn latency_of(report: &Report) -> Option<&LatencyMs> {
    match report {
        Report::Ping(r) => r.latency_ms.as_ref(),
        Report::UdpPing(r) => r.latency_ms.as_ref(),
        Report::Connect(r) => r.latency_ms.as_ref(),
        Report::PingPong(r) => r.latency_ms.as_ref(),
        Report::Rate(r) => r.latency_ms.as_ref(),
        Report::UdpRate(r) => r.latency_ms.as_ref(),
        Report::Intervals(r) => r.latency_ms.as_ref(),
        Report::Stream(_) => None,
    }
}

fn figure_of(figure: Figure, latency: &LatencyMs) -> Option<f64> {
    Some(match figure {
        Figure::P50 => latency.p50,
        Figure::P90 => latency.p90,
        Figure::P99 => latency.p99,
        Figure::P999 => latency.p999,
        Figure::P9999 => latency.p9999?,
        Figure::Max => latency.max,
        Figure::Mean => latency.mean,
    })
}

impl fmt::Display for Judged {
    /// `slo p99<=2ms: 1.873 ms, met`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = self.objective.metric.unit();
        let verdict = if self.met { "met" } else { "missed" };
        match self.value {
            Some(value) if unit == "%" => {
                write!(f, "slo {}: {value:.3}%, {verdict}", self.objective.text)
            }
            Some(value) => write!(
                f,
                "slo {}: {value:.3} {unit}, {verdict}",
                self.objective.text
            ),
            None => write!(f, "slo {}: not measured, {verdict}", self.objective.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_read_with_their_units() {
        let read =
            parse("p99<=2ms, loss<0.1%,p99.9 < 500us,rate>=99%,throughput>1GB/s,max<1.5s").unwrap();
        assert_eq!(read.len(), 6);
        assert_eq!(
            (read[0].metric, read[0].op, read[0].value),
            (Metric::Latency(Figure::P99), Op::LessOrEqual, 2.0)
        );
        assert_eq!(read[1].text, "loss<0.1%");
        assert_eq!((read[2].op, read[2].value), (Op::Less, 0.5));
        assert_eq!(read[2].text, "p99.9<500us");
        assert_eq!((read[3].op, read[3].value), (Op::GreaterOrEqual, 99.0));
        assert_eq!(read[4].value, 1000.0);
        assert_eq!(read[5].value, 1500.0);
    }

    #[test]
    fn an_objective_that_does_not_read_says_why() {
        let why = |text: &str| parse(text).unwrap_err();
        assert!(why("p99=2ms").contains("no comparison"));
        assert!(why("p98<2ms").contains("'p98' is not a metric (p50, p90, p99"));
        assert!(why("p99<2").contains("p99 takes a value in ms, us or s"));
        assert!(why("loss<2ms").contains("loss takes a value in %"));
        assert!(why("p99<fast").contains("is not a number"));
        assert!(why(",").contains("has no objective"));
        assert!(why("p99<infms").contains("is not a number"));
    }

    #[test]
    fn a_mode_is_held_only_to_what_it_measures() {
        let objectives = parse("throughput>1MB/s").unwrap();
        let err = check(&objectives, "ping-pong", "bench").unwrap_err();
        assert!(
            err.contains(
                "bench does not measure throughput; it measures p50, p90, p99, p99.9, max, mean"
            ),
            "{err}"
        );
        assert!(check(&parse("jitter<1ms,late<1%").unwrap(), "udp-ping", "ping -u").is_ok());
        assert!(check(&parse("p99.99<1ms").unwrap(), "ping", "ping").is_err());
    }
}
