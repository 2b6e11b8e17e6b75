//! Helpers shared by the integration tests: a library server on port 0, the built binaries as
//! child processes with deadlines, and sockets that cannot hang a test.
#![allow(dead_code)] // each test file uses a different subset

pub mod sources;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use soc::server::{Server, ServerConfig, ServerProbe, ShutdownHandle, StatsSnapshot};

/// How long any single step of a test may wait before the test fails.
pub const STEP: Duration = Duration::from_secs(20);

/// A library server on 127.0.0.1 with an OS-chosen port, stopped and joined on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    pub handle: ShutdownHandle,
    pub probe: ServerProbe,
    thread: Option<JoinHandle<StatsSnapshot>>,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with_config(ServerConfig::default())
    }

    pub fn with_config(config: ServerConfig) -> TestServer {
        TestServer::with_config_on("127.0.0.1", config)
    }

    /// A server on `host` (a loopback address) with an OS-chosen port.
    pub fn with_config_on(host: &str, config: ServerConfig) -> TestServer {
        let server = Server::bind(&[host], 0, config).expect("bind a test server");
        let addr = server.local_addr();
        let handle = server.shutdown_handle();
        let probe = server.probe();
        let thread = thread::spawn(move || server.run());
        TestServer {
            addr,
            handle,
            probe,
            thread: Some(thread),
        }
    }

    /// Stops the server and returns its final counters; fails the test if it takes longer than
    /// `limit` (instead of hanging it).
    pub fn stop_within(self, limit: Duration) -> StatsSnapshot {
        let (done, stopped) = mpsc::channel();
        thread::spawn(move || {
            let _ = done.send(self.stop());
        });
        stopped
            .recv_timeout(limit)
            .unwrap_or_else(|_| panic!("the server did not stop within {limit:?}"))
    }

    /// Stops the server and returns its final counters.
    pub fn stop(mut self) -> StatsSnapshot {
        self.handle.shutdown();
        let thread = self.thread.take().expect("not stopped yet");
        thread.join().expect("the server thread panicked")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A connection whose reads and writes fail after [`STEP`] instead of hanging the test.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, STEP).expect("connect to the test server");
    stream.set_read_timeout(Some(STEP)).unwrap();
    stream.set_write_timeout(Some(STEP)).unwrap();
    stream
}

/// Reads until end of stream (bounded by the socket's read timeout).
pub fn read_to_end(mut stream: &TcpStream) -> Vec<u8> {
    let mut echoed = Vec::new();
    stream.read_to_end(&mut echoed).expect("read the echo");
    echoed
}

/// Sends `payload` while reading the echo on another thread, half-closes, and returns all that
/// came back: works for any size without deadlock.
pub fn echo_concurrently(stream: TcpStream, payload: Vec<u8>) -> Vec<u8> {
    let writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || {
        (&writer).write_all(&payload).expect("send the payload");
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let echoed = read_to_end(&stream);
    sender.join().expect("the sending thread panicked");
    echoed
}

/// Two connected loopback sockets: a byte stream whose reads block until the other end writes
/// or closes, on every system.
pub fn stream_pair() -> (TcpStream, TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let one = connect(listener.local_addr().unwrap());
    let (other, _) = listener.accept().unwrap();
    (one, other)
}

/// The address of a port nothing listens on (bound, read, released).
pub fn refused_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// The built `soc_server` binary, running with `--port 0` (on 127.0.0.1 unless `args` name a
/// `--host`) and `args`, killed by PID on drop.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// Lines of standard error, as they come.
    pub stderr: mpsc::Receiver<String>,
    /// Lines of standard output after the first, as they come.
    pub stdout: mpsc::Receiver<String>,
}

impl ServerProcess {
    pub fn start(args: &[&str]) -> ServerProcess {
        ServerProcess::start_with(args, |_| {})
    }

