//! The command line of both binaries: the options they share, how their words are parsed, and
//! how their messages name a setting. Only the binaries use this module; nothing in the library
//! knows that a flag exists.

use std::time::Duration;

use clap::Args;

use crate::human;
use crate::limits::{Limit, Setting};

pub mod client;
mod generate;
mod outcome;
pub mod server;

pub use generate::{generate, Generate};
pub use outcome::{conclude, Outcome};

/// Where the client connects: `[HOST [PORT]]` in netcat's order, or `--host`/`--port`.
#[derive(Debug, Clone, Args)]
struct Endpoint {
    /// Server to connect to: a name or address, `HOST:PORT` or `[IPV6]:PORT` (netcat's order:
    /// soc_client HOST PORT) [default: 127.0.0.1, or $SOC_HOST]
    #[arg(value_name = "HOST")]
    pub target: Option<String>,

    /// Server port, after HOST (netcat's order) [default: 8888, or $SOC_PORT]
    #[arg(value_name = "PORT", value_parser = parse_port)]
    pub target_port: Option<u16>,

    /// Server address or host name, like HOST
    #[arg(long, global = true, help_heading = "Connection")]
    pub host: Option<String>,

    /// Server port, like PORT
    #[arg(short, long, global = true, help_heading = "Connection",
          value_parser = parse_port, allow_negative_numbers = true)]
    pub port: Option<u16>,
}

/// The host a client connects to when none is given.
const DEFAULT_HOST: &str = "127.0.0.1";

/// The port a client connects to, and a server listens on, when none is given.
const DEFAULT_PORT: u16 = 8888;

impl Endpoint {
    /// The host and port asked for: positionals, options, `SOC_HOST`/`SOC_PORT`, then the
    /// defaults. A clash (`soc_client a --host b`, `a:1 --port 2`) is an error for clap to
    /// report as a usage error.
    fn resolve(&self) -> Result<(String, u16), String> {
        let (host, embedded_port) = match &self.target {
            Some(target) => split_host_port(target)?,
            None => (None, None),
        };
        // `soc_client ::1:8888` without a port of its own: most likely a port in the wrong place,
        // and a connection attempt to a stranger's address is no way to find out.
        if let Some(hint) = host.as_deref().and_then(bracket_hint) {
            if self.target_port.is_none() && self.port.is_none() {
                return Err(hint);
            }
        }
        let host = agree("host", host, self.host.clone())?;
        let port = agree("port", embedded_port, self.target_port)?;
        let port = agree("port", port, self.port)?;
        let host = host
            .or_else(|| std::env::var("SOC_HOST").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        let port = match port {
            Some(port) => port,
            None => match std::env::var("SOC_PORT") {
                Ok(text) => match text.parse::<u16>() {
                    Ok(port) if port > 0 => port,
                    _ => return Err(format!("SOC_PORT={text:?} is not a port (1 to 65535)")),
                },
                Err(_) => DEFAULT_PORT,
            },
        };
        Ok((host, port))
    }
}

impl Endpoint {
    /// Whether a host or port was given at all (before a subcommand that takes none).
    fn given(&self) -> bool {
        self.target.is_some()
            || self.target_port.is_some()
            || self.host.is_some()
            || self.port.is_some()
    }

