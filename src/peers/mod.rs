//! The peer transport of the replicated cluster: framed, checksummed byte messages between
//! the members of one cluster, over TCP, driven by the server's mio loop (issue #5).
//!
//! Design: every server dials every other member and uses its OUTBOUND connection only to
//! send, and reads only from INBOUND connections — two TCP connections per pair, so there
//! is no tie-breaking between simultaneous dials. The dialer's first frame is a hello
//! (`frame.rs` has the byte layout: magic `FKPR`, version, identity, from, to). The
//! acceptor refuses, with one warn line naming the remote address and the reason, a hello
//! that is malformed, of another cluster, meant for another server id, or from a server that
//! is not a member; otherwise it answers one ack frame, so the dialer knows it was accepted,
//! and from then on delivers that connection's frames as coming from the member.
//!
//! Identity: an established server presents its cluster id; a fresh one (nothing on disk
//! yet) the id it would start a cluster with, flagged fresh. Each side records what the
//! other said (`heard`), which is how the server decides to start a cluster or join one
//! (server/joining.rs). Members change at run time (`set_members`): a reconfig names new
//! servers and their addresses. A newer
//! inbound connection from a member replaces the older one. A dialer that loses (or never
//! gets) its connection redials with exponential backoff from 50 ms up to 2 s, jittered by a
//! SplitMix64 seeded from our id and the cluster id; a handshake (connect included) taking
//! more than 5 s is closed. Raft tolerates lost messages, so `send` drops rather than blocks.
//!
//! Event-loop shape as in `event_loop.rs`: read until `WouldBlock` or the read budget; a
//! connection cut short goes on `stalled` and is revisited in `end_turn` (the listener too,
//! after its accept budget); interest is recomputed from state in `end_turn`; tokens come
//! only from the range the loop gives us, carry a slab index plus the generation modulo what
//! the range has room for, and an event whose generation does not match is ignored.
//!
//! Bounds: at most `MEMBERS_MAX` members; at most `2 × members` inbound connections awaiting
//! their hello (more are closed at accept); at most one outbound and one established inbound
//! connection per member; output
//! per member at most `queue_bytes_max`; input per connection about two frames of
//! `frame_bytes_max` plus one read budget; and once the frames waiting for `take_received`
//! pass `received_bytes_max`, reading stops until the loop takes them.

mod accept;
mod dial;
pub(crate) mod frame;
mod link;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Interest, Registry, Token};

use crate::connection::ReadScratch;
use dial::SplitMix64;
pub use frame::Identity;
use frame::{FRAME_HEADER_BYTES, HELLO_BYTES};
use link::{Direction, Link, LinkState};

/// Bytes one connection may read per visit before others get theirs.
const READ_BUDGET_BYTES: usize = 256 * 1024;
/// Connections accepted per visit to the listener; the rest wait for `end_turn`.
const ACCEPT_BUDGET: usize = 32;
/// A connection whose handshake (TCP connect included) takes longer is closed.
const HANDSHAKE_TIMEOUT_MS: u64 = 5_000;
const REDIAL_BACKOFF_MS_MIN: u64 = 50;
const REDIAL_BACKOFF_MS_MAX: u64 = 2_000;
/// Generations are kept modulo at most this many, however large the token range.
const TOKEN_GENERATIONS_MAX: usize = 1 << 16;
/// Other members a server can have at once: the slab is sized for this many, so that members
/// added by a reconfig find their slots (ZooKeeper ensembles are a handful of servers).
pub const MEMBERS_MAX: usize = 64;

pub struct PeerSettings {
    pub my_id: u64,
    /// Identifies the cluster (or, fresh, the one this server would start); a peer is
    /// refused unless `Identity::admits` it.
    pub identity: Identity,
    /// Where this server accepts peer connections (server.N's host:peerPort for my_id).
    pub listen: SocketAddr,
    /// Every other member: id -> its peer address (my_id is not in it).
    pub members: BTreeMap<u64, SocketAddr>,
    /// Largest frame payload accepted or sent.
    pub frame_bytes_max: usize,
    /// Bytes queued for one peer before `send` refuses more.
    pub queue_bytes_max: usize,
}

