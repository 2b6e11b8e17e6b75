//! Where a client connects: the server's addresses, how long a connect may take, and what the
//! client asks of the path (marking, source address, family).

use std::net::{SocketAddr, TcpStream};

use anyhow::bail;

use super::marking::{Family, PathOptions};
use crate::limits::Limit;

/// Where a client connects: the server's addresses, tried in turn, how long each connect may
/// take, and the path options every socket to it is made with. Every client mode, and `ping`
/// and `bench`, start from one.
#[derive(Debug, Clone)]
pub struct Target {
    addrs: Vec<SocketAddr>,
    connect_timeout: Limit,
    path: PathOptions,
}

impl Target {
    /// Resolves `host` (a name, an IPv4 or IPv6 literal, `[::1]`) and `port`, keeping the
    /// addresses of the family `path` asks for.
    pub fn resolve(
        host: &str,
        port: u16,
        connect_timeout: Limit,
        path: PathOptions,
    ) -> anyhow::Result<Target> {
        let found = super::resolve(host, port)?;
        let addrs = of_family(found, path.family)
            .map_err(|family| anyhow::anyhow!("{host} has no {family} address"))?;
        Ok(Target {
            addrs,
            connect_timeout,
            path,
        })
    }

    /// A target at addresses already known (at least one, for a connect to succeed), with no
    /// path options.
    pub fn new(addrs: Vec<SocketAddr>, connect_timeout: Limit) -> Target {
        Target {
            addrs,
            connect_timeout,
            path: PathOptions::default(),
        }
    }

    /// The same target at one of its addresses only.
    pub fn only(&self, addr: SocketAddr) -> Target {
        Target {
            addrs: vec![addr],
            ..self.clone()
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

    /// What the client asks of the path.
    pub fn path(&self) -> &PathOptions {
        &self.path
    }

    /// Connects to the first address that accepts, with `TCP_NODELAY` set and the path options
    /// applied before the handshake (its SYN is marked too); a socket that turns out to be
    /// connected to itself is refused.
    pub fn connect(&self) -> anyhow::Result<TcpStream> {
        super::connect_to(&self.addrs, self.connect_timeout.as_option(), &self.path)
    }
}

/// The addresses of `family`, or the family's name when there are none.
fn of_family(addrs: Vec<SocketAddr>, family: Family) -> Result<Vec<SocketAddr>, &'static str> {
    let kept: Vec<SocketAddr> = addrs.into_iter().filter(|a| family.admits(a)).collect();
    match (kept.is_empty(), family) {
        (true, Family::V4) => Err("IPv4 (-4)"),
        (true, Family::V6) => Err("IPv6 (-6)"),
        (true, Family::Any) => Err("IP"),
        (false, _) => Ok(kept),
    }
}

/// Refuses a source address of the other family than the server's, before the system does with
/// a less helpful error.
pub(crate) fn check_source(source: SocketAddr, server: SocketAddr) -> anyhow::Result<()> {
    if source.is_ipv4() != server.is_ipv4() {
        bail!("--source {source} cannot reach {server}: one is IPv4, the other IPv6");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_keeps_only_its_addresses_and_says_when_there_are_none() {
        let both: Vec<SocketAddr> =
            vec!["[::1]:7".parse().unwrap(), "127.0.0.1:7".parse().unwrap()];
        assert_eq!(of_family(both.clone(), Family::V4).unwrap(), vec![both[1]]);
        assert_eq!(of_family(both.clone(), Family::V6).unwrap(), vec![both[0]]);
        assert_eq!(of_family(both.clone(), Family::Any).unwrap(), both);
        assert_eq!(of_family(vec![both[1]], Family::V6), Err("IPv6 (-6)"));
    }
}
