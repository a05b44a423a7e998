//! Accepting: inbound connections, bounded while they await their hello, and the checks a
//! dialer's hello must pass — the right magic and version, an identity ours admits, our
//! server id, and a member's id — before we answer the ack and deliver its frames. A refusal is one
//! warn line naming the remote address and the reason.

use std::io;
use std::net::SocketAddr;

use mio::net::TcpStream;
use mio::Registry;

use super::frame::{Hello, HelloKind};
use super::link::{Direction, Link, LinkState};
use super::{LinkKey, Peers, ACCEPT_BUDGET};

impl Peers {
    pub(super) fn accept_some(&mut self, registry: &Registry) {
        for _ in 0..ACCEPT_BUDGET {
            match self.listener.accept() {
                Ok((stream, remote)) => self.on_accept(registry, stream, remote),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.listener_stalled = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: retry on a later turn rather than spin.
                    log::warn!("peer transport: accept failed: {e}");
                    self.listener_stalled = false;
                    return;
                }
            }
        }
        self.listener_stalled = true;
    }

    pub(super) fn on_accept(&mut self, registry: &Registry, stream: TcpStream, remote: SocketAddr) {
        let pending_max = 2 * self.members.len().max(1);
        if self.pending_inbound_count >= pending_max {
            log::warn!(
                "refusing peer connection {remote}: {} handshakes already pending",
                self.pending_inbound_count
            );
            self.stats.accepts_over_limit += 1;
            return;
        }
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("set_nodelay failed for peer connection {remote}: {e}");
        }
        let frame_bytes_max = self.settings.frame_bytes_max;
        let link = Link::new(
            stream,
            remote,
            Direction::Inbound,
            None,
            frame_bytes_max,
            self.now,
        );
        if let Some(key) = self.insert(registry, link) {
            self.pending_inbound_count += 1;
            // The socket may already hold the hello, and the poll reports only later
            // arrivals, so read it in `end_turn`.
            self.stalled.insert(key);
        }
        assert!(
            self.pending_inbound_count <= pending_max,
            "pending over its bound"
        );
    }

    /// Why a dialer's hello is refused, if it is.
    pub(super) fn validate_hello(&self, payload: &[u8]) -> Result<Hello, String> {
        let hello = Hello::decode(payload).map_err(|e| format!("malformed handshake: {e}"))?;
        if hello.kind != HelloKind::Dial {
            return Err("it sent an ack instead of a handshake".to_string());
        }
        self.settings.identity.admits(hello.identity)?;
        if hello.to != self.settings.my_id {
            let (to, me) = (hello.to, self.settings.my_id);
            return Err(format!("it wants server id {to} but we are server id {me}"));
        }
        if !self.members.contains_key(&hello.from) {
            return Err(format!("server id {} is not a member", hello.from));
        }
        Ok(hello)
    }

    pub(super) fn on_hello(&mut self, key: LinkKey, payload: &[u8]) {
        let validated = self.validate_hello(payload);
        let remote = self.link(key).expect("called for a live link").remote;
        let hello = match validated {
            Ok(h) => h,
            Err(reason) => {
                log::warn!("refusing peer {remote}: {reason}");
                self.stats.inbound_refused += 1;
                self.close(key);
                return;
            }
        };
        let ack = Hello {
            kind: HelloKind::Ack,
            identity: self.settings.identity,
            from: self.settings.my_id,
            to: hello.from,
        };
        let link = self.link_mut(key).expect("called for a live link");
        link.state = LinkState::Established;
        link.member = Some(hello.from);
        link.queue_frame(&ack.encode());
        assert!(self.pending_inbound_count > 0, "the link was pending");
        self.pending_inbound_count -= 1;
        self.stats.inbound_accepted += 1;
        let member = self
            .members
            .get_mut(&hello.from)
            .expect("validated as a member");
        member.heard = Some(hello.identity);
        let older = member.inbound.replace(key);
        log::info!("accepted peer {} from {remote}", hello.from);
        if let Some(older) = older {
            log::info!(
                "peer {} reconnected; closing its older connection",
                hello.from
            );
            self.close(older);
        }
    }
}
