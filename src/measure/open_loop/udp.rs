//! `bench -u --rate`: the open loop over UDP. Each flow is a socket aimed at the server; a
//! datagram goes out at its time, and the UDP ledger ([`Ledger`]) decides what became of it
//! (echoed, lost, late, duplicated, out of order, corrupted), as it does for `ping -u`. Closed
//! loop makes no sense over UDP: one lost datagram would stall its socket for the timeout.

use std::io;
use std::time::Instant;

use anyhow::Context;
use mio::event::Event;
use mio::net::UdpSocket;
use mio::{Interest, Poll, Token};

use super::{drive, Flow, RateOptions, Recorder, Transport};
use crate::measure::ledger::{Fate, Ledger};
use crate::measure::load::Run;
use crate::measure::path::PathReport;
use crate::measure::report::{percent, Measured, UdpRateReport};
use crate::measure::sockets::Broken;
use crate::measure::tally::Tally;
use crate::measure::Tick;
use crate::net::{
    connect_datagram, means_nothing_listens, receive_marked, NothingListening, Target,
    RECEIVE_BUFFER,
};
use crate::signals::StopFlag;
use crate::wire::{Layout, Message};

/// Runs open-loop UDP load against `target` until the window ends or `stop` is raised, waits for
/// the echoes still awaited, and reports; `on_tick` is called about once a second meanwhile.
pub fn udp_rate(
    target: &Target,
    options: &RateOptions,
    stop: &StopFlag,
    on_tick: impl FnMut(&Tick),
) -> anyhow::Result<Measured<UdpRateReport>> {
    let server = *target.addrs().first().context("no address to send to")?;
    Layout::Numbered
        .check_size(options.size)
        .map_err(|why| anyhow::anyhow!("-s {}: {why}", options.size))?;
    // Over UDP a datagram may never come back: without a timeout the run could not end.
    options
        .timeout
        .as_option()
        .context("a UDP run needs a timeout above 0, after which a datagram is lost")?;
    let plan = options.clone();
    let target_of_loops = target.clone();
    let driven = drive(target, options, stop, on_tick, move |run, ids| {
        Datagrams::new(&target_of_loops, run, ids, &plan)
    })?;
    let (tally, seconds) = (driven.tally, driven.seconds);
    let counts = tally.datagrams;
    if driven.server_gone_after.is_some() && counts.echoed + counts.late == 0 {
        // Nothing ever came back and the system says nothing listens: not a run at all.
        return Err(anyhow::Error::new(NothingListening(server)));
    }
    let figures = tally.open_loop_figures(seconds);
    let report = UdpRateReport {
        server: server.to_string(),
        sockets: options.flows,
        datagram_bytes: options.size,
        threads: options.threads.clamp(1, options.flows.max(1)),
        seconds,
        asked_rate: options.rate,
        sent_rate: figures.sent_rate,
        echoed_rate: figures.echoed_rate,
        due: tally.schedule.due,
        counts,
        loss_percent: percent(counts.lost, counts.sent),
        socket_waits: tally.schedule.socket_waits,
        latency_ms: figures.latency_ms,
        uncorrected_latency_ms: figures.uncorrected_latency_ms,
        generator_lateness_ms: figures.generator_lateness_ms,
        fairness: tally.fairness,
        server_gone_after: driven.server_gone_after,
        path: PathReport::new(target.path(), tally.path.clone()),
    };
    Ok(Measured {
        report,
        histograms: Some(tally.into_histograms(seconds, driven.start, true)),
    })
}

/// One flow's socket and its ledger.
struct Socket {
    socket: UdpSocket,
    ledger: Ledger,
    /// The socket said "would block" and has not said "writable" since.
    blocked: bool,
}

/// The UDP transport: one event loop's sockets.
struct Datagrams {
    poll: Poll,
    sockets: Vec<Socket>,
    buffer: Vec<u8>,
}

