//! The metrics port's HTTP: one thread, one event loop, every connection read with a deadline and
//! into a bounded buffer, so that nothing a client does (send garbage, never finish its request
//! line, hold a hundred connections open) costs more than a few kilobytes and a slot, or delays a
//! scrape, and nothing here is ever waited on by an echo or a probe.
//!
//! (tiny_http, the small blocking server first meant for this, spends a thread on each connection
//! and waits on it without a limit, and buffers a request line however long it is: measured, 100
//! idle connections held 82 threads, and a request line of 200 MB grew it to 209 MB.)

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use prometheus_client::registry::Registry;

/// The listener's token and the stop's.
pub(super) const LISTENER: Token = Token(0);
pub(super) const STOP: Token = Token(1);

/// The most bytes of a request's head (its request line and headers) read; a longer one is
/// answered 431 and closed.
const MOST_HEAD: usize = 8 * 1024;

/// How long a connection has to send its request and take the answer.
const DEADLINE: Duration = Duration::from_secs(5);

/// Connections served at once; beyond that the oldest is closed to make room, so that a flood
/// of idle connections cannot keep a scraper out for longer than it takes to cycle them.
const MOST_CONNECTIONS: usize = 256;

/// OpenMetrics' media type, which a scraper that prefers it names in its `Accept` header.
const OPENMETRICS: &str = "application/openmetrics-text";

/// One connection: what it sent, what it gets back.
struct Connection {
    stream: TcpStream,
    head: Vec<u8>,
    answer: Option<Vec<u8>>,
    written: usize,
    deadline: Instant,
}

/// Serves `registry` on `listener` until the stop token is woken.
pub(super) fn serve(mut poll: Poll, mut listener: TcpListener, registry: Registry) {
    if let Err(err) = poll
        .registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
    {
        log::error!("metrics: could not watch the listener: {err}");
        return;
    }
    let mut connections: HashMap<Token, Connection> = HashMap::new();
    let mut order: VecDeque<Token> = VecDeque::new();
    let mut next = 2usize;
    let mut events = Events::with_capacity(256);
    loop {
        let now = Instant::now();
        let wait = connections
            .values()
            .map(|connection| connection.deadline.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_secs(60));
        match poll.poll(&mut events, Some(wait)) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                log::error!("metrics: the event loop failed: {err}");
                return;
            }
        }
        for event in events.iter() {
            match event.token() {
                STOP => return,
                LISTENER => {
                    while let Ok((mut stream, _)) = listener.accept() {
                        if connections.len() >= MOST_CONNECTIONS {
                            if let Some(oldest) = order.pop_front() {
                                close(&poll, &mut connections, oldest);
                            }
                        }
                        let token = Token(next);
                        next += 1;
                        let interest = Interest::READABLE | Interest::WRITABLE;
                        if poll
                            .registry()
                            .register(&mut stream, token, interest)
                            .is_ok()
                        {
                            let deadline = Instant::now() + DEADLINE;
                            connections.insert(token, Connection::new(stream, deadline));
                            order.push_back(token);
                        }
                    }
                }
                token => {
                    let done = match connections.get_mut(&token) {
                        Some(connection) => connection.advance(&registry),
                        None => continue,
                    };
                    if done {
                        close(&poll, &mut connections, token);
                        order.retain(|&t| t != token);
                    }
                }
            }
        }
        let now = Instant::now();
        let expired: Vec<Token> = connections
            .iter()
            .filter(|(_, connection)| connection.deadline <= now)
            .map(|(&token, _)| token)
            .collect();
        for token in expired {
            close(&poll, &mut connections, token);
            order.retain(|&t| t != token);
        }
    }
}

fn close(poll: &Poll, connections: &mut HashMap<Token, Connection>, token: Token) {
    if let Some(mut connection) = connections.remove(&token) {
        let _ = poll.registry().deregister(&mut connection.stream);
    }
}

impl Connection {
    fn new(stream: TcpStream, deadline: Instant) -> Connection {
        Connection {
            stream,
            head: Vec::new(),
            answer: None,
            written: 0,
            deadline,
        }
    }