    /// Like [`ServerProcess::start`], with a chance to adjust the command (limits, environment).
    pub fn start_with(args: &[&str], adjust: impl FnOnce(&mut Command)) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_soc_server"));
        if !args.contains(&"--host") {
            command.args(["--host", "127.0.0.1"]);
        }
        command
            .args(["--port", "0"])
            .args(args)
            .env_remove("RUST_LOG");
        adjust(&mut command);
        ServerProcess::spawn(command)
    }

    /// The built `soc_server` on `addr` itself (the port of a server that stopped, say), with
    /// `args`.
    pub fn start_at(addr: SocketAddr, args: &[&str]) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_soc_server"));
        command
            .args([
                "--host",
                &addr.ip().to_string(),
                "--port",
                &addr.port().to_string(),
            ])
            .args(args)
            .env_remove("RUST_LOG");
        ServerProcess::spawn(command)
    }

    /// Runs any server command whose first line of output is `listening on ADDR`.
    pub fn spawn(mut command: Command) -> ServerProcess {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start the server");
        let stderr = lines_of(child.stderr.take().unwrap());
        let stdout = lines_of(child.stdout.take().unwrap());
        let line = match stdout.recv_timeout(STEP) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let errors: Vec<String> = stderr.try_iter().collect();
                panic!("the server printed no `listening on` line; stderr: {errors:?}");
            }
        };
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("a socket address after `listening on`");
        ServerProcess {
            child,
            addr,
            stderr,
            stdout,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal` to the server (by its PID).
    #[cfg(unix)]
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with the PID of our own child; no memory is involved.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill({}, {signal})", self.pid());
    }

    /// Waits for the server to exit, failing the test after `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        wait_with_deadline(&mut self.child, limit)
    }

    /// Waits (at most [`STEP`]) for a line of standard error that contains `needle`; returns it.
    pub fn expect_log(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(_) => panic!("no log line containing {needle:?} within {STEP:?}"),
            }
        }
    }

    /// The next line of standard output that starts with `start` (within a step).
    pub fn expect_output(&self, start: &str) -> String {
        loop {
            match self.stdout.recv_timeout(STEP) {
                Ok(line) if line.starts_with(start) => return line,
                Ok(_) => continue,
                Err(_) => panic!("no line starting {start:?} on standard output"),
            }
        }
    }

    /// Waits (at most [`STEP`]) until `clients` more clients have connected, as the log says.
    pub fn expect_connected(&self, clients: usize) {
        for _ in 0..clients {
            self.expect_log(" connected");
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `child` to exit; kills it (by PID) and fails the test after `limit`.
pub fn wait_with_deadline(child: &mut Child, limit: Duration) -> ExitStatus {
    let pid = child.id() as i32;
    let (done_tx, done_rx) = mpsc::channel::<()>();
    // A watchdog instead of polling: it kills the child if the wait below outlasts `limit`.
    let watchdog = thread::spawn(move || {
        if done_rx.recv_timeout(limit).is_err() {
            kill_by_pid(pid);
            return true;
        }
        false
    });
    let status = child.wait().expect("wait for the child");
    let _ = done_tx.send(());
    let killed = watchdog.join().unwrap();
    assert!(
        !killed,
        "the process did not exit within {limit:?}; killed it"
    );
    status
}

/// The addresses of the next `count` lines of a server's output, each `listening on ADDR`.
pub fn listening_addrs(stdout: &mut impl BufRead, count: usize) -> Vec<SocketAddr> {
    (0..count)
        .map(|_| {
            let mut line = String::new();
            stdout
                .read_line(&mut line)
                .expect("read the server's output");
            line.trim()
                .strip_prefix("listening on ")
                .unwrap_or_else(|| panic!("expected `listening on ADDR`, got {line:?}"))
                .parse()
                .expect("a socket address after `listening on`")
        })
        .collect()
}

/// Kills the child with this PID when dropped, so that a failing test leaves no process behind.
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if thread::panicking() {
            kill_by_pid(self.0 as i32);
        }
    }
}

/// A child process that is killed (by its PID) and reaped when this is dropped, whether the test
/// passed or not: a peer the test started (Prometheus, a load) must not outlive it.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Kills a child we started and have not yet reaped, by its PID.
fn kill_by_pid(pid: i32) {
    #[cfg(unix)]
    // SAFETY: kill(2) on the PID of our own child; no memory is involved.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    #[cfg(windows)]
    let _ = Command::new("taskkill")
        .args(["/F", "/PID", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Output of a finished `soc_client` run.
pub struct ClientRun {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl ClientRun {
    /// Standard output as the one JSON object `--json` prints.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|err| {
            panic!(
                "stdout is not one JSON object ({err}): {:?}; stderr: {}",
                String::from_utf8_lossy(&self.stdout),
                self.stderr
            )
        })
    }
}

/// Runs the built `soc_client` with `args`, feeding it `stdin`; fails the test after [`STEP`].
pub fn run_client(args: &[&str], stdin: Vec<u8>) -> ClientRun {
    let mut child = Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("SOC_HOST")
        .env_remove("SOC_PORT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start soc_client");
    let mut input = child.stdin.take().unwrap();
    let feeder = thread::spawn(move || {
        // The client may exit before reading everything (that is what some tests check).
        let _ = input.write_all(&stdin);
    });
    let stdout = read_all_in_background(child.stdout.take().unwrap());
    let stderr = read_all_in_background(child.stderr.take().unwrap());
    let status = wait_with_deadline(&mut child, STEP);
    feeder.join().unwrap();
    ClientRun {
        status,
        stdout: stdout.join().unwrap(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
    }
}

/// Runs `soc_client` pointed at `addr`, with `extra` arguments and `stdin` as its input.
pub fn client_at(addr: SocketAddr, extra: &[&str], stdin: Vec<u8>) -> ClientRun {
    let mut args = at(addr);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_client(&args, stdin)
}

/// `args` for `soc_client` that point it at `addr`.
pub fn at(addr: SocketAddr) -> Vec<String> {
    vec![
        "--host".into(),
        addr.ip().to_string(),
        "--port".into(),
        addr.port().to_string(),
    ]
}

fn read_all_in_background(mut from: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut all = Vec::new();
        let _ = from.read_to_end(&mut all);
        all
    })
}

