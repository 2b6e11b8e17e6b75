//! Command-line pieces that both binaries share: where to connect or listen, how much to log,
//! and durations given in seconds.

use std::time::Duration;

use clap::Args;

/// The address options of both binaries, `--host` and `--port`.
#[derive(Debug, Clone, Args)]
pub struct Endpoint {
    /// IPv4 or IPv6 address, or host name
    #[arg(long, env = "SOC_HOST", default_value = "127.0.0.1", global = true)]
    pub host: String,

    /// TCP port (for the server, 0 lets the operating system choose one)
    #[arg(short, long, env = "SOC_PORT", default_value_t = 8888, global = true)]
    pub port: u16,
}

/// `-v` / `-q`: how much goes to standard error.
#[derive(Debug, Clone, Copy, Args)]
pub struct Verbosity {
    /// More log output on standard error: -v debug, -vv trace (with a hex dump of the traffic)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only warnings and errors on standard error
    #[arg(short, long, global = true, conflicts_with = "verbose")]
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

    /// Sets up env_logger on standard error at this level; `RUST_LOG`, when set, wins.
    pub fn init_logging(self) {
        self.logger().init();
    }

    /// Like [`Verbosity::init_logging`], through the queue of [`crate::logging`]: a log line
    /// never makes the caller wait for standard error, whoever reads it (or does not).
    pub fn init_logging_without_blocking(self) -> std::io::Result<()> {
        let queue = crate::logging::QueueWriter::to_stderr()?;
        self.logger()
            .target(env_logger::Target::Pipe(Box::new(queue)))
            // The writer thread strips colours where standard error does not show them.
            .write_style(env_logger::WriteStyle::Always)
            .init();
        Ok(())
    }

    fn logger(self) -> env_logger::Builder {
        let mut builder = env_logger::Builder::new();
        builder
            .filter_level(self.level())
            .parse_env("RUST_LOG")
            .format_target(false);
        builder
    }
}

/// Parses a number of seconds (fractions allowed) into a [`Duration`].
pub fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("'{text}' is not a valid duration"))
}

/// Parses a number of seconds where 0 means "no limit".
pub fn parse_limit(text: &str) -> Result<Limit, String> {
    parse_secs(text).map(Limit::from_duration)
}

/// Parses a byte count with an optional binary suffix: `1000`, `64K`, `256MiB`, `1G`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, suffix) = trimmed.split_at(digits_end);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a byte count (e.g. 1000, 64K, 256M, 1G)"))?;
    let shift = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => return Err(format!("'{text}': unknown unit '{suffix}' (use K, M or G)")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// A time limit that may be switched off (`0` on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Wait at most this long.
    After(Duration),
    /// Wait forever.
    Never,
}

impl Limit {
    /// `Duration::ZERO` means [`Limit::Never`], as for `SO_RCVTIMEO`.
    pub fn from_duration(duration: Duration) -> Self {
        if duration.is_zero() {
            Limit::Never
        } else {
            Limit::After(duration)
        }
    }

    /// The limit as socket timeouts take it.
    pub fn as_option(self) -> Option<Duration> {
        match self {
            Limit::After(duration) => Some(duration),
            Limit::Never => None,
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::After(duration) => f.write_str(&format_secs(*duration)),
            Limit::Never => f.write_str("never"),
        }
    }
}

/// Formats a duration as seconds the way a user typed them: `5 s`, `0.25 s`.
pub fn format_secs(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_take_binary_suffixes() {
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("64K"), Ok(64 << 10));
        assert_eq!(parse_bytes("256MiB"), Ok(256 << 20));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert!(parse_bytes("12X").is_err());
        assert!(parse_bytes("M").is_err());
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