    /// Takes HOST and PORT given after the subcommand too (`ping HOST PORT`); given both before
    /// and after, they must agree.
    fn also(&mut self, target: Option<String>, port: Option<u16>) -> Result<(), String> {
        match (&self.target, target) {
            (_, None) => {}
            (None, target) => self.target = target,
            (Some(before), Some(after)) => {
                let (host_before, port_before) = split_host_port(before)?;
                let (host_after, port_after) = split_host_port(&after)?;
                agree("host", host_before, host_after)?;
                agree("port", port_before, port_after)?;
            }
        }
        self.target_port = agree("port", self.target_port, port)?;
        Ok(())
    }
}

/// For HOST written `::1:8888`: a bare IPv6 address whose last group reads as a port after an
/// address of its own, the way to write what was most likely meant, `[::1]:8888`. (A bare IPv6
/// address has no room for a port: `::1:8888` is one address, somewhere else.)
fn bracket_hint(host: &str) -> Option<String> {
    host.parse::<std::net::Ipv6Addr>().ok()?;
    let (before, last) = host.rsplit_once(':')?;
    let looks_like_port = (2..=5).contains(&last.len())
        && last.bytes().all(|b| b.is_ascii_digit())
        && last.parse::<u16>().is_ok_and(|port| port > 0);
    let address_before = !before.ends_with(':') && before.parse::<std::net::Ipv6Addr>().is_ok();
    (looks_like_port && address_before).then(|| {
        format!(
            "'{host}' reads as one IPv6 address; if {last} is the port, write [{before}]:{last} \
             (or --host {host} for that address)"
        )
    })
}

/// Two ways of saying one thing must say the same.
fn agree<T: PartialEq + std::fmt::Display>(
    what: &str,
    first: Option<T>,
    second: Option<T>,
) -> Result<Option<T>, String> {
    match (first, second) {
        (Some(a), Some(b)) if a != b => Err(format!("the {what} is given twice: {a} and {b}")),
        (a, b) => Ok(a.or(b)),
    }
}

/// Splits `HOST`, `HOST:PORT`, `[IPV6]` or `[IPV6]:PORT`; a bare IPv6 address (`::1`) is a host.
fn split_host_port(text: &str) -> Result<(Option<String>, Option<u16>), String> {
    let port_of = |port: &str| match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(Some(port)),
        _ => Err(format!("'{text}': '{port}' is not a port (1 to 65535)")),
    };
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{text}': missing ']'"))?;
        return match after {
            "" => Ok((Some(host.to_string()), None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((Some(host.to_string()), port_of(port)?)),
                None => Err(format!("'{text}': expected ':PORT' after ']'")),
            },
        };
    }
    match text.split_once(':') {
        // One colon: HOST:PORT. More: an IPv6 address without a port.
        Some((host, port)) if !port.contains(':') => Ok((Some(host.to_string()), port_of(port)?)),
        _ => Ok((Some(text.to_string()), None)),
    }
}

/// `-v` / `-q`: how much goes to standard error.
#[derive(Debug, Clone, Copy, Args)]
pub struct Verbosity {
    /// More log output on standard error: -v debug, -vv trace (with a hex dump of the traffic)
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Logging")]
    pub verbose: u8,

    /// Only warnings and errors on standard error
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Logging"
    )]
    pub quiet: bool,
}

impl Verbosity {
    /// The log level these flags ask for.
    pub fn level(self) -> log::LevelFilter {
        match (self.quiet, self.verbose) {
            (true, _) => log::LevelFilter::Warn,
            (false, 0) => log::LevelFilter::Info,
            (false, 1) => log::LevelFilter::Debug,
            (false, _) => log::LevelFilter::Trace,
        }
    }
}

/// How soc_client's messages name each setting: its own flags, and the server's by program.
pub fn client_flag(setting: Setting) -> &'static str {
    match setting {
        Setting::Timeout => "--timeout",
        Setting::ConnectTimeout => "--connect-timeout",
        Setting::Connections => "-c",
        Setting::Threads => "-t",
        Setting::Rate => "--rate",
        Setting::IdleTimeout => "soc_server --idle-timeout",
        Setting::MaxClients => "soc_server --max-clients",
        Setting::MaxPerSource => "soc_server --max-per-source",
        Setting::UdpRatePerSource => "soc_server --udp-rate-per-source",
    }
}

/// How soc_server's messages name each setting: its flags.
pub fn server_flag(setting: Setting) -> &'static str {
    match setting {
        Setting::IdleTimeout => "--idle-timeout",
        Setting::MaxClients => "--max-clients",
        Setting::MaxPerSource => "--max-per-source",
        Setting::UdpRatePerSource => "--udp-rate-per-source",
        // Client settings never appear in the server's messages.
        other => client_flag(other),
    }
}

/// What the size suffixes mean, in a size's error message (`--help` says it in full).
const SIZE_UNITS: &str = "K, M, G or KiB, MiB, GiB are 1024-based; kB, MB, GB 1000-based";

