//! `soc_client -u -m TEXT`: one line as one datagram, its echo compared. A datagram may be lost,
//! so one with no echo within the timeout is sent again, twice at most.

use std::io::Write;
use std::time::Instant;

use anyhow::{bail, Context};

use crate::client::MessageOptions;
use crate::dump::{trace_chunk, Direction};
use crate::limits::Hinted;
use crate::net::{
    connect_datagram, means_nothing_listens, NothingListening, Target, RECEIVE_BUFFER,
};

/// Datagrams sent at most for one message: the first and two more.
pub(super) const TRIES: u32 = 3;

/// Sends `options.text` as one line in one datagram, sends it again (up to `TRIES` in all)
/// while no echo comes within the timeout, writes the echo to `output`, and succeeds only if it
/// came back unchanged.
pub fn message(
    target: &Target,
    options: &MessageOptions,
    output: &mut impl Write,
) -> anyhow::Result<()> {
    let (socket, server) = connect_datagram(target)?;
    socket
        .set_read_timeout(options.timeout.as_option())
        .context("could not set the socket timeout")?;
    let mut line = options.text.as_bytes().to_vec();
    line.push(b'\n');
    crate::net::check_fits(&socket, server, line.len(), target.path())?;
    let mut buffer = vec![0u8; RECEIVE_BUFFER];
    for attempt in 1..=TRIES {
        if attempt > 1 {
            log::warn!(
                "no echo from udp {server} within {}: sending the datagram again ({attempt} of \
                 {TRIES})",
                options.timeout
            );
        }
        match socket.send(&line) {
            Ok(_) => trace_chunk(server, Direction::Sent, &line),
            Err(err) if means_nothing_listens(&err) => bail!(NothingListening(server)),
            Err(err) if crate::net::is_too_big(&err) => {
                return Err(crate::net::too_big((&socket).into(), server, line.len()))
            }
            Err(err) => {
                return Err(
                    anyhow::Error::new(err).context(format!("could not send to udp {server}"))
                )
            }
        }
        let sent = Instant::now();
        let echo = loop {
            match socket.recv(&mut buffer) {
                Ok(len) => {
                    let echo = &buffer[..len];
                    trace_chunk(server, Direction::Received, echo);
                    break Some(echo);
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) if means_nothing_listens(&err) => bail!(NothingListening(server)),
                Err(err) if crate::net::is_timeout(&err) => break None,
                Err(err) => {
                    return Err(anyhow::Error::new(err)
                        .context(format!("could not receive from udp {server}")))
                }
            }
        };
        let Some(echo) = echo else {
            continue;
        };
        log::debug!("echo from udp {server} after {:.3?}", sent.elapsed());
        if echo != line.as_slice() {
            return Err(crate::client::message::not_an_echo(server, echo.to_vec()));
        }
        output
            .write_all(echo)
            .and_then(|()| output.flush())
            .context("could not write the echo to standard output")?;
        return Ok(());
    }
    Err(anyhow::Error::new(Hinted::new(format!(
        "no echo from udp {server}: {TRIES} datagrams sent, none came back within {} \
         ({{timeout}}) of being sent",
        options.timeout
    ))))
}