/// Counters for `mntr` and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerStats {
    pub frames_sent: u64,
    pub frames_received: u64,
    /// `send` calls refused (unknown member, not connected, queue full, too large).
    pub frames_dropped: u64,
    pub inbound_accepted: u64,
    /// Inbound handshakes refused (malformed, other cluster, other id, not a member).
    pub inbound_refused: u64,
    /// Connections closed for a bad frame (crc, length) or an unexpected one.
    pub protocol_errors: u64,
    /// Connections closed at accept because too many handshakes were already pending.
    pub accepts_over_limit: u64,
    pub dials: u64,
}

/// A connection's slot and the generation of the connection that holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct LinkKey {
    index: u32,
    generation: u32,
}

struct Slot {
    generation: u32,
    link: Option<Link>,
}

/// What we know of one other member.
struct Member {
    addr: SocketAddr,
    /// Our connection to it, in any state. Invariant: `outbound.is_none() ==
    /// next_dial.is_some()` — a member without one always has a redial scheduled.
    outbound: Option<LinkKey>,
    next_dial: Option<Instant>,
    /// The last redial delay before jitter; 0 after a successful handshake.
    backoff_ms: u64,
    /// Its established connection to us (the newest one).
    inbound: Option<LinkKey>,
    /// What its latest hello or ack said it is.
    heard: Option<Identity>,
    /// Established connections with it, either way, that have closed: frames queued on
    /// them may not have arrived.
    links_lost: u64,
}

impl Member {
    fn new(addr: SocketAddr, now: Instant) -> Member {
        Member {
            addr,
            outbound: None,
            next_dial: Some(now),
            backoff_ms: 0,
            inbound: None,
            heard: None,
            links_lost: 0,
        }
    }
}

pub struct Peers {
    settings: PeerSettings,
    listener: TcpListener,
    read_scratch: ReadScratch,
    local_addr: SocketAddr,
    tokens: Range<usize>,
    /// How many generations the token range distinguishes per slot (at least 1).
    token_generations: usize,
    /// Fixed size: `4 × MEMBERS_MAX` (one outbound, one established inbound, two pending
    /// inbound per member), so the slab never grows and tokens stay stable.
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    members: BTreeMap<u64, Member>,
    /// Inbound links in `AwaitingHello`; at most `2 × members`.
    pending_inbound_count: usize,
    received: Vec<(u64, Vec<u8>)>,
    received_bytes: usize,
    /// Links that stopped reading before `WouldBlock` and must be revisited.
    stalled: BTreeSet<LinkKey>,
    /// The listener stopped accepting at its budget and must be revisited.
    listener_stalled: bool,
    prng: SplitMix64,
    /// The latest instant the loop gave us (`end_turn` gets none).
    now: Instant,
    stats: PeerStats,
}

