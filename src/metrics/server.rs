//! soc_server's metrics: its counters, read at each scrape from the server's own.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::counter;
use crate::server::ServerProbe;

/// The metrics of a running server.
#[derive(Clone)]
pub struct ServerMetrics {
    probe: ServerProbe,
}

impl std::fmt::Debug for ServerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerMetrics")
    }
}

impl ServerMetrics {
    /// The metrics of the server `probe` reads.
    pub fn of(probe: ServerProbe) -> ServerMetrics {
        ServerMetrics { probe }
    }
}

impl Collector for ServerMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.probe.stats();
        encoder
            .encode_descriptor(
                "soc_server_clients_active",
                "TCP clients being served now.",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&(stats.active as u64))?;
        let e = &mut encoder;
        counter(
            e,
            "soc_server_clients_served",
            "TCP clients served (admitted).",
            stats.served,
        )?;
        let mut rejected = e.encode_descriptor(
            "soc_server_clients_rejected",
            "TCP connections closed at once: reason=limit beyond --max-clients, reason=per_source \
             beyond --max-per-source.",
            None,
            MetricType::Counter,
        )?;
        for (reason, count) in [
            ("limit", stats.rejected),
            ("per_source", stats.rejected_per_source),
        ] {
            rejected
                .encode_family(&[("reason", reason)])?
                .encode_counter::<NoLabelSet, _, u64>(&count, None)?;
        }
        counter(
            e,
            "soc_server_clients_timed_out",
            "TCP clients disconnected by --idle-timeout.",
            stats.timed_out,
        )?;
        counter(
            e,
            "soc_server_clients_failed",
            "TCP clients whose connection ended with an error.",
            stats.failed,
        )?;
        counter(
            e,
            "soc_server_bytes_echoed",
            "Bytes echoed back over TCP.",
            stats.bytes_echoed,
        )?;
        let udp = stats.udp.unwrap_or_default();
        counter(
            e,
            "soc_server_datagrams_echoed",
            "UDP datagrams echoed.",
            udp.echoed,
        )?;
        counter(
            e,
            "soc_server_datagrams_refused",
            "UDP datagrams not echoed: from a port that could start a loop (0, a simple service's, \
             this echo's own).",
            udp.refused,
        )?;
        counter(
            e,
            "soc_server_clients_denied",
            "TCP connections closed at once: their source is not allowed (--allow, --deny).",
            stats.denied,
        )?;
        counter(
            e,
            "soc_server_datagrams_denied",
            "UDP datagrams dropped: their source is not allowed (--allow, --deny).",
            udp.denied,
        )?;
        counter(
            e,
            "soc_server_datagrams_rate_limited",
            "UDP datagrams dropped: their source had its --udp-rate-per-source for the second.",
            udp.rate_limited,
        )?;
        counter(
            e,
            "soc_server_log_lines_dropped",
            "Log lines dropped because standard error was not being read.",
            crate::logging::dropped_lines(),
        )?;
        Ok(())
    }
}
