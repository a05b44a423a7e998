//! The transport over real loopback sockets: each `Peers` has its own `mio::Poll` and the
//! test turns them in round robin with 1 ms polls, bounded by a turn count and 5 s of wall
//! time (real sockets and redial backoff need real time; nothing here sleeps).

use std::io::{Read, Write};

use mio::{Events, Poll};

use super::frame::{encode_frame, Hello, HelloKind};
use super::*;

const CLUSTER_ID: u64 = 0xc1_057e;
const TOKENS: std::ops::Range<usize> = 2..2 + 1024;
const FRAME_BYTES_MAX: usize = 1 << 20;
const QUEUE_BYTES_MAX: usize = 4 << 20;
const WALL_LIMIT: Duration = Duration::from_secs(5);
const ROUNDS_MAX: usize = 200_000;

/// Loopback addresses nobody listens on: bound together so they differ, then released.
fn free_addrs(count: usize) -> Vec<SocketAddr> {
    let listeners: Vec<std::net::TcpListener> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("bound listener has an address"))
        .collect()
}

fn settings(
    my_id: u64,
    cluster_id: u64,
    listen: SocketAddr,
    all: &[(u64, SocketAddr)],
) -> PeerSettings {
    PeerSettings {
        my_id,
        identity: Identity {
            cluster_id,
            fresh: false,
        },
        listen,
        members: all.iter().filter(|(id, _)| *id != my_id).copied().collect(),
        frame_bytes_max: FRAME_BYTES_MAX,
        queue_bytes_max: QUEUE_BYTES_MAX,
    }
}

/// One server's loop, reduced to the transport.
struct Node {
    poll: Poll,
    events: Events,
    peers: Option<Peers>,
    received: Vec<(u64, Vec<u8>)>,
}

impl Node {
    fn start(settings: PeerSettings) -> Node {
        let poll = Poll::new().expect("poll");
        let mut node = Node {
            poll,
            events: Events::with_capacity(256),
            peers: None,
            received: Vec::new(),
        };
        node.restart(settings);
        node
    }

    fn restart(&mut self, settings: PeerSettings) {
        assert!(self.peers.is_none(), "stop before restarting");
        let peers = Peers::new(settings, self.poll.registry(), TOKENS, Instant::now());
        self.peers = Some(peers.expect("peer transport starts"));
    }

    fn peers(&mut self) -> &mut Peers {
        self.peers.as_mut().expect("node is running")
    }

    fn connected(&self) -> Vec<u64> {
        self.peers.as_ref().map_or(Vec::new(), |p| p.connected())
    }

    fn stats(&self) -> PeerStats {
        self.peers
            .as_ref()
            .expect("node is running")
            .stats()
            .clone()
    }

    /// One loop turn, shaped like the server's: poll, events, timers, take, end of turn.
    fn turn(&mut self) {
        let Some(peers) = self.peers.as_mut() else {
            return;
        };
        let timeout = Some(Duration::from_millis(1));
        self.poll.poll(&mut self.events, timeout).expect("poll");
        let now = Instant::now();
        for event in self.events.iter() {
            assert!(peers.owns(event.token()), "event for a foreign token");
            peers.on_event(self.poll.registry(), event, now);
        }
        peers.tick(self.poll.registry(), now);
        self.received.extend(peers.take_received());
        peers.end_turn(self.poll.registry());
    }
}

/// Turns every node until `done` holds; panics naming `what` past the bounds.
fn drive(nodes: &mut [&mut Node], what: &str, mut done: impl FnMut(&mut [&mut Node]) -> bool) {
    let started = Instant::now();
    for _ in 0..ROUNDS_MAX {
        if done(nodes) {
            return;
        }
        assert!(
            started.elapsed() < WALL_LIMIT,
            "timed out waiting for {what}"
        );
        for node in nodes.iter_mut() {
            node.turn();
        }
    }
    panic!("no {what} within {ROUNDS_MAX} rounds");
}

fn all_connected(nodes: &[&mut Node], ids: &[u64]) -> bool {
    nodes.iter().zip(ids).all(|(node, id)| {
        let want: Vec<u64> = ids.iter().copied().filter(|i| i != id).collect();
        node.connected() == want
    })
}

