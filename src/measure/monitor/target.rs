//! What `monitor` watches: each target as the user wrote it (`HOST:PORT`, `tcp://`, `connect://`,
//! `udp://`, `[V6]:PORT`), on the command line or in a file of targets.

use std::fmt;
use std::path::Path;

/// How a target is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// An echo over one kept TCP connection, made again when it fails.
    Tcp,
    /// The time of a TCP handshake, to any TCP server (as `ping --connect`).
    Connect,
    /// A UDP echo, each probe a datagram.
    Udp,
}

impl Proto {
    /// The name in a target (`udp://`), in the metrics' `proto` label and the NDJSON records.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Connect => "connect",
            Proto::Udp => "udp",
        }
    }
}

/// One target to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub proto: Proto,
    /// The host as written, without brackets (a name, or an address).
    pub host: String,
    pub port: u16,
}

impl TargetSpec {
    /// Reads `text`: `[PROTO://]HOST:PORT`, IPv6 as `[::1]:PORT`; PROTO is `tcp` (the default),
    /// `connect` or `udp`. The port is required: a monitored target is a service, and guessing
    /// its port would watch the wrong one.
    pub fn parse(text: &str) -> Result<TargetSpec, String> {
        let text = text.trim();
        let (proto, rest) = match text.split_once("://") {
            Some(("tcp", rest)) => (Proto::Tcp, rest),
            Some(("connect", rest)) => (Proto::Connect, rest),
            Some(("udp", rest)) => (Proto::Udp, rest),
            Some((other, _)) => {
                return Err(format!(
                    "'{text}': unknown kind '{other}://' (tcp://, connect:// or udp://)"
                ))
            }
            None => (Proto::Tcp, text),
        };
        let (host, port) = match rest.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed
                    .split_once(']')
                    .ok_or_else(|| format!("'{text}': missing ']'"))?;
                let port = after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("'{text}': a port after ']' is needed ([::1]:PORT)"))?;
                (host, port)
            }
            None => match rest.rsplit_once(':') {
                Some((host, _)) if host.contains(':') => {
                    return Err(format!(
                        "'{text}': write an IPv6 address in brackets, with its port: [{host}]:PORT"
                    ))
                }
                Some((host, port)) => (host, port),
                None => return Err(format!("'{text}': a port is needed (HOST:PORT)")),
            },
        };
        if host.is_empty() {
            return Err(format!("'{text}': the host is missing"));
        }
        let port = match port.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(format!("'{text}': '{port}' is not a port (1 to 65535)")),
        };
        Ok(TargetSpec {
            proto,
            host: host.to_string(),
            port,
        })
    }

    /// `HOST:PORT` as the `target` label and record say it (`[::1]:7` for IPv6).
    pub fn label(&self) -> String {
        match self.host.contains(':') {
            true => format!("[{}]:{}", self.host, self.port),
            false => format!("{}:{}", self.host, self.port),
        }
    }
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.proto.name(), self.label())
    }
}

/// The targets in `text`, a file's contents: one a line, `#` starting a comment, blank lines
/// skipped; an error names the line (`FILE:LINE`).
pub fn targets_in(path: &Path, text: &str) -> Result<Vec<TargetSpec>, String> {
    let mut targets = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let target = TargetSpec::parse(line)
            .map_err(|err| format!("{}:{}: {err}", path.display(), number + 1))?;
        targets.push(target);
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_read_as_written() {
        let tcp = TargetSpec::parse("example.test:7").unwrap();
        assert_eq!(
            (tcp.proto, tcp.host.as_str(), tcp.port),
            (Proto::Tcp, "example.test", 7)
        );
        assert_eq!(tcp.to_string(), "tcp://example.test:7");
        let udp = TargetSpec::parse("udp://[::1]:8888").unwrap();
        assert_eq!((udp.proto, udp.host.as_str()), (Proto::Udp, "::1"));
        assert_eq!(udp.label(), "[::1]:8888");
        assert_eq!(
            TargetSpec::parse("connect://10.0.0.1:22").unwrap().proto,
            Proto::Connect
        );
    }

    #[test]
    fn a_target_that_does_not_read_says_why() {
        let why = |text: &str| TargetSpec::parse(text).unwrap_err();
        assert!(why("example.test").contains("a port is needed"));
        assert!(why("http://example.test:80").contains("unknown kind 'http://'"));
        assert!(why("::1:8888").contains("[::1]:PORT"));
        assert!(why("[::1").contains("missing ']'"));
        assert!(why("[::1]").contains("a port after ']'"));
        assert!(why("host:0").contains("not a port"));
        assert!(why("host:http").contains("not a port"));
        assert!(why(":7").contains("the host is missing"));
    }

    #[test]
    fn a_targets_file_skips_comments_and_names_the_line_it_cannot_read() {
        let path = Path::new("targets.txt");
        let read = targets_in(
            path,
            "# the lab\n127.0.0.1:7  # echo\n\nudp://127.0.0.1:7\n",
        )
        .unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[1].proto, Proto::Udp);
        assert_eq!(
            targets_in(path, "127.0.0.1:7\nnonsense\n").unwrap_err(),
            "targets.txt:2: 'nonsense': a port is needed (HOST:PORT)"
        );
    }
}
