//! The limits a user sets, in the library's own terms: time limits that may be switched off, and
//! the names of the settings a message can point at.
//!
//! The library never names a command-line flag. A message that a change of some setting would
//! answer ("no echo for 10 s", "already serving 1024 clients") is a [`Hinted`] text that points
//! at the [`Setting`] with a placeholder (`{timeout}`), and whoever shows it supplies the
//! [`SettingNames`]: the binaries pass their flags (`--timeout`, `--max-clients`), and a program
//! using the library gets the names of the configuration fields (`timeout`, `max_clients`).

use std::fmt;
use std::time::Duration;

use crate::human;

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

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::After(duration) => f.write_str(&human::secs(*duration)),
            Limit::Never => f.write_str("never"),
        }
    }
}

/// A setting a message may point at, because changing it would change what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// How long a client waits for an echo to make progress.
    Timeout,
    /// How long a client waits for a connection.
    ConnectTimeout,
    /// How long the server keeps a client that does nothing.
    IdleTimeout,
    /// How many clients the server serves at once.
    MaxClients,
    /// How many clients the server serves at once from one source.
    MaxPerSource,
    /// How many datagrams a second the server echoes to one source.
    UdpRatePerSource,
    /// How many connections a load generator opens.
    Connections,
    /// How many threads drive a load generator's connections.
    Threads,
    /// How many messages a second an open-loop load generator sends.
    Rate,
}

impl Setting {
    const ALL: [Setting; 9] = [
        Setting::Timeout,
        Setting::ConnectTimeout,
        Setting::IdleTimeout,
        Setting::MaxClients,
        Setting::MaxPerSource,
        Setting::UdpRatePerSource,
        Setting::Connections,
        Setting::Threads,
        Setting::Rate,
    ];

    /// The setting's name in the library's configuration structs, and its placeholder in a
    /// [`Hinted`] text.
    pub fn field(self) -> &'static str {
        match self {
            Setting::Timeout => "timeout",
            Setting::ConnectTimeout => "connect_timeout",
            Setting::IdleTimeout => "idle_timeout",
            Setting::MaxClients => "max_clients",
            Setting::MaxPerSource => "max_per_source",
            Setting::UdpRatePerSource => "udp_rate_per_source",
            Setting::Connections => "connections",
            Setting::Threads => "threads",
            Setting::Rate => "rate",
        }
    }
}

/// How the reader of a message knows each [`Setting`]: a binary's flags, or [`Setting::field`].
pub type SettingNames = fn(Setting) -> &'static str;

/// A message that points at settings by placeholder, `{timeout}` or `{max_clients}` (the names of
/// [`Setting::field`] in braces): [`Hinted::render`] puts in the names its reader knows. It is
/// also an error, so a library function can fail with it and its caller word the hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hinted(String);

impl Hinted {
    /// A message with placeholders; in a `format!` string they are written `{{timeout}}`.
    pub fn new(text: impl Into<String>) -> Self {
        Hinted(text.into())
    }

    /// The message with every placeholder replaced by the setting's name in `names`.
    pub fn render(&self, names: SettingNames) -> String {
        let mut text = self.0.clone();
        for setting in Setting::ALL {
            let placeholder = format!("{{{}}}", setting.field());
            if text.contains(&placeholder) {
                text = text.replace(&placeholder, names(setting));
            }
        }
        text
    }
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Setting::field))
    }
}

impl std::error::Error for Hinted {}

/// An error and its causes on one line, as `{:#}` shows them, with every [`Hinted`] among them
/// rendered through `names`.
pub fn describe(err: &anyhow::Error, names: SettingNames) -> String {
    let causes: Vec<String> = err
        .chain()
        .map(|cause| match cause.downcast_ref::<Hinted>() {
            Some(hinted) => hinted.render(names),
            None => cause.to_string(),
        })
        .collect();
    causes.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_no_limit_and_limits_read_in_seconds() {
        assert_eq!(Limit::from_duration(Duration::ZERO), Limit::Never);
        let limit = Limit::from_duration(Duration::from_millis(1500));
        assert_eq!(limit.as_option(), Some(Duration::from_millis(1500)));
        assert_eq!(limit.to_string(), "1.5 s");
        assert_eq!(Limit::Never.to_string(), "never");
    }

    fn flags(setting: Setting) -> &'static str {
        match setting {
            Setting::Timeout => "--timeout",
            Setting::MaxClients => "soc_server --max-clients",
            _ => "--other",
        }
    }

    #[test]
    fn a_hinted_message_names_settings_as_its_reader_knows_them() {
        let hinted = Hinted::new("no echo for 1 s ({timeout}); full at {max_clients}?");
        assert_eq!(
            hinted.render(flags),
            "no echo for 1 s (--timeout); full at soc_server --max-clients?"
        );
        assert_eq!(
            hinted.to_string(),
            "no echo for 1 s (timeout); full at max_clients?"
        );
        let err = anyhow::Error::new(hinted).context("sending to 127.0.0.1:7 failed");
        assert_eq!(
            describe(&err, flags),
            "sending to 127.0.0.1:7 failed: no echo for 1 s (--timeout); full at soc_server \
             --max-clients?"
        );
        assert_eq!(
            describe(&err, flags),
            format!("{err:#}")
                .replace("(timeout)", "(--timeout)")
                .replace("max_clients", "soc_server --max-clients")
        );
    }
}
