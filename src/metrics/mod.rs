//! `--metrics ADDR`: the numbers of a running soc_server or monitor, served over HTTP at
//! `/metrics` for Prometheus to scrape, in its text format (OpenMetrics' when the scraper asks
//! for it). The encoding is prometheus-client's, the Prometheus project's own Rust client.
//!
//! Nothing is counted for the metrics: at each scrape a collector reads what the server or the
//! monitor counts anyway (`server.rs`, `monitor.rs`), so the metrics cost the service nothing
//! between scrapes. The endpoint runs on a thread of its own (`http.rs`) and holds no lock that an
//! echo or a probe waits on.

mod http;
mod monitor;
mod server;

use std::net::SocketAddr;
use std::thread::{self, JoinHandle};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use mio::{Poll, Waker};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

pub use monitor::MonitorMetrics;
pub use server::ServerMetrics;

/// A running metrics endpoint; it stops when dropped.
pub struct Endpoint {
    addr: SocketAddr,
    stop: Waker,
    thread: Option<JoinHandle<()>>,
}

impl Endpoint {
    /// Listens on `addr` and serves `collector`'s metrics, with the process's own beside them,
    /// at `/metrics`.
    pub fn start(addr: SocketAddr, collector: impl Collector) -> anyhow::Result<Endpoint> {
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("could not listen for metrics on {addr}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() {
            log::warn!(
                "metrics on {addr}, which is not a loopback address: anyone who can reach this \
                 host can read them"
            );
        }
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Process::now()));
        registry.register_collector(Box::new(collector));
        let poll = Poll::new().context("could not create the metrics event loop")?;
        let stop = Waker::new(poll.registry(), http::STOP)?;
        let listener = mio::net::TcpListener::from_std(listener);
        let thread = thread::Builder::new()
            .name("metrics".into())
            .spawn(move || http::serve(poll, listener, registry))
            .context("could not start the metrics thread")?;
        Ok(Endpoint {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// Where it listens, with the real port.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Goes on serving until `stop` is raised (a monitor done probing, so that the final counts
    /// are scraped), having said so on standard error.
    pub fn serve_until(&self, stop: &crate::signals::StopFlag) {
        if stop.is_requested() {
            return;
        }
        eprintln!("{}; until Ctrl-C", self.announcement());
        while !stop.sleep(std::time::Duration::from_secs(3600)) {}
    }

    /// The line that says where the metrics are: `metrics on http://ADDR/metrics`.
    pub fn announcement(&self) -> String {
        format!("metrics on http://{}/metrics", self.addr)
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = self.stop.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The metrics every soc process serves: when it started, and which build it is.
#[derive(Debug)]
struct Process {
    started: f64,
}

impl Process {
    fn now() -> Process {
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        Process { started }
    }
}

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let help = "Start time of the process since the Unix epoch, in seconds.";
        let kind = MetricType::Gauge;
        encoder
            .encode_descriptor("process_start_time_seconds", help, None, kind)?
            .encode_gauge(&self.started)?;
        let mut build = encoder.encode_descriptor(
            "soc_build_info",
            "The version of soc that serves these metrics (always 1).",
            None,
            MetricType::Gauge,
        )?;
        let version = [("version", env!("CARGO_PKG_VERSION"))];
        build.encode_family(&version)?.encode_gauge(&1u64)?;
        Ok(())
    }
}

/// Encodes one counter with no label.
fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> std::fmt::Result {
    encoder
        .encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&value, None)
}
