//! `bench --rate`: the open loop over TCP. Each connection is a byte stream: messages due go into
//! its queue and out as fast as the socket takes them, pipelined; echoes come back in order, so
//! each is checked against the next message expected, however the bytes are split.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use mio::event::Event;
use mio::Poll;

use super::{drive, Flow, RateOptions, Recorder, Transport};
use crate::measure::load::Run;
use crate::measure::report::{Measured, RateReport};
use crate::measure::sockets::{Broken, Sockets};
use crate::measure::tally::Tally;
use crate::measure::Tick;
use crate::net::Target;
use crate::signals::StopFlag;
use crate::wire::{Layout, Message};

/// Bytes queued at most per connection: messages due beyond them are made when there is room, so
/// memory stays bounded however long the server stalls.
const OUT_CAP: usize = 256 * 1024;

/// Runs open-loop load over TCP against `target` with `options` until the window ends or `stop`
/// is raised, waits for the echoes still on their way, and reports; `on_tick` is called about
/// once a second meanwhile.
pub fn rate(
    target: &Target,
    options: &RateOptions,
    stop: &StopFlag,
    on_tick: impl FnMut(&Tick),
) -> anyhow::Result<Measured<RateReport>> {
    let server = *target.addrs().first().context("no address to connect to")?;
    Layout::Stream
        .check_size(options.size)
        .map_err(|why| anyhow::anyhow!("-s {}: {why}", options.size))?;
    let size = options.size;
    let driven = drive(target, options, stop, on_tick, move |_, ids| {
        Streams::new(ids, size)
    })?;
    let (tally, seconds) = (driven.tally, driven.seconds);
    let counts = tally.schedule;
    let figures = tally.open_loop_figures(seconds);
    let report = RateReport {
        server: server.to_string(),
        connections: options.flows,
        connected: tally.connected,
        message_bytes: options.size,
        threads: options.threads.clamp(1, options.flows.max(1)),
        seconds,
        asked_rate: options.rate,
        sent_rate: figures.sent_rate,
        echoed_rate: figures.echoed_rate,
        due: counts.due,
        sent: counts.sent,
        unsent: counts.due - counts.sent,
        unechoed: counts.sent.saturating_sub(tally.round_trips),
        socket_waits: counts.socket_waits,
        round_trips: tally.round_trips,
        latency_ms: figures.latency_ms,
        uncorrected_latency_ms: figures.uncorrected_latency_ms,
        generator_lateness_ms: figures.generator_lateness_ms,
        fairness: tally.fairness,
        errors: tally.errors,
        server_gone_after: driven.server_gone_after,
    };
    Ok(Measured {
        report,
        histograms: Some(tally.into_histograms(seconds, driven.start, true)),
    })
}

/// One connection's messages between the schedule and the echo, on its current socket.
struct Stream {
    message: Message,
    /// Messages copied into `out`.
    queued: u64,
    /// Messages echoed whole: the next echo expected is message `echoed`.
    echoed: u64,
    out: Vec<u8>,
    out_at: usize,
    /// Bytes written and read on the current socket.
    written: u64,
    read: u64,
    /// When the first byte of each message started on this socket and not yet echoed went out.
    first_byte: VecDeque<Instant>,
    /// Message `echoed` as it must come back.
    expect: Vec<u8>,
    /// The socket said "would block" and has not said "writable" since.
    blocked: bool,
    /// Since when bytes have been outstanding with nothing moving, for the timeout.
    stalled_since: Option<Instant>,
}

impl Stream {
    /// Whether any message is on its way: written in part or whole, not echoed.
    fn outstanding(&self) -> bool {
        self.out_at < self.out.len() || !self.first_byte.is_empty()
    }

