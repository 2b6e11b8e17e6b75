//! Reading a JSON report back, for `soc_client merge`: the same keys `mod.rs` writes, each
//! checked, so that a file that is not a soc report is refused with the key that is missing or
//! wrong.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::net::SocketAddr;
use std::time::SystemTime;

use base64::Engine;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use serde_json::{Map, Value};

use crate::measure::path::{PathReport, PathSeen};
use crate::measure::report::{
    ConnectReport, DatagramCounts, ErrorCounts, Fairness, LatenessMs, Machine, PingPongReport,
    PingReport, RateReport, Report, StreamReport, UdpPingReport, UdpRateReport,
};

/// A run's report as read from its JSON.
#[derive(Debug)]
pub struct ReadReport {
    pub report: Report,
    /// Its latency histogram (none for a stream, or a run with no round trip).
    pub latency: Option<Histogram<u64>>,
    /// An open loop's uncorrected latency histogram.
    pub uncorrected: Option<Histogram<u64>>,
    pub started: SystemTime,
}

/// An object's keys, read one by one with errors that name the key.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Result<&'a Value, String> {
        self.0.get(key).ok_or_else(|| format!("no '{key}'"))
    }

    fn u64(&self, key: &str) -> Result<u64, String> {
        self.get(key)?
            .as_u64()
            .ok_or_else(|| format!("'{key}' is not a whole number"))
    }

    fn usize(&self, key: &str) -> Result<usize, String> {
        usize::try_from(self.u64(key)?).map_err(|_| format!("'{key}' is too large"))
    }

    fn f64(&self, key: &str) -> Result<f64, String> {
        self.get(key)?
            .as_f64()
            .ok_or_else(|| format!("'{key}' is not a number"))
    }

    fn optional_f64(&self, key: &str) -> Result<Option<f64>, String> {
        match self.get(key)? {
            Value::Null => Ok(None),
            value => value
                .as_f64()
                .map(Some)
                .ok_or_else(|| format!("'{key}' is not a number")),
        }
    }

    fn optional_u64(&self, key: &str) -> Result<Option<u64>, String> {
        match self.get(key)? {
            Value::Null => Ok(None),
            value => value
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("'{key}' is not a whole number")),
        }
    }

    fn string(&self, key: &str) -> Result<&'a str, String> {
        self.get(key)?
            .as_str()
            .ok_or_else(|| format!("'{key}' is not a string"))
    }

    fn addr(&self, key: &str) -> Result<SocketAddr, String> {
        let text = self.string(key)?;
        text.parse()
            .map_err(|_| format!("'{key}': '{text}' is not an address"))
    }

    fn object(&self, key: &str) -> Result<Fields<'a>, String> {
        self.get(key)?
            .as_object()
            .map(Fields)
            .ok_or_else(|| format!("'{key}' is not an object"))
    }
}

/// Reads `text`, one JSON report as `--json` writes it.
pub fn report(text: &str) -> Result<ReadReport, String> {
    let value: Value =
        serde_json::from_str(text.trim()).map_err(|err| format!("not JSON ({err})"))?;
    let fields = Fields(value.as_object().ok_or("not a JSON object")?);
    let mode = fields.string("mode")?;
    let started = humantime::parse_rfc3339(fields.string("started")?)
        .map_err(|err| format!("'started' is not an RFC 3339 time ({err})"))?;
    let report = match mode {
        "ping" => Report::Ping(ping(&fields)?),
        "udp-ping" => Report::UdpPing(udp_ping(&fields)?),
        "connect" => Report::Connect(connect(&fields)?),
        "ping-pong" => Report::PingPong(ping_pong(&fields)?),
        "rate" => Report::Rate(rate(&fields)?),
        "udp-rate" => Report::UdpRate(udp_rate(&fields)?),
        "stream" => Report::Stream(stream(&fields)?),
        other => return Err(format!("mode '{other}' is not one soc reports")),
    };
    let (latency, uncorrected) = match &report {
        Report::Stream(_) => (None, None),
        _ => {
            let histograms = fields.object("histograms").map_err(|err| {
                format!("{err}: written by a soc without histograms in its reports, it cannot be merged")
            })?;
            (
                histogram(&histograms, "latency")?,
                match histograms.get("uncorrected")? {
                    Value::Null => None,
                    _ => histogram(&histograms, "uncorrected")?,
                },
            )
        }
    };
    Ok(ReadReport {
        report,
        latency,
        uncorrected,
        started,
    })
}

