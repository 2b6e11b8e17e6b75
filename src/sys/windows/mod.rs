//! Windows: Winsock error codes, `SO_EXCLUSIVEADDRUSE`, console control events; no open-file
//! limit.

use std::io;
use std::os::windows::io::AsRawSocket;
use std::sync::OnceLock;
use std::time::Duration;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::Networking::WinSock::{
    setsockopt, WSAIoctl, SIO_UDP_CONNRESET, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, WSAECONNABORTED,
    WSAECONNREFUSED, WSAECONNRESET, WSAEHOSTDOWN, WSAEHOSTUNREACH, WSAEINTR, WSAEMFILE,
    WSAENETDOWN, WSAENETRESET, WSAENETUNREACH, WSAENOBUFS, WSAENOTCONN, WSAETIMEDOUT,
    WSAEWOULDBLOCK,
};
use windows_sys::Win32::System::Console::{
    FlushConsoleInputBuffer, GetConsoleMode, GetStdHandle, SetConsoleCtrlHandler, CTRL_BREAK_EVENT,
    CTRL_CLOSE_EVENT, CTRL_C_EVENT, STD_INPUT_HANDLE,
};
use windows_sys::Win32::System::IO::CancelIoEx;

use super::{AcceptErrorClass, OpenFileLimit, StopSignal};

mod datagram;

pub(super) use datagram::{
    is_too_big, path_mtu, receive, report_destination, report_marks, send_from, set_marking,
    TRAFFIC_CLASS_UNSUPPORTED,
};

/// How long before its time a wait stops sleeping in the poll and polls without waiting: the
/// poll's timeout is in milliseconds, rounded up, so sleeping to the last moment would wake late.
const SPIN_MARGIN: Duration = Duration::from_millis(2);

/// The poll's own timeout, which is in milliseconds here: it sleeps until a little before the
/// time, and the loop polls without waiting for the rest.
pub(super) struct Alarm;

impl Alarm {
    pub(super) fn new(_registry: &mio::Registry, _token: mio::Token) -> io::Result<Alarm> {
        Ok(Alarm)
    }

    pub(super) fn set(&mut self, after: Duration) -> Duration {
        after.saturating_sub(SPIN_MARGIN)
    }

    pub(super) fn clear(&mut self) {}
}

/// `STATUS_CONTROL_C_EXIT`: the code Windows gives a console program ended by Ctrl-C.
const STATUS_CONTROL_C_EXIT: u32 = 0xC000_013A;

/// How long the console-close handler holds the process open for the clean stop: Windows ends
/// the process when the handler returns, and at the latest about 5 s after the close.
const CLOSE_GRACE: Duration = Duration::from_secs(4);

pub(super) fn classify_accept_error(code: i32) -> AcceptErrorClass {
    match code {
        WSAEMFILE | WSAENOBUFS => AcceptErrorClass::Resources,
        // Windows reports a connection reset or abandoned while it waited in the queue from
        // accept() itself (where Linux hands it over and the first read fails).
        WSAECONNRESET | WSAECONNABORTED | WSAECONNREFUSED | WSAENOTCONN | WSAENETRESET
        | WSAETIMEDOUT | WSAEINTR | WSAEWOULDBLOCK | WSAENETDOWN | WSAEHOSTDOWN
        | WSAEHOSTUNREACH | WSAENETUNREACH => AcceptErrorClass::Connection,
        _ => AcceptErrorClass::Other,
    }
}

pub(super) fn raise_open_file_limit(_sockets: usize) -> io::Result<OpenFileLimit> {
    log::debug!("no open-file limit to raise on Windows: sockets are limited by memory only");
    Ok(OpenFileLimit::NotApplicable)
}

pub(super) fn claim_datagram_port(socket: &socket2::Socket) -> io::Result<()> {
    claim_listening_port(socket)
}

pub(super) fn ignore_port_unreachable(socket: &socket2::Socket) -> io::Result<()> {
    let off: u32 = 0;
    let mut returned: u32 = 0;
    // SAFETY: WSAIoctl reads `cbinbuffer` bytes from the input pointer, which points at `off`,
    // writes the byte count to `returned`, and uses no output buffer; both live for the call,
    // which is synchronous (no OVERLAPPED); the socket handle is owned by `socket`.
    let rc = unsafe {
        WSAIoctl(
            socket.as_raw_socket() as _,
            SIO_UDP_CONNRESET,
            (&off as *const u32).cast(),
            std::mem::size_of::<u32>() as u32,
            std::ptr::null_mut(),
            0,
            &mut returned,
            std::ptr::null_mut(),
            None,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub(super) const TERMINAL_LINE_LIMIT: Option<usize> = None;

/// Windows keeps no load average.
pub(super) fn load_average() -> Option<f64> {
    None
}

/// Windows has no socket activation: no socket is ever handed over.
pub(super) fn handed_sockets() -> io::Result<Option<Vec<super::Handed>>> {
    Ok(None)
}

/// Windows has no inetd: standard input and output are not a connection to serve.
pub(super) fn inetd_connection() -> io::Result<super::HandedConnection> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "inetd mode serves a connection a Unix super-server (inetd, xinetd, tcpsvd) hands over \
         on standard input and output; Windows has none",
    ))
}