    /// Reads what came, answers once the request is whole, writes what the socket takes; true
    /// once the connection is done with.
    fn advance(&mut self, registry: &Registry) -> bool {
        let mut buffer = [0u8; 2048];
        while self.answer.is_none() {
            match self.stream.read(&mut buffer) {
                Ok(0) => return true,
                Ok(n) => {
                    let room = (MOST_HEAD + 1).saturating_sub(self.head.len());
                    self.head.extend_from_slice(&buffer[..n.min(room)]);
                    self.answer = answer(&self.head, registry);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
        let Some(answer) = &self.answer else {
            return false;
        };
        while self.written < answer.len() {
            match self.stream.write(&answer[self.written..]) {
                Ok(0) => return true,
                Ok(n) => self.written += n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return false,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        true
    }
}

/// The answer to the request in `head`, once it is whole (or cannot be).
fn answer(head: &[u8], registry: &Registry) -> Option<Vec<u8>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let parsed = request.parse(head);
    if head.len() > MOST_HEAD && !matches!(parsed, Ok(httparse::Status::Complete(_))) {
        return Some(plain(
            431,
            "Request Header Fields Too Large",
            "the request is too long\n",
        ));
    }
    match parsed {
        Ok(httparse::Status::Partial) => None,
        Err(_) => Some(plain(400, "Bad Request", "not an HTTP request\n")),
        Ok(httparse::Status::Complete(_)) => {
            let path = request.path.unwrap_or("").split('?').next().unwrap_or("");
            let method = request.method.unwrap_or("");
            if path != "/metrics" {
                return Some(plain(404, "Not Found", "soc serves /metrics only\n"));
            }
            if method != "GET" && method != "HEAD" {
                let allow = "Allow: GET, HEAD\r\n";
                return Some(text(405, "Method Not Allowed", allow, "GET /metrics\n"));
            }
            let openmetrics = request.headers.iter().any(|header| {
                header.name.eq_ignore_ascii_case("accept")
                    && String::from_utf8_lossy(header.value).contains(OPENMETRICS)
            });
            Some(metrics(registry, openmetrics, method == "HEAD"))
        }
    }
}

/// `200 OK` with the metrics, in OpenMetrics' text when the scraper asked for it, Prometheus's
/// text format otherwise.
fn metrics(registry: &Registry, openmetrics: bool, head_only: bool) -> Vec<u8> {
    let mut body = String::new();
    let (encoded, content_type) = match openmetrics {
        true => (
            prometheus_client::encoding::text::encode(&mut body, registry),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
        false => (
            prometheus_client::encoding::prometheus_text::encode(&mut body, registry),
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        ),
    };
    if encoded.is_err() {
        return plain(
            500,
            "Internal Server Error",
            "the metrics could not be encoded\n",
        );
    }
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: \
         close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        answer.extend_from_slice(body.as_bytes());
    }
    answer
}

/// An answer with a short text body.
fn plain(code: u16, reason: &str, body: &str) -> Vec<u8> {
    text(code, reason, "", body)
}

/// An answer with a short text body and `headers` (each ending in CRLF).
fn text(code: u16, reason: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {code} {reason}\r\n{headers}Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(head: &[u8]) -> Option<String> {
        let answer = answer(head, &Registry::default())?;
        let text = String::from_utf8(answer).unwrap();
        Some(text.lines().next().unwrap().to_string())
    }

    #[test]
    fn requests_are_answered_by_what_they_ask() {
        assert_eq!(
            status(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap(),
            "HTTP/1.1 200 OK"
        );
        assert_eq!(
            status(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n").unwrap(),
            "HTTP/1.1 200 OK"
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\n\r\n").unwrap(),
            "HTTP/1.1 404 Not Found"
        );
        assert_eq!(
            status(b"POST /metrics HTTP/1.1\r\n\r\n").unwrap(),
            "HTTP/1.1 405 Method Not Allowed"
        );
        assert_eq!(
            status(b"\x16\x03\x01garbage\r\n\r\n").unwrap(),
            "HTTP/1.1 400 Bad Request"
        );
        assert_eq!(
            status(b"GET /metrics HTTP/1.1\r\nHost:"),
            None,
            "not whole yet"
        );
        let endless = vec![b'a'; MOST_HEAD + 1];
        assert_eq!(
            status(&endless).unwrap(),
            "HTTP/1.1 431 Request Header Fields Too Large"
        );
        let allow = String::from_utf8(
            answer(b"PUT /metrics HTTP/1.1\r\n\r\n", &Registry::default()).unwrap(),
        )
        .unwrap();
        assert!(allow.contains("\r\nAllow: GET, HEAD\r\n"), "{allow}");
    }

    #[test]
    fn the_format_follows_the_accept_header() {
        let ask = |accept: &str| {
            let head = format!("GET /metrics HTTP/1.1\r\nAccept: {accept}\r\n\r\n");
            String::from_utf8(answer(head.as_bytes(), &Registry::default()).unwrap()).unwrap()
        };
        assert!(
            ask("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
                .contains("application/openmetrics-text; version=1.0.0")
        );
        assert!(ask("text/plain").contains("text/plain; version=0.0.4"));
    }
}