/// A histogram in HdrHistogram's compressed base64 (empty: none).
fn histogram(fields: &Fields, key: &str) -> Result<Option<Histogram<u64>>, String> {
    let text = fields.string(key)?;
    if text.is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| format!("histogram '{key}' is not base64"))?;
    decode(&bytes)
        .map(Some)
        .map_err(|why| format!("histogram '{key}': {why}"))
}

/// A histogram from HdrHistogram's serialized bytes.
pub(crate) fn decode(bytes: &[u8]) -> Result<Histogram<u64>, String> {
    Deserializer::new()
        .deserialize(&mut Cursor::new(bytes))
        .map_err(|err| format!("not an HdrHistogram ({err:?})"))
}

fn ping(f: &Fields) -> Result<PingReport, String> {
    Ok(PingReport {
        server: f.addr("server")?,
        probe_bytes: f.usize("probe_bytes")?,
        sent: f.u64("sent")?,
        echoed: f.u64("echoed")?,
        lost: f.u64("lost")?,
        corrupted: f.u64("corrupted")?,
        reconnections: f.u64("reconnections")?,
        seconds: f.f64("seconds")?,
        latency_ms: None,
    })
}

fn udp_ping(f: &Fields) -> Result<UdpPingReport, String> {
    Ok(UdpPingReport {
        server: f.addr("server")?,
        probe_bytes: f.usize("probe_bytes")?,
        sent: f.u64("sent")?,
        echoed: f.u64("echoed")?,
        lost: f.u64("lost")?,
        late: f.u64("late")?,
        duplicates: f.u64("duplicates")?,
        out_of_order: f.u64("out_of_order")?,
        corrupted: f.u64("corrupted")?,
        loss_percent: f.f64("loss_percent")?,
        seconds: f.f64("seconds")?,
        latency_ms: None,
        jitter_ms: f.optional_f64("jitter_ms")?,
        path: path(&f.object("path")?)?,
    })
}

/// The `path` block (see the writer's `path`).
fn path(f: &Fields) -> Result<PathReport, String> {
    fn counted<K: Ord + std::str::FromStr>(
        f: &Fields,
        key: &str,
    ) -> Result<BTreeMap<K, u64>, String> {
        let mut counts = BTreeMap::new();
        for (name, count) in f.object(key)?.0 {
            let value = name
                .parse()
                .map_err(|_| format!("'{key}' names '{name}'"))?;
            let count = count
                .as_u64()
                .ok_or_else(|| format!("'{key}.{name}' is not a count"))?;
            counts.insert(value, count);
        }
        Ok(counts)
    }
    fn named<T: std::str::FromStr>(f: &Fields, key: &str) -> Result<Option<T>, String> {
        match f.get(key)? {
            Value::Null => Ok(None),
            Value::String(text) => text
                .parse()
                .map(Some)
                .map_err(|_| format!("'{key}' is not one")),
            _ => Err(format!("'{key}' is not a string")),
        }
    }
    let ttl_sent = match f.get("ttl_sent")? {
        Value::Null => None,
        value => Some(
            value
                .as_u64()
                .and_then(|ttl| u8::try_from(ttl).ok())
                .ok_or("'ttl_sent' is not a TTL")?,
        ),
    };
    Ok(PathReport {
        dscp_sent: named(f, "dscp_sent")?,
        ecn_sent: named(f, "ecn_sent")?,
        ttl_sent,
        seen: PathSeen {
            dscp: counted(f, "dscp_received")?,
            ecn: counted(f, "ecn_received")?,
            ttl: counted(f, "ttl_received")?,
            class_unknown: f.u64("class_unknown")?,
            ttl_unknown: f.u64("ttl_unknown")?,
        },
    })
}