/// Three members, running and fully connected.
fn three_nodes() -> (Vec<(u64, SocketAddr)>, Node, Node, Node) {
    let addrs = free_addrs(3);
    let all = vec![(1, addrs[0]), (2, addrs[1]), (3, addrs[2])];
    let mut a = Node::start(settings(1, CLUSTER_ID, addrs[0], &all));
    let mut b = Node::start(settings(2, CLUSTER_ID, addrs[1], &all));
    let mut c = Node::start(settings(3, CLUSTER_ID, addrs[2], &all));
    drive(&mut [&mut a, &mut b, &mut c], "all pairs to connect", |n| {
        all_connected(n, &[1, 2, 3])
    });
    (all, a, b, c)
}

/// A payload that differs with every argument, so misrouted or reordered frames show.
fn payload(from: u64, to: u64, seq: u64, len: usize) -> Vec<u8> {
    let mut prng = SplitMix64::new(from << 40 ^ to << 20 ^ seq);
    (0..len).map(|_| prng.next_u64() as u8).collect()
}

fn frames_from(node: &Node, from: u64) -> Vec<Vec<u8>> {
    node.received
        .iter()
        .filter(|(f, _)| *f == from)
        .map(|(_, p)| p.clone())
        .collect()
}

/// Sends `sizes` between every pair and checks each pair's frames arrive intact, in order.
fn exchange(nodes: &mut [&mut Node], ids: &[u64], sizes: &[usize], seq_base: u64) {
    for node in nodes.iter_mut() {
        node.received.clear();
    }
    for (node, &from) in nodes.iter_mut().zip(ids) {
        for &to in ids.iter().filter(|&&to| to != from) {
            for (seq, &len) in sizes.iter().enumerate() {
                let sent = node
                    .peers()
                    .send(to, &payload(from, to, seq_base + seq as u64, len));
                assert!(sent, "{from} -> {to}: frame {seq} of {len} bytes refused");
            }
        }
    }
    let expected = sizes.len() * (ids.len() - 1);
    drive(nodes, "every frame to arrive", |n| {
        n.iter().all(|node| node.received.len() >= expected)
    });
    for (node, &to) in nodes.iter().zip(ids) {
        assert_eq!(node.received.len(), expected, "server {to}: frame count");
        for &from in ids.iter().filter(|&&from| from != to) {
            let want: Vec<Vec<u8>> = (0..sizes.len())
                .map(|seq| payload(from, to, seq_base + seq as u64, sizes[seq]))
                .collect();
            assert!(
                frames_from(node, from) == want,
                "{from} -> {to}: frames differ"
            );
        }
    }
}

#[test]
fn peers_connect_pairwise_and_deliver_frames_intact_and_in_order() {
    let (_, mut a, mut b, mut c) = three_nodes();
    let sizes = [
        0,
        1,
        1000,
        100_000,
        FRAME_BYTES_MAX - 1,
        FRAME_BYTES_MAX,
        5,
        64 * 1024,
    ];
    exchange(&mut [&mut a, &mut b, &mut c], &[1, 2, 3], &sizes, 0);
    for node in [&a, &b, &c] {
        let stats = node.stats();
        assert_eq!(stats.frames_received, 2 * sizes.len() as u64);
        assert_eq!(stats.protocol_errors, 0);
        assert_eq!(stats.inbound_refused, 0);
    }
}

#[test]
fn send_refuses_unknown_members_unconnected_members_and_oversized_frames() {
    let addrs = free_addrs(2);
    let all = [(1, addrs[0]), (2, addrs[1])];
    let mut a = Node::start(settings(1, CLUSTER_ID, addrs[0], &all));
    assert!(!a.peers().send(2, b"before any turn"), "not connected yet");
    assert!(
        !a.peers().send(1, b"to ourselves"),
        "we are not our own member"
    );
    assert!(!a.peers().send(7, b"to a stranger"), "7 is not a member");
    let mut b = Node::start(settings(2, CLUSTER_ID, addrs[1], &all));
    drive(&mut [&mut a, &mut b], "the pair to connect", |n| {
        all_connected(n, &[1, 2])
    });
    assert!(
        !a.peers().send(2, &vec![0; FRAME_BYTES_MAX + 1]),
        "over frame_bytes_max"
    );
    assert!(
        a.peers().send(2, &vec![0; FRAME_BYTES_MAX]),
        "at frame_bytes_max"
    );
    assert_eq!(a.stats().frames_dropped, 4);
}