impl Datagrams {
    fn new(
        target: &Target,
        run: &Run,
        ids: &[usize],
        options: &RateOptions,
    ) -> anyhow::Result<Self> {
        let poll = Poll::new().context("could not create an event loop")?;
        let timeout = run
            .timeout
            .as_option()
            .context("a UDP run needs a timeout above 0")?;
        let mut sockets = Vec::with_capacity(ids.len());
        for (index, &id) in ids.iter().enumerate() {
            let (socket, server) = connect_datagram(target)?;
            crate::net::check_fits(&socket, server, options.size, target.path())?;
            socket
                .set_nonblocking(true)
                .context("could not make the socket non-blocking")?;
            let mut socket = UdpSocket::from_std(socket);
            poll.registry().register(
                &mut socket,
                Token(index),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            let message = Message::new(Layout::Numbered, id as u64, options.size);
            sockets.push(Socket {
                socket,
                ledger: Ledger::new(Layout::Numbered, message, 0, timeout),
                blocked: false,
            });
        }
        Ok(Datagrams {
            poll,
            sockets,
            buffer: vec![0; RECEIVE_BUFFER],
        })
    }

    /// Reads every echo available on flow `index`'s socket; the ledger decides what each is.
    fn receive(&mut self, index: usize, flow: &mut Flow, run: &Run, record: &mut Recorder) {
        let socket = &mut self.sockets[index];
        loop {
            // Through mio's try_io, so that on Windows a "would block" re-arms the socket's
            // readiness, as mio's own receive would.
            let buffer = &mut self.buffer;
            let received = socket
                .socket
                .try_io(|| receive_marked((&socket.socket).into(), buffer));
            let (len, marks) = match received {
                Ok(received) => received,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) if means_nothing_listens(&err) => return run.gone.raise(),
                Err(err) => {
                    log::debug!("udp bench: a receive failed: {err}");
                    return;
                }
            };
            let arrived = Instant::now();
            record.arrived(arrived);
            if let Fate::Echoed { seq, rtt, .. } =
                socket.ledger.receive(&self.buffer[..len], arrived, marks)
            {
                record.echoed(flow, seq, arrived, rtt);
            }
        }
    }
}

impl Transport for Datagrams {
    fn poll(&mut self) -> &mut Poll {
        &mut self.poll
    }

    fn open(&mut self, index: usize, flow: &Flow, _run: &Run, _tally: &mut Tally) -> bool {
        // Where datagrams go was set when the socket was made: there is no connection to fail.
        // What became of the datagrams due in the measured time is counted, and only that.
        self.sockets[index]
            .ledger
            .count_only(flow.first_measured..flow.end);
        true
    }

    fn ready(&self, index: usize) -> bool {
        !self.sockets[index].blocked
    }

    /// Sends the datagrams due, until none is left or the socket is full.
    fn send(&mut self, index: usize, flow: &mut Flow, record: &mut Recorder) -> Result<(), Broken> {
        let socket = &mut self.sockets[index];
        while flow.sent < flow.due && !socket.blocked {
            let now = Instant::now();
            let datagram = socket.ledger.next_datagram(now);
            match socket.socket.send(datagram) {
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    socket.blocked = true;
                    break;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                // Nothing listens: the next receive says so, and ends the run.
                Err(err) if means_nothing_listens(&err) => {}
                // A datagram the system would not send is lost on the way.
                Err(err) => log::debug!("udp bench: could not send datagram {}: {err}", flow.sent),
            }
            record.leaving(flow, flow.sent, now);
            socket.ledger.sent(now);
            flow.sent += 1;
        }
        Ok(())
    }

    fn serve(
        &mut self,
        index: usize,
        event: &Event,
        sending: bool,
        flow: &mut Flow,
        run: &Run,
        record: &mut Recorder,
    ) -> Result<(), Broken> {
        if event.is_readable() || event.is_error() {
            self.receive(index, flow, run, record);
        }
        if event.is_writable() && sending {
            self.sockets[index].blocked = false;
            self.send(index, flow, record)?;
        }
        Ok(())
    }

    fn drop_flow(&mut self, _: usize, _: Broken, _: &mut Flow, _: &Run, _: &mut Tally) {
        // A datagram socket is never dropped: what goes wrong is a datagram's, and counted.
    }

    fn maintain(
        &mut self,
        index: usize,
        now: Instant,
        _flow: &mut Flow,
        _run: &Run,
        _record: &mut Recorder,
    ) -> Result<(), Broken> {
        self.sockets[index].ledger.expire(now, |_| {});
        Ok(())
    }

    fn stop_sending(&mut self, _index: usize, _flow: &mut Flow) {}

    /// Waits while any datagram sent is awaited: at most the timeout after the last one (the
    /// ledger gives up on each at its timeout, and counts it lost).
    fn awaiting(
        &mut self,
        index: usize,
        now: Instant,
        _flow: &mut Flow,
        _run: &Run,
        _tally: &mut Tally,
    ) -> bool {
        let ledger = &mut self.sockets[index].ledger;
        ledger.expire(now, |_| {});
        ledger.awaiting()
    }

    fn close(&mut self, _run: &Run, tally: &mut Tally) {
        let now = Instant::now();
        for socket in &mut self.sockets {
            socket.ledger.expire(now, |_| {});
            tally.datagrams += socket.ledger.counts();
            tally.path.merge(socket.ledger.path_seen());
        }
    }
}