fn connect(f: &Fields) -> Result<ConnectReport, String> {
    Ok(ConnectReport {
        server: f.addr("server")?,
        sent: f.u64("sent")?,
        connected: f.u64("connected")?,
        refused: f.u64("refused")?,
        timed_out: f.u64("timed_out")?,
        failed: f.u64("failed")?,
        seconds: f.f64("seconds")?,
        latency_ms: None,
    })
}

fn ping_pong(f: &Fields) -> Result<PingPongReport, String> {
    Ok(PingPongReport {
        server: f.string("server")?.to_string(),
        connections: f.usize("connections")?,
        connected: f.usize("connected")?,
        message_bytes: f.usize("message_bytes")?,
        seconds: f.f64("seconds")?,
        round_trips: f.u64("round_trips")?,
        round_trips_per_sec: f.f64("round_trips_per_sec")?,
        mb_per_sec_each_way: f.f64("mb_per_sec_each_way")?,
        latency_ms: None,
        fairness: fairness(&f.object("fairness")?)?,
        errors: errors(&f.object("errors")?)?,
        server_gone_after: f.optional_f64("server_gone_after")?,
    })
}

fn rate(f: &Fields) -> Result<RateReport, String> {
    Ok(RateReport {
        server: f.string("server")?.to_string(),
        connections: f.usize("connections")?,
        connected: f.usize("connected")?,
        message_bytes: f.usize("message_bytes")?,
        threads: f.usize("threads")?,
        seconds: f.f64("seconds")?,
        asked_rate: f.f64("asked_rate")?,
        sent_rate: f.f64("sent_rate")?,
        echoed_rate: f.f64("echoed_rate")?,
        due: f.u64("due")?,
        sent: f.u64("sent")?,
        unsent: f.u64("unsent")?,
        unechoed: f.u64("unechoed")?,
        socket_waits: f.u64("socket_waits")?,
        round_trips: f.u64("round_trips")?,
        latency_ms: None,
        uncorrected_latency_ms: None,
        generator_lateness_ms: lateness(&f.object("generator_lateness_ms")?)?,
        fairness: fairness(&f.object("fairness")?)?,
        errors: errors(&f.object("errors")?)?,
        server_gone_after: f.optional_f64("server_gone_after")?,
    })
}

fn udp_rate(f: &Fields) -> Result<UdpRateReport, String> {
    Ok(UdpRateReport {
        server: f.string("server")?.to_string(),
        sockets: f.usize("sockets")?,
        datagram_bytes: f.usize("datagram_bytes")?,
        threads: f.usize("threads")?,
        seconds: f.f64("seconds")?,
        asked_rate: f.f64("asked_rate")?,
        sent_rate: f.f64("sent_rate")?,
        echoed_rate: f.f64("echoed_rate")?,
        due: f.u64("due")?,
        counts: DatagramCounts {
            sent: f.u64("sent")?,
            echoed: f.u64("echoed")?,
            lost: f.u64("lost")?,
            late: f.u64("late")?,
            duplicates: f.u64("duplicates")?,
            out_of_order: f.u64("out_of_order")?,
            corrupted: f.u64("corrupted")?,
        },
        loss_percent: f.f64("loss_percent")?,
        socket_waits: f.u64("socket_waits")?,
        latency_ms: None,
        uncorrected_latency_ms: None,
        generator_lateness_ms: lateness(&f.object("generator_lateness_ms")?)?,
        fairness: fairness(&f.object("fairness")?)?,
        server_gone_after: f.optional_f64("server_gone_after")?,
        path: path(&f.object("path")?)?,
    })
}

fn stream(f: &Fields) -> Result<StreamReport, String> {
    Ok(StreamReport {
        server: f.string("server")?.to_string(),
        bytes_sent: f.u64("bytes_sent")?,
        bytes_echoed: f.u64("bytes_echoed")?,
        seconds: f.f64("seconds")?,
        mb_per_sec: f.f64("mb_per_sec")?,
        corrupted_bytes: f.u64("corrupted_bytes")?,
        first_corrupted_offset: f.optional_u64("first_corrupted_offset")?,
    })
}