#[test]
fn a_full_queue_makes_send_refuse_until_it_drains() {
    let addrs = free_addrs(2);
    let all = [(1, addrs[0]), (2, addrs[1])];
    let small = |id, listen| PeerSettings {
        frame_bytes_max: 16 * 1024,
        queue_bytes_max: 64 * 1024,
        ..settings(id, CLUSTER_ID, listen, &all)
    };
    let mut a = Node::start(small(1, addrs[0]));
    let mut b = Node::start(small(2, addrs[1]));
    drive(&mut [&mut a, &mut b], "the pair to connect", |n| {
        all_connected(n, &[1, 2])
    });
    // Three frames of 16 KiB + 8 fit in 64 KiB, a fourth does not.
    let accepted = (0..10)
        .filter(|&seq| a.peers().send(2, &payload(1, 2, seq, 16 * 1024)))
        .count();
    assert_eq!(accepted, 3);
    assert_eq!(a.stats().frames_dropped, 7);
    drive(&mut [&mut a, &mut b], "the queued frames", |n| {
        n[1].received.len() == 3
    });
    for (seq, (from, frame)) in b.received.iter().enumerate() {
        assert_eq!(*from, 1);
        assert!(
            *frame == payload(1, 2, seq as u64, 16 * 1024),
            "frame {seq} differs"
        );
    }
    assert!(a.peers().send(2, b"room again"), "the queue drained");
}

#[test]
fn a_stopped_peer_is_redialed_when_it_returns_and_traffic_resumes() {
    let (all, mut a, mut b, mut c) = three_nodes();
    exchange(&mut [&mut a, &mut b, &mut c], &[1, 2, 3], &[10, 20], 0);
    let lost_before = (a.peers().links_lost(3), a.peers().links_lost(2));
    c.peers = None;
    drive(&mut [&mut a, &mut b, &mut c], "3 to be seen gone", |n| {
        n[0].connected() == [2]
            && n[1].connected() == [1]
            && n[0].peers().links_lost(3) == lost_before.0 + 2
    });
    // Both of 1's links with 3 closed; its links with 2 did not.
    assert_eq!(a.peers().links_lost(3), lost_before.0 + 2);
    assert_eq!(a.peers().links_lost(2), lost_before.1);
    assert!(!a.peers().send(3, b"while 3 is down"));
    c.restart(settings(3, CLUSTER_ID, all[2].1, &all));
    drive(&mut [&mut a, &mut b, &mut c], "3 to be redialed", |n| {
        all_connected(n, &[1, 2, 3])
    });
    exchange(
        &mut [&mut a, &mut b, &mut c],
        &[1, 2, 3],
        &[0, 3000, 70_000],
        100,
    );
}

#[test]
fn dialers_of_another_cluster_or_not_members_are_refused_and_deliver_nothing() {
    let addrs = free_addrs(4);
    let all = [(1, addrs[0]), (2, addrs[1]), (3, addrs[2])];
    let mut a = Node::start(settings(1, CLUSTER_ID, addrs[0], &all));
    let mut b = Node::start(settings(2, CLUSTER_ID, addrs[1], &all));
    // Server 3 is configured with another cluster's id; server 9 is in nobody's list.
    let mut other_cluster = Node::start(settings(3, CLUSTER_ID + 1, addrs[2], &all));
    let stranger_view = [(1, addrs[0]), (2, addrs[1]), (9, addrs[3])];
    let mut stranger = Node::start(settings(9, CLUSTER_ID, addrs[3], &stranger_view));
    let nodes = &mut [&mut a, &mut b, &mut other_cluster, &mut stranger];
    drive(nodes, "refusals both ways", |n| {
        // 1 and 2 each refuse 3 and 9; 3 refuses 1 and 2 for their cluster id.
        n[0].stats().inbound_refused >= 2
            && n[1].stats().inbound_refused >= 2
            && n[2].stats().inbound_refused >= 2
            && n[0].connected() == [2]
            && n[1].connected() == [1]
    });
    for node in nodes.iter_mut().skip(2) {
        assert!(
            node.connected().is_empty(),
            "a refused dialer is never connected"
        );
        assert!(!node.peers().send(1, b"let me in"));
        assert_eq!(node.stats().inbound_accepted, 0);
    }
    assert!(nodes[0].peers().send(2, b"members still talk"));
    drive(nodes, "1's frame at 2", |n| !n[1].received.is_empty());
    for node in nodes.iter() {
        for (from, _) in &node.received {
            assert!(
                *from == 1 || *from == 2,
                "a frame from refused server {from}"
            );
        }
    }
}