    /// Forgets what was on a socket that is gone: messages written whole and not echoed are lost,
    /// the others are made again on the next socket (their wait counts in their latency, not in
    /// the generator's lateness).
    fn reset(&mut self, flow: &mut Flow) {
        self.echoed = flow.sent;
        self.queued = flow.sent;
        flow.waited_until = flow.due;
        self.out.clear();
        self.out_at = 0;
        self.written = 0;
        self.read = 0;
        self.first_byte.clear();
        self.blocked = false;
        self.stalled_since = None;
    }

    /// Whether nothing has moved for longer than `limit` while bytes are outstanding.
    fn stalled(&self, now: Instant, limit: Option<Duration>) -> bool {
        match (self.stalled_since, limit) {
            (Some(since), Some(limit)) => now.duration_since(since) > limit,
            _ => false,
        }
    }
}

/// The TCP transport: one event loop's connections.
struct Streams {
    sockets: Sockets,
    streams: Vec<Stream>,
    sending: bool,
    buffer: Vec<u8>,
}

impl Streams {
    fn new(ids: &[usize], size: usize) -> anyhow::Result<Self> {
        let streams = ids
            .iter()
            .map(|&id| Stream {
                message: Message::new(Layout::Stream, id as u64, size),
                queued: 0,
                echoed: 0,
                out: Vec::new(),
                out_at: 0,
                written: 0,
                read: 0,
                first_byte: VecDeque::new(),
                expect: vec![0; size],
                blocked: false,
                stalled_since: None,
            })
            .collect();
        Ok(Streams {
            sockets: Sockets::new(ids.len())?,
            streams,
            sending: true,
            buffer: vec![0; 64 * 1024],
        })
    }

    /// Reads and checks every echo byte available; records each message whose echo is whole.
    fn read_echoes(
        &mut self,
        index: usize,
        flow: &mut Flow,
        record: &mut Recorder,
    ) -> Result<(), Broken> {
        let Some(socket) = self.sockets.stream(index) else {
            return Ok(());
        };
        let stream = &mut self.streams[index];
        let size = stream.message.len() as u64;
        loop {
            let n = match socket.read(&mut self.buffer) {
                Ok(0) => return Err(Broken::Reset),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(Broken::Reset),
            };
            let arrived = Instant::now();
            let mut data = &self.buffer[..n];
            while !data.is_empty() {
                if stream.read >= stream.written {
                    // More came back than was sent.
                    return Err(Broken::Corrupted);
                }
                let offset = (stream.read % size) as usize;
                if offset == 0 {
                    stream.message.write(&mut stream.expect, stream.echoed, 0);
                }
                let take = (size as usize - offset)
                    .min(data.len())
                    .min((stream.written - stream.read) as usize);
                let expected = &stream.expect[offset..offset + take];
                if crate::wire::differing(&data[..take], expected) > 0 {
                    return Err(Broken::Corrupted);
                }
                stream.read += take as u64;
                data = &data[take..];
                if offset + take < size as usize {
                    continue;
                }
                let k = stream.echoed;
                let first_byte = stream.first_byte.pop_front().unwrap_or(arrived);
                stream.echoed += 1;
                record.arrived(arrived);
                record.echoed(flow, k, arrived, arrived - first_byte);
            }
            stream.stalled_since = stream.outstanding().then_some(arrived);
        }
    }
}

impl Transport for Streams {
    fn poll(&mut self) -> &mut Poll {
        &mut self.sockets.poll
    }

    fn open(&mut self, index: usize, _flow: &Flow, run: &Run, tally: &mut Tally) -> bool {
        self.sockets.connect(index, run, tally)
    }

    fn ready(&self, index: usize) -> bool {
        self.sockets.is_connected(index) && !self.streams[index].blocked
    }