fn fairness(f: &Fields) -> Result<Fairness, String> {
    Ok(Fairness {
        fewest: f.u64("fewest")?,
        most: f.u64("most")?,
        silent: f.usize("silent")?,
    })
}

fn lateness(f: &Fields) -> Result<LatenessMs, String> {
    Ok(LatenessMs {
        p50: f.f64("p50")?,
        p99: f.f64("p99")?,
        max: f.f64("max")?,
        limit: f.f64("limit")?,
        // Reports from before soc said how busy its machine was read as not known.
        machine: Machine {
            cores: match f.0.contains_key("cores") {
                true => f.usize("cores")?,
                false => 0,
            },
            load_average: match f.0.contains_key("load_average") {
                true => f.optional_f64("load_average")?,
                false => None,
            },
        },
    })
}

fn errors(f: &Fields) -> Result<ErrorCounts, String> {
    Ok(ErrorCounts {
        connect_failures: f.u64("connect_failures")?,
        resets: f.u64("resets")?,
        timeouts: f.u64("timeouts")?,
        corrupted: f.u64("corrupted")?,
        self_connections: f.u64("self_connections")?,
        after_warmup: f.u64("after_warmup")?,
        closed_at_once: f.u64("closed_at_once")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_a_soc_report_says_why() {
        let why = |text: &str| report(text).unwrap_err();
        assert!(why("").contains("not JSON"));
        assert!(why("[1, 2]").contains("not a JSON object"));
        assert!(why("{\"a\": 1}").contains("no 'mode'"));
        assert!(why("{\"mode\": \"ping\"}").contains("no 'started'"));
        let started = "\"started\": \"2026-12-05T06:37:01.123456Z\"";
        assert!(why(&format!("{{\"mode\": \"bogus\", {started}}}")).contains("mode 'bogus'"));
        assert!(why(&format!(
            "{{\"mode\": \"ping\", {started}, \"server\": \"x\"}}"
        ))
        .contains("not an address"));
        let no_histograms = format!(
            "{{\"mode\": \"connect\", {started}, \"server\": \"127.0.0.1:7\", \"sent\": 1, \
             \"connected\": 1, \"refused\": 0, \"timed_out\": 0, \"failed\": 0, \"seconds\": 1.0}}"
        );
        assert!(why(&no_histograms).contains("without histograms"));
        let bad = no_histograms.replace(
            "}",
            ", \"histograms\": {\"latency\": \"!!\", \"uncorrected\": null}}",
        );
        assert!(why(&bad).contains("is not base64"), "{}", why(&bad));
        let garbage = no_histograms.replace(
            "}",
            ", \"histograms\": {\"latency\": \"AAAA\", \"uncorrected\": null}}",
        );
        assert!(
            why(&garbage).contains("not an HdrHistogram"),
            "{}",
            why(&garbage)
        );
    }

    #[test]
    fn a_generator_s_machine_is_read_when_there_and_unknown_in_an_older_report() {
        let read = |text: &str| {
            let value: Value = serde_json::from_str(text).unwrap();
            lateness(&Fields(value.as_object().unwrap()))
        };
        let figures = "\"p50\": 0.03, \"p99\": 3.4, \"max\": 11.3, \"limit\": 1.0";
        let busy = read(&format!(
            "{{{figures}, \"cores\": 2, \"load_average\": 4.19}}"
        ))
        .unwrap();
        assert_eq!(
            (busy.machine.cores, busy.machine.load_average),
            (2, Some(4.19))
        );
        assert!(busy.machine.busy());
        let older = read(&format!("{{{figures}}}")).unwrap();
        assert_eq!(older.machine, Machine::default());
        assert!(
            !older.machine.busy(),
            "an unknown machine is not called busy"
        );
        let garbage = read(&format!(
            "{{{figures}, \"cores\": \"two\", \"load_average\": 1}}"
        ));
        assert_eq!(garbage.unwrap_err(), "'cores' is not a whole number");
        let garbage = read(&format!(
            "{{{figures}, \"cores\": 2, \"load_average\": []}}"
        ));
        assert_eq!(garbage.unwrap_err(), "'load_average' is not a number");
    }
}
