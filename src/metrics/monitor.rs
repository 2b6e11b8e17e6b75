//! `soc_client monitor`'s metrics: each target's counters and round trips, labelled `target`
//! (`HOST:PORT` as given) and `proto` (`tcp`, `connect`, `udp`), and the monitor's own lateness.
//!
//! Counters only go up, as Prometheus requires: a probe counted lost at its timeout whose echo
//! comes later is counted late as well, not taken back from lost (the summary at the end, as
//! `ping -u`'s, counts it late only).

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use crate::measure::monitor::{Buckets, Published, TargetMetrics};

/// The metrics of a running monitor.
#[derive(Debug, Clone)]
pub struct MonitorMetrics {
    published: Arc<Published>,
}

impl MonitorMetrics {
    /// The metrics of the monitor that publishes to `published`.
    pub fn of(published: Arc<Published>) -> MonitorMetrics {
        MonitorMetrics { published }
    }
}

/// How a counter is read from a target.
type Read = fn(&TargetMetrics) -> u64;

/// Each counter: its name (without `_total`), its help, and how to read it from a target.
const COUNTERS: [(&str, &str, Read); 10] = [
    ("soc_probe_sent", "Probes sent.", |t| t.sent.get()),
    ("soc_probe_echoed", "Probes answered intact within the timeout (a connect probe: connected).", |t| t.echoed.get()),
    ("soc_probe_lost", "Probes with no answer within the timeout, refused, timed out or unresolved; never taken back when a late echo comes.", |t| t.lost.get()),
    ("soc_probe_late", "Echoes that came after their probe's timeout (the probe is in soc_probe_lost_total too).", |t| t.late.get()),
    ("soc_probe_duplicates", "Second and later echoes of one probe.", |t| t.duplicates.get()),
    ("soc_probe_out_of_order", "Echoes that came after a later probe's echo.", |t| t.out_of_order.get()),
    ("soc_probe_corrupted", "Echoes that came back altered, and datagrams that match no probe.", |t| t.corrupted.get()),
    ("soc_probe_refused", "Connections refused (nothing listens), also counted lost.", |t| t.refused.get()),
    ("soc_probe_timed_out", "Handshakes with no answer within the timeout, also counted lost.", |t| t.timed_out.get()),
    ("soc_probe_outages", "Times the target went down (--down-after probes in a row failed).", |t| t.outages.get()),
];

impl Collector for MonitorMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let targets = &self.published.targets;
        for (name, help, read) in COUNTERS {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for target in targets {
                metric
                    .encode_family(&labels(target))?
                    .encode_counter::<NoLabelSet, _, u64>(&read(target), None)?;
            }
        }
        let mut down = encoder.encode_descriptor(
            "soc_probe_down_seconds",
            "Seconds the target has been down, in all.",
            None,
            MetricType::Counter,
        )?;
        for target in targets {
            down.encode_family(&labels(target))?
                .encode_counter::<NoLabelSet, _, u64>(&target.down_seconds.get(), None)?;
        }
        let mut up = encoder.encode_descriptor(
            "soc_probe_up",
            "1 while the target is up, 0 while it is down.",
            None,
            MetricType::Gauge,
        )?;
        for target in targets {
            up.encode_family(&labels(target))?
                .encode_gauge(&(target.up.get() as u64))?;
        }
        let mut jitter = encoder.encode_descriptor(
            "soc_probe_jitter_seconds",
            "RFC 3550 interarrival jitter of the echoes (UDP targets, once two came).",
            None,
            MetricType::Gauge,
        )?;
        for target in targets.iter().filter(|t| !t.jitter.get().is_nan()) {
            jitter
                .encode_family(&labels(target))?
                .encode_gauge(&target.jitter.get())?;
        }
        let mut rtt = encoder.encode_descriptor(
            "soc_probe_rtt_seconds",
            "Round trips (a connect probe: handshakes) from each probe's scheduled time.",
            None,
            MetricType::Histogram,
        )?;
        for target in targets {
            histogram(&mut rtt.encode_family(&labels(target))?, &target.rtt)?;
        }
        let mut lateness = encoder.encode_descriptor(
            "soc_monitor_lateness_seconds",
            "How long after its scheduled time each probe went out: the monitor's own delay.",
            None,
            MetricType::Histogram,
        )?;
        histogram(&mut lateness, &self.published.lateness)
    }
}

fn labels(target: &TargetMetrics) -> [(&'static str, String); 2] {
    [
        ("target", target.spec.label()),
        ("proto", target.spec.proto.name().to_string()),
    ]
}

fn histogram(
    encoder: &mut prometheus_client::encoding::MetricEncoder,
    buckets: &Buckets,
) -> std::fmt::Result {
    let (sum, count, each) = buckets.snapshot();
    encoder.encode_histogram::<NoLabelSet>(sum, count, &each, None)
}
