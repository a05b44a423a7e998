//! The mio event loop: one thread owns the listener, every client socket and the server
//! state, and runs turns of poll → read/decode/dispatch → end-of-turn work.
//!
//! Shape (after mio's `tcp_server` example and rustls' `tlsserver-mio`, without their
//! unbounded buffers): read until `WouldBlock` or the turn's byte budget; a connection cut
//! short (budget, backpressure) goes on the `stalled` list because no new edge will come;
//! interest is recomputed from state at the end of each turn (WRITABLE only while output
//! waits); tokens carry a slab index and a generation so an event for a closed connection
//! that reused the slot is ignored. The poll timeout is the time to the next deadline.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::clock::Clock;
use crate::connection::ReadUntil;
use crate::server::{Server, Settings};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// The signalfd for SIGTERM/SIGINT (above every slab token; `usize::MAX` is mio's).
const SIGNALS: Token = Token(usize::MAX - 1);
/// How long a leader that was asked to stop waits for its successor to take over.
const SHUTDOWN_HANDOVER_TIMEOUT: Duration = Duration::from_secs(3);
/// Tokens of the peer transport (its listener and connections), after the Prometheus
/// endpoint's (2 up to `prometheus::TOKENS_END`).
pub const PEER_TOKENS: std::ops::Range<usize> =
    crate::prometheus::TOKENS_END..crate::prometheus::TOKENS_END + 4096;
/// Tokens below this are the loop's own.
const FIRST_CONN_TOKEN: usize = PEER_TOKENS.end;
const EVENTS_CAPACITY: usize = 1024;
/// How long a one-voter server may take to commit its log at start-up.
const STARTUP_CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// A connection's slot and the generation of the connection that holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnKey {
    pub index: u32,
    pub generation: u32,
}

impl ConnKey {
    pub fn token(self) -> Token {
        let packed = (u64::from(self.generation) << 32) | u64::from(self.index);
        Token(packed as usize + FIRST_CONN_TOKEN)
    }

    pub fn from_token(token: Token) -> Option<ConnKey> {
        let packed = (token.0 as u64).checked_sub(FIRST_CONN_TOKEN as u64)?;
        Some(ConnKey {
            index: packed as u32,
            generation: (packed >> 32) as u32,
        })
    }
}

