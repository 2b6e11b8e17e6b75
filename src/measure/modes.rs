//! What `ping` and `bench` are asked to measure, and the one call that measures it, whichever
//! form: the binary names a mode, this runs it.

use std::time::Duration;

use super::connect::{self, ConnectOptions, ConnectProbe};
use super::open_loop::{self, RateOptions};
use super::ping::{self, PingEvent, PingOptions};
use super::pingpong::{self, PingPongOptions};
use super::report::{Measured, Report};
use super::stream::{self, StreamOptions};
use super::udp_ping::{self, UdpPingEvent, UdpPingOptions};
use super::Tick;
use crate::net::Target;
use crate::signals::StopFlag;

/// What `ping` sends.
#[derive(Debug)]
pub enum Probes {
    /// Echo probes over one connection.
    Echo(PingOptions),
    /// New connections (`--connect`).
    Connect(ConnectOptions),
    /// Datagrams (`-u`).
    Udp(UdpPingOptions),
}

/// What a ping of any form reports as it goes.
#[derive(Debug)]
pub enum ProbeEvent<'a> {
    Echo(&'a PingEvent),
    Udp(&'a UdpPingEvent),
    Connect(&'a ConnectProbe),
}

impl Probes {
    /// Probes `target` until the count is done or `stop` is raised, each event to `on_event`.
    pub fn run(
        &self,
        target: &Target,
        stop: &StopFlag,
        mut on_event: impl FnMut(ProbeEvent),
    ) -> anyhow::Result<Measured<Report>> {
        Ok(match self {
            Probes::Echo(options) => ping::run(target, options, stop, |event| {
                on_event(ProbeEvent::Echo(event))
            })?
            .map(Report::Ping),
            Probes::Udp(options) => udp_ping::run(target, options, stop, |event| {
                on_event(ProbeEvent::Udp(event))
            })?
            .map(Report::UdpPing),
            Probes::Connect(options) => connect::run(target, options, stop, |probe| {
                on_event(ProbeEvent::Connect(probe))
            })?
            .map(Report::Connect),
        })
    }
}

/// Which load `bench` makes.
#[derive(Debug)]
pub enum Workload {
    PingPong(PingPongOptions),
    Stream(StreamOptions),
    /// `--rate`: over TCP, or over UDP with `-u`.
    Rate {
        options: RateOptions,
        udp: bool,
    },
}

impl Workload {
    /// How long the run was asked to measure (a stream runs until its bytes are back).
    pub fn duration(&self) -> Option<Duration> {
        match self {
            Workload::PingPong(options) => Some(options.duration),
            Workload::Rate { options, .. } => Some(options.duration),
            Workload::Stream(_) => None,
        }
    }

    /// Loads `target` until the window ends or `stop` is raised, `on_tick` called about once a
    /// second meanwhile (a stream runs until its bytes are back).
    pub fn run(
        &self,
        target: &Target,
        stop: &StopFlag,
        on_tick: impl FnMut(&Tick),
    ) -> anyhow::Result<Measured<Report>> {
        Ok(match self {
            Workload::Stream(options) => {
                Measured::without_histograms(Report::Stream(stream::stream(target, options)?))
            }
            Workload::PingPong(options) => {
                pingpong::ping_pong(target, options, stop, on_tick)?.map(Report::PingPong)
            }
            Workload::Rate {
                options,
                udp: false,
            } => open_loop::rate(target, options, stop, on_tick)?.map(Report::Rate),
            Workload::Rate { options, udp: true } => {
                open_loop::udp_rate(target, options, stop, on_tick)?.map(Report::UdpRate)
            }
        })
    }
}