/// A raw TCP client; `closed` once the server has hung up on it.
struct RawClient {
    stream: std::net::TcpStream,
    closed: bool,
}

impl RawClient {
    fn connect(to: SocketAddr, bytes: &[u8]) -> RawClient {
        let mut stream = std::net::TcpStream::connect(to).expect("connect to loopback");
        stream
            .write_all(bytes)
            .expect("a few bytes fit the socket buffer");
        stream.set_nonblocking(true).expect("nonblocking");
        RawClient {
            stream,
            closed: false,
        }
    }

    fn poll_closed(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        while !self.closed {
            match self.stream.read(&mut buf) {
                Ok(0) => self.closed = true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => self.closed = true,
            }
        }
        self.closed
    }
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&mut out, payload);
    out
}

#[test]
fn raw_clients_sending_garbage_are_closed_and_members_keep_working() {
    let (_, mut a, mut b, mut c) = three_nodes();
    let target = a.peers().local_addr();
    let hello_from_2 = Hello {
        kind: HelloKind::Dial,
        identity: Identity {
            cluster_id: CLUSTER_ID,
            fresh: false,
        },
        from: 2,
        to: 1,
    };
    let mut bad_crc = frame(&hello_from_2.encode());
    bad_crc[5] ^= 0xff;
    let mut oversized = frame(b"x");
    oversized[..4].copy_from_slice(&(FRAME_BYTES_MAX as u32 + 1).to_be_bytes());
    // A member's valid hello, then a corrupt frame: it replaces 2's real inbound
    // connection, and is then closed for its crc, so 2 must redial.
    let mut impostor = frame(&hello_from_2.encode());
    let mut corrupt = frame(b"corrupt");
    corrupt[8] ^= 1;
    impostor.extend_from_slice(&corrupt);
    let mut raws = vec![
        RawClient::connect(target, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        RawClient::connect(target, &bad_crc),
        RawClient::connect(target, &oversized),
        RawClient::connect(target, &frame(b"short hello")),
    ];
    // Two members allow four pending handshakes: the fifth client comes once they are gone.
    drive(
        &mut [&mut a, &mut b, &mut c],
        "the first raw clients closed",
        |_| raws.iter_mut().all(|r| r.poll_closed()),
    );
    raws.push(RawClient::connect(target, &impostor));
    drive(&mut [&mut a, &mut b, &mut c], "the impostor closed", |_| {
        raws.iter_mut().all(|r| r.poll_closed())
    });
    assert_eq!(a.stats().accepts_over_limit, 0);
    let stats = a.stats();
    assert_eq!(
        stats.protocol_errors, 4,
        "garbage, bad crc, oversized, corrupt: {stats:?}"
    );
    assert_eq!(stats.inbound_refused, 1, "the short hello: {stats:?}");
    // 1 accepted 2, 3, the impostor and then 2 again, once 2 saw its old link closed.
    drive(&mut [&mut a, &mut b, &mut c], "2 to redial 1", |n| {
        n[0].stats().inbound_accepted == 4 && all_connected(n, &[1, 2, 3])
    });
    exchange(
        &mut [&mut a, &mut b, &mut c],
        &[1, 2, 3],
        &[1, 500, 9000],
        200,
    );
    assert!(a.received.iter().all(|(_, p)| p != b"corrupt"));
}

#[test]
fn pending_handshakes_are_bounded_at_accept_and_time_out() {
    let addrs = free_addrs(3);
    let all = [(1, addrs[0]), (2, addrs[1]), (3, addrs[2])];
    let mut a = Node::start(settings(1, CLUSTER_ID, addrs[0], &all));
    // Two members allow four pending handshakes; the fifth silent client is closed at once.
    let mut raws: Vec<RawClient> = (0..5).map(|_| RawClient::connect(addrs[0], b"")).collect();
    drive(&mut [&mut a], "the fifth client refused", |n| {
        n[0].stats().accepts_over_limit == 1
    });
    drive(&mut [&mut a], "the fifth client closed", |_| {
        raws.iter_mut()
            .map(|r| r.poll_closed())
            .filter(|&closed| closed)
            .count()
            == 1
    });
    let later = Instant::now() + Duration::from_millis(HANDSHAKE_TIMEOUT_MS + 1);
    let peers = a.peers.as_mut().expect("running");
    peers.tick(a.poll.registry(), later);
    peers.end_turn(a.poll.registry());
    drive(&mut [&mut a], "the silent clients timed out", |_| {
        raws.iter_mut().all(|r| r.poll_closed())
    });
    assert_eq!(a.stats().inbound_accepted, 0);
}

#[test]
fn a_token_range_too_small_for_the_members_is_refused() {
    let addrs = free_addrs(3);
    let all = [(1, addrs[0]), (2, addrs[1]), (3, addrs[2])];
    let poll = Poll::new().expect("poll");
    let now = Instant::now();
    // A listener token and 4 link tokens for each of MEMBERS_MAX members.
    let needed = 1 + 4 * MEMBERS_MAX;
    let small = Peers::new(
        settings(1, CLUSTER_ID, addrs[0], &all),
        poll.registry(),
        5..5 + needed - 1,
        now,
    );
    assert_eq!(
        small.err().map(|e| e.kind()),
        Some(io::ErrorKind::InvalidInput)
    );
    let exact = Peers::new(
        settings(1, CLUSTER_ID, addrs[0], &all),
        poll.registry(),
        5..5 + needed,
        now,
    );
    let exact = exact.expect("exactly enough tokens suffice");
    assert_eq!(exact.token_generations, 1);
    assert!(exact.owns(Token(5)) && exact.owns(Token(5 + needed - 1)));
    assert!(!exact.owns(Token(4)) && !exact.owns(Token(5 + needed)));
}

#[test]
fn tokens_stay_in_range_and_carry_the_generation() {
    let addrs = free_addrs(3);
    let all = [(1, addrs[0]), (2, addrs[1]), (3, addrs[2])];
    let poll = Poll::new().expect("poll");
    let peers = Peers::new(
        settings(1, CLUSTER_ID, addrs[0], &all),
        poll.registry(),
        TOKENS,
        Instant::now(),
    );
    let peers = peers.expect("starts");
    let slots = 4 * MEMBERS_MAX;
    assert_eq!(peers.slots.len(), slots);
    assert_eq!(peers.token_generations, (TOKENS.len() - 1) / slots);
    let mut seen = BTreeSet::new();
    for index in 0..slots as u32 {
        for generation in 0..peers.token_generations as u32 {
            let token = peers.token_of(LinkKey { index, generation });
            assert!(peers.owns(token) && token.0 != 2, "{token:?}");
            assert!(seen.insert(token.0), "{token:?} used twice");
            // No link lives in the slot, so any token for it is stale.
            assert_eq!(peers.key_of(token), None);
        }
    }
}

fn fresh(mut settings: PeerSettings) -> PeerSettings {
    settings.identity.fresh = true;
    settings
}

#[test]
fn members_added_at_run_time_connect_and_removed_ones_are_cut_off() {
    let (all, mut a, mut b, mut c) = three_nodes();
    // Server 4 knows the three; they learn of it later, as from a reconfig.
    let addr_4 = free_addrs(1)[0];
    let with_4: Vec<(u64, SocketAddr)> = all.iter().copied().chain([(4, addr_4)]).collect();
    let mut d = Node::start(settings(4, CLUSTER_ID, addr_4, &with_4));
    drive(&mut [&mut a, &mut b, &mut c, &mut d], "4 refused", |n| {
        n[0].stats().inbound_refused >= 1
    });
    assert!(d.connected().is_empty(), "not a member of the others yet");
    for (node, me) in [(&mut a, 1), (&mut b, 2), (&mut c, 3)] {
        let members = with_4.iter().filter(|(id, _)| *id != me).copied().collect();
        node.peers().set_members(members);
    }
    drive(&mut [&mut a, &mut b, &mut c, &mut d], "4 connected", |n| {
        all_connected(n, &[1, 2, 3, 4])
    });
    exchange(
        &mut [&mut a, &mut b, &mut c, &mut d],
        &[1, 2, 3, 4],
        &[10],
        300,
    );
    // Server 3 leaves: the others drop it, and its frames no longer arrive.
    for (node, me) in [(&mut a, 1), (&mut b, 2), (&mut d, 4)] {
        let members = with_4
            .iter()
            .filter(|(id, _)| *id != me && *id != 3)
            .copied()
            .collect();
        node.peers().set_members(members);
    }
    assert!(!a.peers().knows(3) && !a.peers().send(3, b"gone"));
    drive(&mut [&mut a, &mut b, &mut c, &mut d], "3 cut off", |n| {
        n[2].connected().is_empty()
            && n[0].connected() == [2, 4]
            && n[1].connected() == [1, 4]
            && n[3].connected() == [1, 2]
    });
    assert!(!c.peers().send(1, b"still here?"));
}

#[test]
fn a_member_that_moved_is_redialed_at_its_new_address() {
    let (all, mut a, mut b, mut c) = three_nodes();
    let moved = free_addrs(1)[0];
    c.peers = None;
    let moved_view: Vec<(u64, SocketAddr)> = all
        .iter()
        .map(|&(id, addr)| (id, if id == 3 { moved } else { addr }))
        .collect();
    c.restart(settings(3, CLUSTER_ID, moved, &moved_view));
    for (node, me) in [(&mut a, 1), (&mut b, 2)] {
        let members = moved_view
            .iter()
            .filter(|(id, _)| *id != me)
            .copied()
            .collect();
        node.peers().set_members(members);
    }
    drive(
        &mut [&mut a, &mut b, &mut c],
        "3 reached at its new address",
        |n| all_connected(n, &[1, 2, 3]),
    );
    assert_eq!(a.peers().members()[&3], moved);
}

#[test]
fn fresh_servers_hear_each_other_and_the_established_cluster() {
    let addrs = free_addrs(3);
    let all = [(1, addrs[0]), (2, addrs[1]), (3, addrs[2])];
    let mut a = Node::start(fresh(settings(1, CLUSTER_ID, addrs[0], &all)));
    let mut b = Node::start(fresh(settings(2, CLUSTER_ID, addrs[1], &all)));
    // Server 3 would start another cluster: two fresh servers of different lists refuse.
    let mut c = Node::start(fresh(settings(3, CLUSTER_ID + 1, addrs[2], &all)));
    drive(&mut [&mut a, &mut b, &mut c], "1 and 2 connected", |n| {
        n[0].connected() == [2] && n[1].connected() == [1] && n[2].stats().inbound_refused >= 2
    });
    let fresh_id = Identity {
        cluster_id: CLUSTER_ID,
        fresh: true,
    };
    assert_eq!(a.peers().heard().collect::<Vec<_>>(), [(2, fresh_id)]);
    // 1 starts the cluster: it reconnects, announcing itself established.
    let established = Identity {
        cluster_id: CLUSTER_ID,
        fresh: false,
    };
    a.peers().set_identity(established);
    // 3 learns it belongs to cluster CLUSTER_ID after all (it joins): it now talks to both.
    c.peers().set_identity(established);
    drive(&mut [&mut a, &mut b, &mut c], "all connected", |n| {
        all_connected(n, &[1, 2, 3])
    });
    let heard_by_3: BTreeMap<u64, Identity> = c.peers().heard().collect();
    assert_eq!(heard_by_3[&1], established);
    assert_eq!(heard_by_3[&2], fresh_id, "2 has not decided yet");
    // A server that becomes established in another cluster cuts its links with this one.
    b.peers().set_identity(Identity {
        cluster_id: CLUSTER_ID + 7,
        fresh: false,
    });
    drive(&mut [&mut a, &mut b, &mut c], "2 cut off", |n| {
        n[1].connected().is_empty()
    });
}
