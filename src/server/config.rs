//! What a server is allowed to do: its limits, who may use it, and how its log names a setting.

use std::time::Duration;

use super::access::Access;
use super::thread_cache::ThreadCacheConfig;
use crate::limits::{Limit, Setting, SettingNames};

/// What the server is allowed to do.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Most clients served at once; a connection beyond that is accepted and closed at once.
    pub max_clients: usize,
    /// Most clients served at once from one source (an IPv4 address, an IPv6 /64), so that one
    /// host cannot take every place; `None`: no such limit. Beyond it, as beyond
    /// `max_clients`, a connection is accepted and closed at once.
    pub max_per_source: Option<usize>,
    /// How long a client may send nothing, or leave its echo unread, before it is disconnected.
    pub idle_timeout: Limit,
    /// How many client threads wait for the next client once theirs has left, and for how long.
    pub thread_cache: ThreadCacheConfig,
    /// Serve UDP echo as well, on every address and the same port number.
    pub udp: bool,
    /// Who may use the service (`--allow`, `--deny`); everyone by default.
    pub access: Access,
    /// At most this many datagrams a second echoed to one source; `None`: no such limit.
    pub udp_rate_per_source: Option<u32>,
    /// How UDP echoes are marked.
    pub udp_marking: EchoMarking,
    /// How the log names a setting it points at (soc_server: its flags).
    pub names: SettingNames,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_clients: 1024,
            max_per_source: None,
            idle_timeout: Limit::After(Duration::from_secs(300)),
            thread_cache: ThreadCacheConfig::default(),
            udp: false,
            access: Access::default(),
            udp_rate_per_source: None,
            udp_marking: EchoMarking::ServerDefault,
            names: Setting::field,
        }
    }
}

/// How a UDP echo is marked (its DSCP and ECN).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EchoMarking {
    /// As the server's socket sends anything: the system's default.
    #[default]
    ServerDefault,
    /// With the marking its datagram arrived with (`--reflect-tos`), so that what comes back
    /// tells what the whole round trip kept.
    Reflected,
}