impl Peers {
    /// Binds the listener and registers it; uses only tokens in `tokens` (a range the event
    /// loop reserves, e.g. 2..2+256), never others.
    pub fn new(
        settings: PeerSettings,
        registry: &Registry,
        tokens: Range<usize>,
        now: Instant,
    ) -> io::Result<Peers> {
        validate_settings(&settings)?;
        let slot_count = 4 * MEMBERS_MAX;
        let token_count = tokens.end.saturating_sub(tokens.start);
        if token_count < 1 + slot_count {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "peer transport: {MEMBERS_MAX} members need {} tokens, the range {tokens:?} \
                     has {}",
                    1 + slot_count,
                    token_count
                ),
            ));
        }
        let token_generations = ((token_count - 1) / slot_count).min(TOKEN_GENERATIONS_MAX);
        let mut listener = TcpListener::bind(settings.listen)?;
        registry.register(&mut listener, Token(tokens.start), Interest::READABLE)?;
        let local_addr = listener.local_addr()?;
        let members = settings
            .members
            .iter()
            .map(|(&id, &addr)| (id, Member::new(addr, now)))
            .collect();
        let seed = settings.my_id ^ settings.identity.cluster_id.rotate_left(32) ^ 0x5045_4552_5321;
        log::info!(
            "peer transport of server {} listening on {local_addr} for {} members",
            settings.my_id,
            settings.members.len()
        );
        let peers = Peers {
            listener,
            read_scratch: Default::default(),
            local_addr,
            tokens,
            token_generations,
            slots: (0..slot_count)
                .map(|_| Slot {
                    generation: 0,
                    link: None,
                })
                .collect(),
            free_slots: (0..slot_count as u32).rev().collect(),
            members,
            pending_inbound_count: 0,
            received: Vec::new(),
            received_bytes: 0,
            stalled: BTreeSet::new(),
            listener_stalled: false,
            prng: SplitMix64::new(seed),
            now,
            stats: PeerStats::default(),
            settings,
        };
        peers.check_invariants();
        Ok(peers)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// True if `token` is one of this module's.
    pub fn owns(&self, token: Token) -> bool {
        self.tokens.contains(&token.0)
    }

    // Read by mntr's follower figures once they land (#5/#7); tests use it today.
    #[allow(dead_code)]
    pub fn stats(&self) -> &PeerStats {
        &self.stats
    }

    /// Handles one poll event for one of its tokens.
    pub fn on_event(&mut self, registry: &Registry, event: &mio::event::Event, now: Instant) {
        assert!(self.owns(event.token()), "event for a token we do not own");
        self.now = now;
        if event.token().0 == self.tokens.start {
            self.accept_some(registry);
            return;
        }
        let Some(key) = self.key_of(event.token()) else {
            return; // A stale event for a connection that is gone.
        };
        let Some(link) = self.link(key) else { return };
        if !link.is_open() {
            self.finish_connect(key);
            return;
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.read_link(key);
        }
        if event.is_writable() {
            self.flush_link(key);
        }
    }

    /// Queues one frame for `to`; false (frame dropped, with a debug log) if `to` is unknown,
    /// not connected yet, or its queue is over `queue_bytes_max`. Raft tolerates drops.
    pub fn send(&mut self, to: u64, payload: &[u8]) -> bool {
        let refusal = self.check_send(to, payload.len());
        if let Some(reason) = refusal {
            log::debug!(
                "dropping a frame of {} bytes for peer {to}: {reason}",
                payload.len()
            );
            self.stats.frames_dropped += 1;
            return false;
        }
        let key = self.members[&to]
            .outbound
            .expect("check_send found the link");
        let queue_bytes_max = self.settings.queue_bytes_max;
        let link = self.link_mut(key).expect("check_send found the link");
        link.queue_frame(payload);
        assert!(
            link.out_len() <= queue_bytes_max,
            "queued {} > queue_bytes_max {queue_bytes_max}",
            link.out_len()
        );
        self.stats.frames_sent += 1;
        true
    }

    fn check_send(&self, to: u64, len: usize) -> Option<String> {
        let Some(member) = self.members.get(&to) else {
            return Some("not a member".to_string());
        };
        if len > self.settings.frame_bytes_max {
            let max = self.settings.frame_bytes_max;
            return Some(format!("over frame_bytes_max {max}"));
        }
        let link = member.outbound.and_then(|key| self.link(key));
        let Some(link) = link.filter(|l| l.is_established()) else {
            return Some("not connected".to_string());
        };
        let queued = link.out_len();
        if queued + FRAME_HEADER_BYTES + len > self.settings.queue_bytes_max {
            let max = self.settings.queue_bytes_max;
            return Some(format!(
                "{queued} bytes already queued, queue_bytes_max {max}"
            ));
        }
        None
    }

    /// Frames received since the last call, in arrival order per peer: (from, payload).
    pub fn take_received(&mut self) -> Vec<(u64, Vec<u8>)> {
        self.received_bytes = 0;
        std::mem::take(&mut self.received)
    }

    /// Timers: dials members it has no outbound connection to (exponential backoff with
    /// jitter from 50 ms up to 2 s), closes handshakes that take > 5 s.
    pub fn tick(&mut self, registry: &Registry, now: Instant) {
        self.now = now;
        let due: Vec<u64> = self
            .members
            .iter()
            .filter(|(_, m)| m.next_dial.is_some_and(|at| at <= now))
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            self.dial(registry, id);
        }
        let limit = Duration::from_millis(HANDSHAKE_TIMEOUT_MS);
        let slow: Vec<LinkKey> = self
            .links()
            .filter(|(_, l)| !l.is_established() && now.duration_since(l.opened) > limit)
            .map(|(key, _)| key)
            .collect();
        for key in slow {
            let link = self.link(key).expect("listed above");
            if link.state == LinkState::Connecting {
                // An unreachable member: the redial backoff paces these, so no warning.
                log::debug!("dial to peer {} timed out", link.remote);
            } else {
                log::warn!(
                    "closing peer connection {}: its handshake took over 5 s",
                    link.remote
                );
            }
            self.close(key);
        }
        self.check_invariants();
    }

    /// Flushes queued output and recomputes interest; call at the end of each loop turn.
    pub fn end_turn(&mut self, registry: &Registry) {
        if self.listener_stalled {
            self.accept_some(registry);
        }
        // Revisit links cut short; bounded by the slab size.
        let stalled = std::mem::take(&mut self.stalled);
        for key in stalled {
            if self.link(key).is_some_and(|l| l.is_open()) {
                self.read_link(key);
            }
        }
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            if slot.link.is_none() {
                continue;
            }
            let key = LinkKey {
                index: index as u32,
                generation: slot.generation,
            };
            self.flush_link(key);
            self.sync_interest(registry, key);
        }
        self.check_invariants();
    }

    /// The earliest instant `tick` has work (a redial or a handshake timeout), for the poll
    /// timeout. When links or the listener wait for a revisit it is an instant already past,
    /// so the loop does not sleep.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.listener_stalled || !self.stalled.is_empty() {
            return Some(self.now);
        }
        let handshake_timeout = Duration::from_millis(HANDSHAKE_TIMEOUT_MS);
        let redials = self.members.values().filter_map(|m| m.next_dial);
        let handshakes = self
            .links()
            .filter(|(_, l)| !l.is_established())
            .map(|(_, l)| l.opened + handshake_timeout + Duration::from_millis(1));
        redials.chain(handshakes).min()
    }

    /// Member ids with an established outbound connection (for mntr / tests).
    pub fn connected(&self) -> Vec<u64> {
        self.members
            .keys()
            .copied()
            .filter(|id| self.is_connected(*id))
            .collect()
    }

    /// Whether `id` is one of the members this transport has an address for.
    pub fn knows(&self, id: u64) -> bool {
        self.members.contains_key(&id)
    }

    /// How many established connections with member `id`, in either direction, have
    /// closed so far: a change means frames to or from it may have been lost.
    pub fn links_lost(&self, id: u64) -> u64 {
        self.members.get(&id).map_or(0, |m| m.links_lost)
    }

    /// True if the outbound connection to member `id` is established.
    pub fn is_connected(&self, id: u64) -> bool {
        self.members
            .get(&id)
            .and_then(|m| m.outbound)
            .and_then(|key| self.link(key))
            .is_some_and(|l| l.is_established())
    }

    pub fn identity(&self) -> Identity {
        self.settings.identity
    }

    /// What each member last said it is, for those that said (a hello or an ack).
    pub fn heard(&self) -> impl Iterator<Item = (u64, Identity)> + '_ {
        self.members
            .iter()
            .filter_map(|(&id, m)| m.heard.map(|heard| (id, heard)))
    }

    /// We now belong to a cluster (we started it, or are joining it). Every connection is
    /// closed and redialed, so both sides of each pair hear the other's new identity in a
    /// fresh handshake (what they heard before is stale) and those it no longer admits are
    /// refused.
    pub fn set_identity(&mut self, identity: Identity) {
        if identity == self.settings.identity {
            return;
        }
        log::info!(
            "peer transport: cluster id now {:#x}{}; reconnecting to every member",
            identity.cluster_id,
            if identity.fresh { " (fresh)" } else { "" }
        );
        self.settings.identity = identity;
        let ids: Vec<u64> = self.members.keys().copied().collect();
        for id in ids {
            self.disconnect(id);
        }
        self.check_invariants();
    }

    /// The members' addresses as they are now.
    pub fn members(&self) -> BTreeMap<u64, SocketAddr> {
        self.members.iter().map(|(&id, m)| (id, m.addr)).collect()
    }

    /// Makes `members` the other members: new ones are dialed, removed ones lose their
    /// connections, one whose address changed is redialed there. More than `MEMBERS_MAX`
    /// are refused whole (logged): the transport keeps the members it has.
    pub fn set_members(&mut self, members: BTreeMap<u64, SocketAddr>) {
        if members.contains_key(&self.settings.my_id) || members.len() > MEMBERS_MAX {
            log::error!(
                "peer transport: refusing {} members (at most {MEMBERS_MAX}, not ourselves)",
                members.len()
            );
            return;
        }
        let gone: Vec<u64> = self
            .members
            .keys()
            .filter(|id| !members.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            log::info!("peer {id} is no longer a member");
            self.disconnect(id);
            self.members.remove(&id);
        }
        for (id, addr) in members {
            match self.members.get_mut(&id) {
                None => {
                    log::info!("peer {id} at {addr} is a new member");
                    self.members.insert(id, Member::new(addr, self.now));
                }
                Some(member) if member.addr != addr => {
                    log::info!("peer {id} moved from {} to {addr}", member.addr);
                    member.addr = addr;
                    if let Some(key) = member.outbound {
                        self.close(key);
                    }
                }
                Some(_) => {}
            }
        }
        self.check_invariants();
    }

    /// Closes both connections with member `id` (the outbound one is redialed).
    fn disconnect(&mut self, id: u64) {
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        member.heard = None;
        let keys = [member.outbound, member.inbound];
        for key in keys.into_iter().flatten() {
            self.close(key);
        }
    }

    // ---- the slab and its tokens ----

    fn token_of(&self, key: LinkKey) -> Token {
        let generation = key.generation as usize % self.token_generations;
        let offset = generation * self.slots.len() + key.index as usize;
        let token = self.tokens.start + 1 + offset;
        assert!(
            token < self.tokens.end,
            "token {token} outside {:?}",
            self.tokens
        );
        Token(token)
    }

    fn key_of(&self, token: Token) -> Option<LinkKey> {
        if !self.owns(token) {
            return None;
        }
        let offset = token.0.checked_sub(self.tokens.start + 1)?;
        let index = offset % self.slots.len();
        let generation_mod = offset / self.slots.len();
        let slot = &self.slots[index];
        if generation_mod != slot.generation as usize % self.token_generations {
            return None;
        }
        slot.link.as_ref()?;
        Some(LinkKey {
            index: index as u32,
            generation: slot.generation,
        })
    }

    fn link(&self, key: LinkKey) -> Option<&Link> {
        let slot = self.slots.get(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        slot.link.as_ref()
    }

    fn link_mut(&mut self, key: LinkKey) -> Option<&mut Link> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        slot.link.as_mut()
    }

    fn links(&self) -> impl Iterator<Item = (LinkKey, &Link)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let key = LinkKey {
                index: i as u32,
                generation: s.generation,
            };
            s.link.as_ref().map(|l| (key, l))
        })
    }

    /// Puts a link in a free slot and registers it; `None` (the link dropped) if no slot is
    /// free or the poll refuses it.
    fn insert(&mut self, registry: &Registry, mut link: Link) -> Option<LinkKey> {
        let Some(index) = self.free_slots.pop() else {
            log::warn!("peer connection {}: no free slot", link.remote);
            return None;
        };
        let generation = self.slots[index as usize].generation.wrapping_add(1);
        let key = LinkKey { index, generation };
        let interest = link.interest();
        if let Err(e) = registry.register(&mut link.stream, self.token_of(key), interest) {
            log::warn!("cannot register peer connection {}: {e}", link.remote);
            self.free_slots.push(index);
            return None;
        }
        link.registered = Some(interest);
        let slot = &mut self.slots[index as usize];
        assert!(slot.link.is_none(), "a free slot holds no link");
        slot.generation = generation;
        slot.link = Some(link);
        Some(key)
    }

    /// Drops a link now and updates its member: an outbound one gets a redial scheduled.
    fn close(&mut self, key: LinkKey) {
        let Some(slot) = self.slots.get_mut(key.index as usize) else {
            return;
        };
        if slot.generation != key.generation {
            return;
        }
        let Some(link) = slot.link.take() else { return };
        self.free_slots.push(key.index);
        self.stalled.remove(&key);
        if link.state == LinkState::AwaitingHello {
            assert!(self.pending_inbound_count > 0, "a pending link was counted");
            self.pending_inbound_count -= 1;
        }
        let member_id = link.member;
        let was_established = link.is_established();
        // Dropping the stream deregisters it from the poll and closes the socket.
        drop(link.stream);
        let Some(id) = member_id else { return };
        let member = self.members.get_mut(&id).expect("links name members only");
        if was_established {
            member.links_lost += 1;
        }
        match link.direction {
            Direction::Outbound => {
                assert_eq!(
                    member.outbound,
                    Some(key),
                    "a member's outbound link is its own"
                );
                member.outbound = None;
                if was_established {
                    log::info!("lost the connection to peer {id} at {}", link.remote);
                }
                self.schedule_redial(id);
            }
            Direction::Inbound => {
                if member.inbound == Some(key) {
                    member.inbound = None;
                    log::info!("lost the connection from peer {id} at {}", link.remote);
                }
            }
        }
    }

    // ---- reading ----

    /// Whether more received frames may pile up before the loop takes them: a backstop,
    /// since the loop takes them every turn.
    fn received_bytes_max(&self) -> usize {
        READ_BUDGET_BYTES.max(self.settings.frame_bytes_max) * self.members.len().max(1) * 2
    }

    fn read_link(&mut self, key: LinkKey) {
        let mut scratch = std::mem::take(&mut self.read_scratch);
        self.read_link_with(key, &mut scratch);
        self.read_scratch = scratch;
    }

    fn read_link_with(&mut self, key: LinkKey, scratch: &mut ReadScratch) {
        let over = self.received_bytes >= self.received_bytes_max();
        let Some(link) = self.link_mut(key) else {
            return;
        };
        assert!(link.is_open(), "a connecting link is not read");
        if over {
            // Backpressure: the edge is lost, so come back once the loop took its frames.
            self.stalled.insert(key);
            return;
        }
        match link.read_into(scratch, READ_BUDGET_BYTES) {
            Ok(n) => {
                if n >= READ_BUDGET_BYTES {
                    self.stalled.insert(key);
                }
            }
            Err(e) => {
                log::debug!("read from peer connection {} failed: {e}", link.remote);
                self.close(key);
                return;
            }
        }
        self.decode_frames(key);
        if let Some(link) = self.link(key) {
            if link.read_closed {
                self.close(key);
            }
        }
    }

    fn decode_frames(&mut self, key: LinkKey) {
        loop {
            let Some(link) = self.link_mut(key) else {
                return;
            };
            let (direction, state, member, remote) =
                (link.direction, link.state, link.member, link.remote);
            let payload = match link.next_frame() {
                Ok(Some(p)) => p,
                Ok(None) => return,
                Err(e) => {
                    log::warn!("closing peer connection {remote}: {e}");
                    self.stats.protocol_errors += 1;
                    self.close(key);
                    return;
                }
            };
            match (direction, state) {
                (Direction::Inbound, LinkState::AwaitingHello) => self.on_hello(key, &payload),
                (Direction::Inbound, LinkState::Established) => {
                    let from = member.expect("established links know their member");
                    self.stats.frames_received += 1;
                    self.received_bytes += payload.len();
                    self.received.push((from, payload));
                }
                (Direction::Outbound, LinkState::AwaitingAck) => self.on_ack(key, &payload),
                (Direction::Outbound, _) | (Direction::Inbound, _) => {
                    // We never send on inbound links after the ack, nor they on outbound.
                    log::warn!(
                        "closing peer connection {remote}: it sent a frame where none belongs"
                    );
                    self.stats.protocol_errors += 1;
                    self.close(key);
                    return;
                }
            }
        }
    }

    // ---- writing and interest ----

    fn flush_link(&mut self, key: LinkKey) {
        let Some(link) = self.link_mut(key) else {
            return;
        };
        if !link.is_open() || link.out_len() == 0 {
            return;
        }
        if let Err(e) = link.write_out() {
            log::debug!("write to peer connection {} failed: {e}", link.remote);
            self.close(key);
        }
    }

    fn sync_interest(&mut self, registry: &Registry, key: LinkKey) {
        let token = self.token_of(key);
        let Some(link) = self.link_mut(key) else {
            return;
        };
        let want = link.interest();
        if link.registered == Some(want) {
            return;
        }
        match registry.reregister(&mut link.stream, token, want) {
            Ok(()) => link.registered = Some(want),
            Err(e) => {
                log::warn!("cannot register peer connection {}: {e}", link.remote);
                self.close(key);
            }
        }
    }

    fn check_invariants(&self) {
        assert!(
            self.members.len() <= MEMBERS_MAX,
            "members over MEMBERS_MAX"
        );
        // Accepting bounds pending handshakes by 2 × members; members may shrink since.
        assert!(
            self.pending_inbound_count <= 2 * MEMBERS_MAX,
            "pending {} > 2 × {MEMBERS_MAX}",
            self.pending_inbound_count
        );
        let pending = self
            .links()
            .filter(|(_, l)| l.state == LinkState::AwaitingHello)
            .count();
        assert_eq!(pending, self.pending_inbound_count, "pending links counted");
        for (id, member) in &self.members {
            assert_eq!(
                member.outbound.is_none(),
                member.next_dial.is_some(),
                "member {id}: a redial is scheduled exactly when there is no outbound link"
            );
            if let Some(key) = member.outbound {
                let link = self.link(key).expect("a member's outbound link is live");
                assert_eq!(link.direction, Direction::Outbound, "member {id}");
                assert_eq!(link.member, Some(*id), "member {id}");
            }
            if let Some(key) = member.inbound {
                let link = self.link(key).expect("a member's inbound link is live");
                assert_eq!(link.direction, Direction::Inbound, "member {id}");
                assert!(
                    link.is_established(),
                    "member {id}: inbound not established"
                );
                assert_eq!(link.member, Some(*id), "member {id}");
            }
        }
        for (_, link) in self.links() {
            let out_max = self
                .settings
                .queue_bytes_max
                .max(FRAME_HEADER_BYTES + HELLO_BYTES);
            assert!(
                link.out_len() <= out_max,
                "output {} > {out_max}",
                link.out_len()
            );
            // Decoding follows every read and refuses a long length at its header, so less
            // than one frame stays undecoded.
            let in_max = FRAME_HEADER_BYTES + self.settings.frame_bytes_max;
            let buffered = link.buffered_input_bytes();
            assert!(buffered < in_max, "input {buffered} >= {in_max}");
        }
        assert_eq!(
            self.links().count() + self.free_slots.len(),
            self.slots.len(),
            "every slot is either used or free"
        );
    }
}

fn validate_settings(settings: &PeerSettings) -> io::Result<()> {
    let invalid = |message: String| Err(io::Error::new(io::ErrorKind::InvalidInput, message));
    if settings.members.len() > MEMBERS_MAX {
        return invalid(format!(
            "peer transport: {} other members, at most {MEMBERS_MAX}",
            settings.members.len()
        ));
    }
    if settings.members.contains_key(&settings.my_id) {
        return invalid(format!(
            "peer transport: my id {} is among the other members",
            settings.my_id
        ));
    }
    if settings.frame_bytes_max < HELLO_BYTES || settings.frame_bytes_max > u32::MAX as usize {
        return invalid(format!(
            "peer transport: frame_bytes_max {} is outside {HELLO_BYTES}..={}",
            settings.frame_bytes_max,
            u32::MAX
        ));
    }
    Ok(())
}