/// Parses a number of seconds (fractions allowed) into a [`Duration`].
fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if secs < 0.0 {
        return Err(format!("'{text}': must be 0 seconds or more"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("'{text}' is not a valid duration"))
}

/// Parses a number of seconds that must be more than zero (a measuring time, say).
fn parse_positive_secs(text: &str) -> Result<Duration, String> {
    match parse_secs(text)? {
        secs if secs.is_zero() => Err(format!("'{text}': must be more than 0 seconds")),
        secs => Ok(secs),
    }
}

/// Parses a number of seconds where 0 means "no limit".
fn parse_limit(text: &str) -> Result<Limit, String> {
    parse_secs(text).map(Limit::from_duration)
}

/// A parser for a whole number from `min` to `max`, whose errors say the range as people do
/// ("at least 1"), not as a Rust range.
fn whole_in(min: u64, max: u64) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync {
    move |text| {
        let number: i128 = text
            .trim()
            .parse()
            .map_err(|_| format!("'{text}' is not a whole number"))?;
        if number < i128::from(min) {
            return Err(format!("'{text}': must be at least {min}"));
        }
        if number > i128::from(max) {
            return Err(format!("'{text}': must be at most {max}"));
        }
        Ok(number as u64)
    }
}

/// Parses a port to connect to: 1 to 65535.
fn parse_port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<i64>() {
        Ok(port @ 1..=65_535) => Ok(port as u16),
        _ => Err(format!("'{text}' is not a port (1 to 65535)")),
    }
}

/// Parses a port to listen on: 0 (any free one) to 65535.
fn parse_listen_port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<i64>() {
        Ok(port @ 0..=65_535) => Ok(port as u16),
        _ => Err(format!(
            "'{text}' is not a port (0 to 65535; 0 lets the system choose)"
        )),
    }
}

/// Parses `HOST:PORT` (an address or a name; `[::1]:PORT`) to listen on: port 0 lets the system
/// choose.
fn parse_socket_addr(text: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let bad = || format!("'{text}' is not HOST:PORT to listen on (e.g. 127.0.0.1:9100, [::1]:0)");
    text.trim()
        .to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)
}

/// Parses a rate in messages a second, with an optional SI suffix: `5000`, `10k`, `1.5M`.
fn parse_rate(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let (number, scale) = match trimmed.char_indices().last() {
        Some((at, 'k' | 'K')) => (&trimmed[..at], 1e3),
        Some((at, 'm' | 'M')) => (&trimmed[..at], 1e6),
        _ => (trimmed, 1.0),
    };
    let rate = number
        .parse::<f64>()
        .ok()
        .filter(|rate| rate.is_finite())
        .ok_or_else(|| {
            format!("'{text}' is not a rate (e.g. 5000, 10k, 1.5M messages a second)")
        })?
        * scale;
    match rate > 0.0 {
        true => Ok(rate),
        false => Err(format!(
            "'{text}': the rate must be more than 0 messages a second"
        )),
    }
}

/// Parses a size in bytes, the one way every size option takes them: `1000`, `64K`, `1.5G`,
/// `256MiB` (1024-based), `10MB` (1000-based); see [`SIZE_UNITS`].
fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let number_end = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(number_end);
    let invalid = || format!("'{text}' is not a size (e.g. 1000, 64K, 1.5G, 256MiB)");
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let scale: f64 = match unit.trim() {
        "" | "B" | "b" => 1.0,
        "K" | "k" | "KiB" => 1024.0,
        "M" | "m" | "MiB" => 1024.0 * 1024.0,
        "G" | "g" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => return Err(format!("'{text}': unknown unit '{other}' ({SIZE_UNITS})")),
    };
    let bytes = (number * scale).round();
    match bytes < u64::MAX as f64 {
        true => Ok(bytes as u64),
        false => Err(format!("'{text}' is too large")),
    }
}

