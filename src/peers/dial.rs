//! Dialing: each member gets one outbound connection, redialed with jittered exponential
//! backoff (50 ms doubling to 2 s, each delay drawn from its upper half) whenever it is lost
//! or never completes; the connect is non-blocking and completes on a writable event.
//! Invariant: a member has an outbound link or a scheduled redial, never both.

use std::io;
use std::time::Duration;

use mio::net::TcpStream;
use mio::Registry;

use super::frame::{Hello, HelloKind};
use super::link::{Direction, Link, LinkState};
use super::{LinkKey, Peers, REDIAL_BACKOFF_MS_MAX, REDIAL_BACKOFF_MS_MIN};

/// SplitMix64 (as `raft::Prng`): the redial jitter, seeded, so runs can be replayed.
pub(super) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(super) fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..bound` for jitter (modulo bias is negligible for small bounds).
    pub(super) fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "below(0) has no value");
        self.next_u64() % bound
    }
}

impl Peers {
    pub(super) fn schedule_redial(&mut self, id: u64) {
        let member = self.members.get_mut(&id).expect("redials are for members");
        assert!(member.outbound.is_none(), "redial while connected to {id}");
        member.backoff_ms =
            (member.backoff_ms * 2).clamp(REDIAL_BACKOFF_MS_MIN, REDIAL_BACKOFF_MS_MAX);
        let half = member.backoff_ms / 2;
        let delay_ms = half + self.prng.below(half + 1);
        member.next_dial = Some(self.now + Duration::from_millis(delay_ms));
        assert!(delay_ms <= REDIAL_BACKOFF_MS_MAX, "delay {delay_ms} ms");
    }

    pub(super) fn dial(&mut self, registry: &Registry, id: u64) {
        let member = self.members.get_mut(&id).expect("dials are for members");
        assert!(member.outbound.is_none(), "dial while connected to {id}");
        member.next_dial = None;
        let addr = member.addr;
        self.stats.dials += 1;
        let stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => {
                log::debug!("cannot dial peer {id} at {addr}: {e}");
                self.schedule_redial(id);
                return;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("set_nodelay failed for peer {id} at {addr}: {e}");
        }
        let frame_bytes_max = self.settings.frame_bytes_max;
        let mut link = Link::new(
            stream,
            addr,
            Direction::Outbound,
            Some(id),
            frame_bytes_max,
            self.now,
        );
        let hello = Hello {
            kind: HelloKind::Dial,
            identity: self.settings.identity,
            from: self.settings.my_id,
            to: id,
        };
        link.queue_frame(&hello.encode());
        match self.insert(registry, link) {
            Some(key) => self.members.get_mut(&id).expect("checked above").outbound = Some(key),
            None => self.schedule_redial(id),
        }
    }

    /// A writable (or error) event on a connecting link: the connect finished, one way or
    /// the other — or it was a spurious wake-up and it has not.
    pub(super) fn finish_connect(&mut self, key: LinkKey) {
        let link = self.link_mut(key).expect("called for a live link");
        let outcome = match link.stream.take_error() {
            Ok(Some(e)) | Err(e) => Err(e),
            Ok(None) => link.stream.peer_addr().map(|_| ()),
        };
        match outcome {
            Ok(()) => {
                link.state = LinkState::AwaitingAck;
                self.flush_link(key);
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
            Err(e) => {
                let id = link.member.expect("outbound links know their member");
                log::debug!("cannot connect to peer {id} at {}: {e}", link.remote);
                self.close(key);
            }
        }
    }

    /// The acceptor's answer to our hello: it must name the member we dialed and us, with
    /// an identity ours admits. From then on the link carries our frames.
    pub(super) fn on_ack(&mut self, key: LinkKey, payload: &[u8]) {
        let link = self.link(key).expect("called for a live link");
        let id = link.member.expect("outbound links know their member");
        let remote = link.remote;
        let ack = match Hello::decode(payload) {
            Ok(ack) => ack,
            Err(e) => {
                log::warn!("closing connection to peer {id} at {remote}: malformed ack: {e}");
                self.stats.protocol_errors += 1;
                self.close(key);
                return;
            }
        };
        let refusal =
            if ack.kind != HelloKind::Ack || ack.from != id || ack.to != self.settings.my_id {
                Some(format!("ack {ack:?} is not from {id} to us"))
            } else {
                self.settings.identity.admits(ack.identity).err()
            };
        if let Some(reason) = refusal {
            log::warn!("closing connection to peer {id} at {remote}: {reason}");
            self.stats.protocol_errors += 1;
            self.close(key);
            return;
        }
        self.members.get_mut(&id).expect("a member").heard = Some(ack.identity);
        self.link_mut(key).expect("checked above").state = LinkState::Established;
        self.members.get_mut(&id).expect("a member").backoff_ms = 0;
        log::info!("connected to peer {id} at {remote}");
    }
}