// Never called: no connection is ever handed over on Windows.
pub(super) fn set_handed_timeouts(
    _connection: &super::HandedConnection,
    _idle: Option<std::time::Duration>,
) {
}

pub(super) fn end_handed_output(_writer: std::fs::File) {}

/// Windows has no inetd, so standard error is never a connection handed over.
pub(super) fn stderr_is_the_connection() -> bool {
    false
}

pub(super) fn discard_pending_input() {
    // SAFETY: plain calls on the process's own standard input handle; GetConsoleMode tells a
    // console from a pipe or file, which are left alone, and a failure changes nothing.
    unsafe {
        let input = GetStdHandle(STD_INPUT_HANDLE);
        let mut mode = 0;
        if GetConsoleMode(input, &mut mode) != 0 {
            FlushConsoleInputBuffer(input);
        }
    }
}

pub(super) fn claim_listening_port(socket: &socket2::Socket) -> io::Result<()> {
    let on: u32 = 1;
    // SAFETY: setsockopt reads `optlen` bytes from `optval`, which points at `on`, alive for the
    // call; the socket handle is owned by `socket`.
    let rc = unsafe {
        setsockopt(
            socket.as_raw_socket() as _,
            SOL_SOCKET,
            SO_EXCLUSIVEADDRUSE,
            (&on as *const u32).cast(),
            std::mem::size_of::<u32>() as i32,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub(super) fn cancel_blocked_io(stream: &std::net::TcpStream) {
    // SAFETY: CancelIoEx with no OVERLAPPED cancels every pending I/O on the handle, which
    // `stream` owns and keeps open for the call; it touches no memory of ours.
    unsafe {
        CancelIoEx(stream.as_raw_socket() as HANDLE, std::ptr::null());
    }
}

pub(super) fn exit_code(_signal: StopSignal) -> i32 {
    STATUS_CONTROL_C_EXIT as i32
}

type Forward = Box<dyn Fn(StopSignal) + Send + Sync>;

/// Where the console handler sends what it receives; set once, by the first registration.
static FORWARD: OnceLock<Forward> = OnceLock::new();

pub(super) fn on_stop_signals(forward: Forward) -> io::Result<()> {
    if FORWARD.set(forward).is_err() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "stop signals are already handled",
        ));
    }
    // SAFETY: registers a handler function that lives for the whole program.
    if unsafe { SetConsoleCtrlHandler(Some(console_handler), 1) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Runs on a thread Windows creates for each console event, so it may take locks and block.
unsafe extern "system" fn console_handler(event: u32) -> i32 {
    let signal = match event {
        CTRL_C_EVENT => StopSignal::Interrupt,
        CTRL_BREAK_EVENT => StopSignal::Break,
        CTRL_CLOSE_EVENT => StopSignal::ConsoleClosed,
        // Log-off and shut-down events go to the default handler.
        _ => return 0,
    };
    if let Some(forward) = FORWARD.get() {
        forward(signal);
    }
    if event == CTRL_CLOSE_EVENT {
        // Returning lets Windows end the process now; waiting gives the clean stop its time
        // (the process exits from main first when the stop is done).
        std::thread::sleep(CLOSE_GRACE);
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_are_sorted_by_winsock_code() {
        for code in [WSAEMFILE, WSAENOBUFS] {
            assert_eq!(classify_accept_error(code), AcceptErrorClass::Resources);
        }
        for code in [WSAECONNRESET, WSAECONNABORTED, WSAENOTCONN, WSAEINTR] {
            assert_eq!(classify_accept_error(code), AcceptErrorClass::Connection);
        }
        // WSAEINVAL: the listener itself is unusable.
        assert_eq!(classify_accept_error(10022), AcceptErrorClass::Other);
    }

    #[test]
    fn a_second_ctrl_c_exits_as_windows_reports_it() {
        assert_eq!(
            exit_code(StopSignal::Interrupt) as u32,
            STATUS_CONTROL_C_EXIT
        );
    }
}