    /// Copies due messages into the connection's queue (while it has room) and writes until the
    /// socket is full or the queue empty.
    fn send(&mut self, index: usize, flow: &mut Flow, record: &mut Recorder) -> Result<(), Broken> {
        let Some(socket) = self.sockets.stream(index).filter(|_| self.sending) else {
            return Ok(());
        };
        let now = Instant::now();
        let stream = &mut self.streams[index];
        if stream.out_at == stream.out.len() {
            stream.out.clear();
            stream.out_at = 0;
        }
        let size = stream.message.len();
        while stream.queued < flow.due && stream.out.len() - stream.out_at < OUT_CAP {
            let k = stream.queued;
            record.leaving(flow, k, now);
            let at = stream.out.len();
            stream.out.resize(at + size, 0);
            stream.message.write(&mut stream.out[at..], k, 0);
            stream.queued += 1;
        }
        let size = size as u64;
        while stream.out_at < stream.out.len() && !stream.blocked {
            let before = Instant::now();
            match socket.write(&stream.out[stream.out_at..]) {
                Ok(0) => return Err(Broken::Reset),
                Ok(n) => {
                    if !stream.outstanding() {
                        stream.stalled_since = Some(before);
                    }
                    let (old, new) = (stream.written, stream.written + n as u64);
                    // Messages whose first byte is in this write start now.
                    for _ in old.div_ceil(size)..new.div_ceil(size) {
                        stream.first_byte.push_back(before);
                    }
                    flow.sent += new / size - old / size;
                    stream.written = new;
                    stream.out_at += n;
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => stream.blocked = true,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Broken::Reset),
            }
        }
        if stream.out_at > OUT_CAP {
            stream.out.drain(..stream.out_at);
            stream.out_at = 0;
        }
        Ok(())
    }

    fn serve(
        &mut self,
        index: usize,
        event: &Event,
        _sending: bool,
        flow: &mut Flow,
        _run: &Run,
        record: &mut Recorder,
    ) -> Result<(), Broken> {
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            let before = flow.echoes;
            let read = self.read_echoes(index, flow, record);
            // Echoes on this socket: a server that closes one with none turned the client away.
            self.sockets.echoed(index, flow.echoes - before);
            read?;
        }
        if event.is_writable() {
            self.streams[index].blocked = false;
            self.send(index, flow, record)?;
        }
        Ok(())
    }

    fn drop_flow(
        &mut self,
        index: usize,
        broken: Broken,
        flow: &mut Flow,
        run: &Run,
        tally: &mut Tally,
    ) {
        self.sockets.drop_broken(index, broken, run, tally);
        self.streams[index].reset(flow);
    }

    /// Times out a connection whose echo has not moved for the timeout, and reconnects a dropped
    /// one whose time has come.
    fn maintain(
        &mut self,
        index: usize,
        now: Instant,
        flow: &mut Flow,
        run: &Run,
        record: &mut Recorder,
    ) -> Result<(), Broken> {
        if self.sockets.is_connected(index) {
            if self.streams[index].stalled(now, run.timeout.as_option()) {
                return Err(Broken::TimedOut);
            }
        } else if self.sockets.due_for_reconnect(index, now)
            && self.sockets.connect(index, run, record.tally)
        {
            self.send(index, flow, record)?;
        }
        Ok(())
    }

    fn stop_sending(&mut self, index: usize, _flow: &mut Flow) {
        self.sending = false;
        let stream = &mut self.streams[index];
        // What was queued and not yet written is never sent.
        stream.out.truncate(stream.out_at);
        stream.stalled_since = stream.outstanding().then(Instant::now);
    }

    /// Waits while messages are echoes short, as long as the echoes keep coming: a connection
    /// with no progress for the timeout counts a timeout and waits no more.
    fn awaiting(
        &mut self,
        index: usize,
        now: Instant,
        flow: &mut Flow,
        run: &Run,
        tally: &mut Tally,
    ) -> bool {
        if !self.sockets.is_connected(index) || flow.sent == self.streams[index].echoed {
            return false;
        }
        if self.streams[index].stalled(now, run.timeout.as_option()) {
            self.drop_flow(index, Broken::TimedOut, flow, run, tally);
            return false;
        }
        true
    }

    fn close(&mut self, run: &Run, _tally: &mut Tally) {
        if !run.gone.flag.is_requested() {
            self.sockets.close_cleanly();
        }
    }
}