/// Binds the client port and serves until the process is killed.
pub fn run(
    settings: Settings,
    recovered: crate::storage::Recovered,
    listen: SocketAddr,
    cluster: crate::cluster::ClusterSettings,
) -> io::Result<()> {
    let mut poll = Poll::new()?;
    // Before any thread starts, so that every thread has the signals blocked.
    let mut signals = std::fs::File::from(crate::sys::termination_signals()?);
    {
        use std::os::fd::AsRawFd;
        let fd = signals.as_raw_fd();
        poll.registry()
            .register(&mut mio::unix::SourceFd(&fd), SIGNALS, Interest::READABLE)?;
    }
    let mut stopping: Option<std::time::Instant> = None;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let metrics_listen = match settings.config.metrics_port {
        Some(port) => Some(crate::prometheus::address(
            &settings.config.metrics_host,
            port,
        )?),
        None => None,
    };
    let mut server = Server::new(
        settings,
        recovered,
        waker,
        Clock::read(),
        cluster,
        poll.registry(),
    )?;
    let mut events = Events::with_capacity(EVENTS_CAPACITY);
    server.start_up();
    if server.is_leader() {
        // A one-voter cluster: commit the new term's no-op and every entry before it
        // before the client port opens, so the first client already sees everything.
        let deadline = std::time::Instant::now() + STARTUP_CATCH_UP_TIMEOUT;
        // In recovery mode it serves only once new members joined: no need to wait.
        while !server.is_serving() && !server.in_recovery() {
            if std::time::Instant::now() >= deadline {
                return Err(io::Error::other("the log did not commit within 60 s"));
            }
            match poll.poll(&mut events, Some(Duration::from_millis(100))) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            server.begin_turn(Clock::read());
            if events.iter().any(|e| e.token() == WAKER) {
                server.on_wake();
            }
            server.end_turn(poll.registry());
        }
    }
    let mut listener = TcpListener::bind(listen)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut metrics = match metrics_listen {
        Some(addr) => Some(crate::prometheus::Endpoint::bind(addr, poll.registry())?),
        None => None,
    };
    log::info!("serving ZooKeeper clients on {}", listener.local_addr()?);
    loop {
        if let Some(since) = stopping {
            // A graceful stop: done once another member leads (or no one can take over).
            if !server.is_leader() || since.elapsed() >= SHUTDOWN_HANDOVER_TIMEOUT {
                log::info!("stopped");
                return Ok(());
            }
        }
        let timeout = server.poll_timeout();
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        server.begin_turn(Clock::read());
        for event in events.iter() {
            match event.token() {
                LISTENER => accept_all(&listener, &mut server),
                SIGNALS => {
                    if drain_signals(&mut signals) && stopping.is_none() {
                        log::info!("asked to stop: handing leadership over first if leading");
                        stopping = Some(std::time::Instant::now());
                        if server.is_leader() && !server.yield_leadership() {
                            log::info!("no member can take over; stopping now");
                        }
                    }
                }
                WAKER => server.on_wake(),
                token if crate::prometheus::owns(token) => {
                    if let Some(endpoint) = metrics.as_mut() {
                        endpoint.on_event(token, poll.registry(), &server);
                    }
                }
                token if server.peers.as_ref().is_some_and(|p| p.owns(token)) => {
                    if let Some(peers) = server.peers.as_mut() {
                        peers.on_event(poll.registry(), event, server.clock.now);
                    }
                }
                token => {
                    let Some(key) = ConnKey::from_token(token) else {
                        continue;
                    };
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        // Without a close or an error in the event, a short read means the
                        // socket is drained (see `connection::ReadUntil`).
                        let until = if event.is_read_closed() || event.is_error() {
                            ReadUntil::WouldBlock
                        } else {
                            ReadUntil::ShortRead
                        };
                        server.on_readable(key, until);
                    }
                    if event.is_writable() {
                        server.on_writable(key);
                    }
                }
            }
        }
        server.end_turn(poll.registry());
        if let Some(endpoint) = metrics.as_mut() {
            endpoint.sweep(server.clock.now, poll.registry());
        }
    }
}

/// Reads every pending `signalfd_siginfo` record; true if at least one arrived.
fn drain_signals(signals: &mut std::fs::File) -> bool {
    use std::io::Read;
    let mut got = false;
    let mut record = [0u8; 128];
    loop {
        match signals.read(&mut record) {
            Ok(n) if n > 0 => got = true,
            Ok(_) => return got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return got,
        }
    }
}

fn accept_all(listener: &TcpListener, server: &mut Server) {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => server.on_accept(stream, peer),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // EMFILE and friends: log and retry on the next turn rather than spin.
                log::warn!("accept failed: {e}");
                return;
            }
        }
    }
}

/// Poll timeout from the next deadline: at least 1 ms, at most `max_ms`.
pub fn timeout_until(clock: &Clock, deadline: Option<std::time::Instant>, max_ms: u64) -> Duration {
    let ms = deadline
        .map(|d| clock.ms_until(d))
        .unwrap_or(max_ms)
        .clamp(1, max_ms);
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_with_their_generation() {
        let key = ConnKey {
            index: 17,
            generation: 3,
        };
        assert_eq!(ConnKey::from_token(key.token()), Some(key));
        assert_eq!(ConnKey::from_token(LISTENER), None);
        assert_eq!(ConnKey::from_token(WAKER), None);
        let other = ConnKey {
            index: 17,
            generation: 4,
        };
        assert_ne!(key.token(), other.token());
    }
}
