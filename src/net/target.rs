//! Where a client connects: the server's addresses and how long a connect may take.

use std::net::{SocketAddr, TcpStream};

use crate::limits::Limit;

/// Where a client connects: the server's addresses, tried in turn, and how long each connect may
/// take. Every client mode, and `ping` and `bench`, start from one.
#[derive(Debug, Clone)]
pub struct Target {
    addrs: Vec<SocketAddr>,
    connect_timeout: Limit,
}

impl Target {
    /// Resolves `host` (a name, an IPv4 or IPv6 literal, `[::1]`) and `port`.
    pub fn resolve(host: &str, port: u16, connect_timeout: Limit) -> anyhow::Result<Target> {
        Ok(Target::new(super::resolve(host, port)?, connect_timeout))
    }

    /// A target at addresses already known (at least one, for a connect to succeed).
    pub fn new(addrs: Vec<SocketAddr>, connect_timeout: Limit) -> Target {
        Target {
            addrs,
            connect_timeout,
        }
    }

    /// The addresses, in the order they are tried.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// How long each connect may take.
    pub fn connect_timeout(&self) -> Limit {
        self.connect_timeout
    }

    /// Connects to the first address that accepts, with `TCP_NODELAY` set; a socket that turns
    /// out to be connected to itself is refused.
    pub fn connect(&self) -> anyhow::Result<TcpStream> {
        super::connect_to(&self.addrs, self.connect_timeout.as_option())
    }
}