/// The lines `from` produces, as they come.
pub fn lines_of(from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A one-connection server on loopback that treats its client with `behaviour` (corrupt, stall,
/// reset...): the faults soc_client must survive.
pub fn serve_once(behaviour: impl FnOnce(TcpStream) + Send + 'static) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            stream.set_read_timeout(Some(STEP)).unwrap();
            stream.set_write_timeout(Some(STEP)).unwrap();
            behaviour(stream);
        }
    });
    addr
}

/// Like [`serve_once`], for every connection that comes, each on its own thread.
pub fn serve_each(behaviour: impl Fn(TcpStream) + Send + Sync + 'static) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let behaviour = std::sync::Arc::new(behaviour);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            stream.set_read_timeout(Some(STEP)).unwrap();
            stream.set_write_timeout(Some(STEP)).unwrap();
            let behaviour = std::sync::Arc::clone(&behaviour);
            thread::spawn(move || behaviour(stream));
        }
    });
    addr
}

/// Echoes everything, whole chunks as they come.
pub fn echo(mut stream: TcpStream) {
    let mut buf = [0u8; 64 * 1024];
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        if stream.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

/// An echo that flips one bit of the byte at stream offset `at`, and of every `every`-th byte
/// after it: the corruption a measuring client must catch.
pub fn echo_corrupting(mut stream: TcpStream, at: u64, every: u64) {
    let mut buf = [0u8; 16 * 1024];
    let mut offset: u64 = 0;
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        for (i, byte) in buf[..n].iter_mut().enumerate() {
            let position = offset + i as u64;
            if position >= at && (position - at) % every == 0 {
                *byte ^= 0x01;
            }
        }
        offset += n as u64;
        if stream.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

/// Opens a pseudo-terminal: (controller side, terminal side).
#[cfg(unix)]
pub fn open_pty() -> (std::fs::File, std::os::fd::OwnedFd) {
    let mut controller = -1;
    let mut terminal = -1;
    // SAFETY: openpty writes two new descriptors into the integers; the null pointers mean no
    // name, default terminal settings and window size.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            // Mutable on macOS, const on Linux: a null `*mut` serves both.
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just created by openpty and are owned by nobody else.
    unsafe {
        use std::os::fd::FromRawFd;
        (
            std::fs::File::from_raw_fd(controller),
            std::os::fd::OwnedFd::from_raw_fd(terminal),
        )
    }
}

/// Makes `command` start with its open-file limits set to `soft` and `hard`.
#[cfg(unix)]
pub fn limit_open_files(command: &mut Command, soft: u64, hard: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe and touches only the child's limits.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// All that a finished child wrote on its piped standard error.
pub fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        stderr
            .read_to_string(&mut text)
            .expect("read standard error");
    }
    text
}

/// True for a socket error that means the peer is gone (reset, closed, aborted), as opposed to a
/// local fault.
pub fn is_disconnect(err: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        err.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
            | ErrorKind::NotConnected
    )
}

/// An external program a test runs (promtool, prometheus, systemd-socket-activate, tcpsvd), if
/// it is installed. When it is not, the test says so and is skipped (returns `None`), unless
/// `SOC_REQUIRE_PEERS` is set, as `.ci/run` sets it: there, a missing peer fails the test.
pub fn peer(program: &str, package: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        let what = format!("{program} is not installed (Debian: apt-get install {package})");
        if std::env::var_os("SOC_REQUIRE_PEERS").is_some() {
            panic!("{what}");
        }
        eprintln!("skipped: {what}");
    }
    found
}

/// What `program ARGS` made of `input` on its standard input: its exit status, standard output
/// and standard error (a checker a test asks for its verdict: groff, promtool).
pub fn fed(program: &std::path::Path, args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `GET path` on an HTTP server at `addr`, with `headers` (each `Name: value`): the status line
/// and the body.
pub fn http_get(addr: SocketAddr, path: &str, headers: &[&str]) -> (String, String) {
    let stream = connect(addr);
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    (&stream).write_all(request.as_bytes()).unwrap();
    let answer = String::from_utf8(read_to_end(&stream)).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// The value of the sample `series` (`name{labels}` as the exposition writes it) in `text`.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
}

/// The address a `metrics on http://ADDR/metrics` line names.
pub fn metrics_addr(line: &str) -> SocketAddr {
    line.strip_prefix("metrics on http://")
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("not a metrics line: {line:?}"))
        .parse()
        .unwrap()
}

/// A file in the system's temporary folder, named for this process and `name`, removed on drop.
pub struct TempFile(std::path::PathBuf);

impl TempFile {
    pub fn new(name: &str) -> TempFile {
        TempFile(std::env::temp_dir().join(format!("soc-{}-{name}", std::process::id())))
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    pub fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }

    pub fn read(&self) -> String {
        std::fs::read_to_string(&self.0).unwrap_or_else(|err| panic!("{}: {err}", self.0.display()))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A folder in the system's temporary folder, named for this process and `name`, removed (with
/// what is in it) on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("soc-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether a run failed only because its own generator was late (a debug build on a busy
/// machine): where a test is about something else (a file written, the marking of the
/// packets), that is not what it tests.
pub fn generator_was_late(stderr: &str) -> bool {
    stderr.contains("the run failed: the generator itself was late")
}