/// A parser for a size from `min` to `max` bytes, as [`parse_size`] reads it.
fn size_in(min: u64, max: u64) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync {
    move |text| {
        let bytes = parse_size(text)?;
        let limit = |n: u64| match n % 1024 == 0 && n >= 1024 {
            true => human::bytes(n),
            false => human::count(n, "byte", "bytes"),
        };
        if bytes < min {
            return Err(format!("'{text}': must be at least {}", limit(min)));
        }
        if bytes > max {
            return Err(format!("'{text}': must be at most {}", limit(max)));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_reads_binary_and_si_units_and_fractions() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("16K"), Ok(16 << 10));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("2kB"), Ok(2000));
        assert!(parse_size("12X").unwrap_err().contains("unknown unit 'X'"));
        assert!(parse_size("M").is_err());
        assert!(parse_size("-1").is_err());
        assert_eq!(size_in(1, 16 << 20)("16M"), Ok(16 << 20));
        assert_eq!(
            size_in(1, 16 << 20)("17M").unwrap_err(),
            "'17M': must be at most 16.0 MiB (16,777,216 bytes)"
        );
        assert_eq!(
            size_in(1, 65_507)("0").unwrap_err(),
            "'0': must be at least 1 byte"
        );
    }

    #[test]
    fn ranges_read_as_people_say_them() {
        let count = whole_in(1, u64::MAX);
        assert_eq!(count("3"), Ok(3));
        assert_eq!(count("0").unwrap_err(), "'0': must be at least 1");
        assert_eq!(count("-1").unwrap_err(), "'-1': must be at least 1");
        assert_eq!(
            whole_in(1, 256)("300").unwrap_err(),
            "'300': must be at most 256"
        );
        assert!(count("many").unwrap_err().contains("not a whole number"));
        assert_eq!(
            parse_port("-1").unwrap_err(),
            "'-1' is not a port (1 to 65535)"
        );
        assert_eq!(parse_listen_port("0"), Ok(0));
        assert!(parse_secs("-1")
            .unwrap_err()
            .contains("must be 0 seconds or more"));
    }

    #[test]
    fn rates_take_si_suffixes() {
        assert_eq!(parse_rate("5000"), Ok(5000.0));
        assert_eq!(parse_rate("10k"), Ok(10_000.0));
        assert_eq!(parse_rate("1.5M"), Ok(1_500_000.0));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-5").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("inf").is_err());
    }

    #[test]
    fn hosts_and_ports_are_read_the_way_netcat_users_write_them() {
        let split = |text: &str| split_host_port(text).unwrap();
        assert_eq!(split("localhost"), (Some("localhost".into()), None));
        assert_eq!(
            split("127.0.0.1:8888"),
            (Some("127.0.0.1".into()), Some(8888))
        );
        assert_eq!(split("::1"), (Some("::1".into()), None));
        assert_eq!(split("[::1]"), (Some("::1".into()), None));
        assert_eq!(split("[::1]:7"), (Some("::1".into()), Some(7)));
        assert!(split_host_port("host:0").is_err());
        assert!(split_host_port("host:http").is_err());
        assert!(split_host_port("[::1").is_err());
    }

    #[test]
    fn a_host_or_port_given_twice_must_agree() {
        let endpoint = |target: Option<&str>, port: Option<u16>, host: Option<&str>| Endpoint {
            target: target.map(str::to_string),
            target_port: port,
            host: host.map(str::to_string),
            port: None,
        };
        assert_eq!(
            endpoint(Some("example.test:7"), None, None).resolve(),
            Ok(("example.test".into(), 7))
        );
        assert!(endpoint(Some("a:7"), Some(8), None).resolve().is_err());
        assert!(endpoint(Some("a"), None, Some("b")).resolve().is_err());
        assert_eq!(
            endpoint(Some("a"), Some(9), Some("a")).resolve(),
            Ok(("a".into(), 9))
        );
    }

    #[test]
    fn an_ipv6_address_that_ends_in_a_port_gets_the_bracket_hint() {
        assert_eq!(
            bracket_hint("::1:8888").as_deref(),
            Some(
                "'::1:8888' reads as one IPv6 address; if 8888 is the port, write [::1]:8888 (or \
                 --host ::1:8888 for that address)"
            )
        );
        assert_eq!(bracket_hint("fe80::1:7"), None, "one digit is part of it");
        assert_eq!(
            bracket_hint("fe80::1234"),
            None,
            "nothing before it is an address"
        );
        assert_eq!(bracket_hint("::1"), None);
        assert_eq!(bracket_hint("127.0.0.1"), None);
        assert_eq!(bracket_hint("example.test"), None);
    }

    #[test]
    fn zero_seconds_means_no_limit() {
        assert_eq!(parse_limit("0"), Ok(Limit::Never));
        assert_eq!(
            parse_limit("1.5"),
            Ok(Limit::After(Duration::from_millis(1500)))
        );
        assert!(parse_limit("-1").is_err());
        assert!(parse_limit("soon").is_err());
    }
}
