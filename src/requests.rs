//! From frames to answers: the handshake, request dispatch in arrival order, the apply of
//! durable txns, and the replies and watch notifications they produce.
//!
//! Ordering rules (ZooKeeper's): a connection's replies leave in the order its requests
//! arrived; a read waits behind the connection's unanswered writes; a watch notification
//! is queued the moment its txn is applied, so it reaches the client before any reply
//! that could reveal the change. Source: `ZooKeeperServer.processConnectRequest`,
//! `processPacket`, `FinalRequestProcessor`, `NIOServerCnxn.process`.

use std::time::Instant;

use tree::{ApplyOutcome, TxnOp};
use wire::{ErrorCode, OpCode, Request, Response, Writer};

use crate::connection::{Pending, Phase};
use crate::event_loop::ConnKey;
use crate::server::Server;
use crate::sessions::{LocalSession, Sessions};

/// Reply xids of the requests ZooKeeper answers out of band.
use wire::keeper_state::SYNC_CONNECTED as STATE_SYNC_CONNECTED;
use wire::xid::{NOTIFICATION as XID_NOTIFICATION, PING as XID_PING};

impl Server {
    /// Decodes and dispatches every complete frame the connection has buffered, as far as
    /// its phase and backpressure allow.
    pub fn process_input(&mut self, key: ConnKey) {
        if let Some(word) = self.conn(key).and_then(|c| c.four_letter_word()) {
            self.answer_four_letter_word(key, word);
            return;
        }
        loop {
            let Some(conn) = self.conn_mut(key) else {
                return;
            };
            if !conn.may_decode() {
                // Backpressure: whatever unblocks it (output drained, queue shrunk, session
                // set up) puts the connection back on `stalled`.
                conn.held_back = conn.is_backpressured();
                return;
            }
            let frame = match conn.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return,
                Err(e) => {
                    log::warn!("closing connection from {}: {e}", conn.peer);
                    self.close(key);
                    return;
                }
            };
            conn.stats.packets_received += 1;
            let phase = conn.phase;
            self.stats.packets_received += 1;
            self.stats.ops.record_packet_received(frame.len());
            let handled = match phase {
                Phase::Fresh => self.on_connect_frame(key, &frame),
                _ => self.on_request_frame(key, &frame),
            };
            if let Err(why) = handled {
                if let Some(conn) = self.conn(key) {
                    log::warn!("closing connection from {}: {why}", conn.peer);
                }
                self.close(key);
                return;
            }
        }
    }

    fn answer_four_letter_word(&mut self, key: ConnKey, word: [u8; 4]) {
        let text = crate::metrics::respond(self, key, &word);
        if let Some(conn) = self.conn_mut(key) {
            conn.queue_frame(text.as_bytes());
            conn.phase = Phase::Closing;
        }
        self.dirty.insert(key);
    }

    // ---- handshake ----

    fn on_connect_frame(&mut self, key: ConnKey, frame: &[u8]) -> Result<(), String> {
        let req = wire::ConnectRequest::decode(frame).map_err(|e| e.to_string())?;
        if !self.is_serving() {
            if self.is_read_only() && req.read_only {
                return self.accept_read_only(key, &req);
            }
            // ZooKeeper closes client connections while it has no leader to follow.
            return Err("not serving yet: no leader, or not caught up with it".to_string());
        }
        let last_zxid = self.tree.last_zxid();
        let (timeout_min, timeout_max) = (
            self.settings.min_session_timeout_ms,
            self.settings.max_session_timeout_ms,
        );
        let conn = self.conn_mut(key).expect("caller checked the connection");
        conn.is_old_client = !req.read_only_present;
        if req.last_zxid_seen > last_zxid {
            return Err(format!(
                "Refusing session request for client {} as it has seen zxid {:#x} our last \
                 zxid is {:#x} client must try another server",
                conn.peer, req.last_zxid_seen, last_zxid
            ));
        }
        let timeout_ms = req.time_out.clamp(timeout_min, timeout_max);
        conn.timeout_ms = timeout_ms;
        conn.phase = Phase::Handshaking;
        if req.session_id == 0 {
            let session_id = self.sessions.allocate_id();
            let conn = self.conn_mut(key).expect("caller checked the connection");
            conn.session_id = session_id;
            let deadline = self.clock.after_ms(timeout_ms as u64);
            self.sessions.insert(
                session_id,
                LocalSession {
                    timeout_ms,
                    deadline,
                    conn: Some(key),
                    closing: false,
                },
            );
            self.submit_txn(
                session_id,
                Vec::new(),
                TxnOp::CreateSession {
                    timeout_ms,
                    password: self.sessions.new_password(session_id),
                },
                Some(key),
            );
        } else {
            self.reopen_session(key, req.session_id, &req.passwd, timeout_ms);
        }
        Ok(())
    }

    /// Read-only mode (ZooKeeper's `ReadOnlyZooKeeperServer`): a member without a quorum
    /// gives a client that allows it a local session — a new one, or its own if the tree
    /// knows it and the password matches — and answers `readOnly = true`.
    fn accept_read_only(&mut self, key: ConnKey, req: &wire::ConnectRequest) -> Result<(), String> {
        let timeout_ms = req.time_out.clamp(
            self.settings.min_session_timeout_ms,
            self.settings.max_session_timeout_ms,
        );
        let (session_id, password) = if req.session_id == 0 {
            let id = self.sessions.allocate_id();
            (id, self.sessions.new_password(id))
        } else {
            match self.tree.sessions().get(req.session_id) {
                Some(s) if Sessions::password_matches(&s.password, &req.passwd) => {
                    (req.session_id, s.password)
                }
                _ => return Err("read-only: unknown session or wrong password".to_string()),
            }
        };
        let conn = self.conn_mut(key).expect("caller checked the connection");
        conn.is_old_client = !req.read_only_present;
        conn.read_only = true;
        conn.session_id = session_id;
        conn.timeout_ms = timeout_ms;
        let rsp = wire::ConnectResponse {
            protocol_version: 0,
            time_out: timeout_ms,
            session_id,
            passwd: password.to_vec(),
            read_only: true,
            read_only_present: req.read_only_present,
        };
        let mut out = Vec::new();
        wire::write_frame(&mut out, |w| rsp.encode(w));
        conn.queue_frame(&out);
        log::info!("read-only session {session_id:#x} for {}", conn.peer);
        self.dirty.insert(key);
        self.finish_handshake(key);
        Ok(())
    }

    /// A client reconnecting with a session id: valid if the session lives and the
    /// password matches; the previous connection of the session is closed.
    fn reopen_session(&mut self, key: ConnKey, session_id: i64, passwd: &[u8], timeout_ms: i32) {
        let valid = self
            .sessions
            .get(session_id)
            .map(|s| !s.closing)
            .unwrap_or(false)
            && self
                .tree
                .sessions()
                .get(session_id)
                .is_some_and(|s| Sessions::password_matches(&s.password, passwd));
        if !valid {
            log::info!("Invalid session {session_id:#x} for client, probably expired");
            self.send_connect_response(key, false);
            self.close_after_flush(key);
            return;
        }
        if let Some(old) = self.sessions.get(session_id).and_then(|s| s.conn) {
            if old != key {
                self.close(old);
            }
        }
        let deadline = self.clock.after_ms(timeout_ms as u64);
        let s = self
            .sessions
            .get_mut(session_id)
            .expect("validity checked above");
        s.conn = Some(key);
        s.timeout_ms = timeout_ms;
        s.deadline = deadline;
        let conn = self.conn_mut(key).expect("caller checked the connection");
        conn.session_id = session_id;
        self.send_connect_response(key, true);
        self.announce_session_moved(session_id);
        self.finish_handshake(key);
    }

    fn send_connect_response(&mut self, key: ConnKey, valid: bool) {
        let Some(conn) = self.conn(key) else { return };
        let session_id = conn.session_id;
        let rsp = wire::ConnectResponse {
            protocol_version: 0,
            time_out: if valid { conn.timeout_ms } else { 0 },
            session_id: if valid { session_id } else { 0 },
            passwd: if valid {
                self.tree
                    .sessions()
                    .get(session_id)
                    .map(|s| s.password.to_vec())
                    .unwrap_or_else(|| vec![0; 16])
            } else {
                vec![0; 16]
            },
            read_only: false,
            read_only_present: !conn.is_old_client,
        };
        let mut out = Vec::new();
        wire::write_frame(&mut out, |w| rsp.encode(w));
        let conn = self.conn_mut(key).expect("checked above");
        conn.queue_frame(&out);
        self.dirty.insert(key);
    }

    fn finish_handshake(&mut self, key: ConnKey) {
        if let Some(conn) = self.conn_mut(key) {
            conn.phase = Phase::Connected;
            // Frames that arrived behind the ConnectRequest are waiting in the decoder.
            self.stalled.insert(key);
            self.dirty.insert(key);
        }
    }

    // ---- requests ----

    fn on_request_frame(&mut self, key: ConnKey, frame: &[u8]) -> Result<(), String> {
        let mut r = wire::Reader::new(frame);
        let header = wire::RequestHeader::read(&mut r).map_err(|e| e.to_string())?;
        let body = &frame[r.offset()..];
        let now = self.clock.now;
        let conn = self.conn_mut(key).expect("caller checked the connection");
        let session_id = conn.session_id;
        self.sessions.touch(session_id, now);
        self.note_session_alive(session_id);
        // `Request.isValid`: notification (0) and error (-1) are not requests a client sends.
        let op = OpCode::from_code(header.op_type)
            .filter(|op| !matches!(op, OpCode::Notification | OpCode::Error));
        let Some(op) = op else {
            // ZooKeeper answers an unknown type with Unimplemented, then closes.
            self.reply_error(key, header.xid, ErrorCode::Unimplemented);
            self.close_after_flush(key);
            return Ok(());
        };
        match op {
            OpCode::Auth => return self.on_auth(key, header.xid, body),
            OpCode::Sasl => {
                // No SASL server here: ZooKeeper's failure path, an error reply then close.
                self.reply_error(key, header.xid, ErrorCode::AuthFailed);
                self.close_after_flush(key);
                return Ok(());
            }
            _ => {}
        }
        let request = match Request::decode(op, body) {
            Ok(Request::DeleteContainer(_)) => {
                // deleteContainer is ZooKeeper's internal op (its body is not even a jute
                // string); a client that sends it gets an error, as from ZooKeeper.
                self.queue_error(key, header.xid, op, ErrorCode::BadArguments, now);
                return Ok(());
            }
            Ok(request) => request,
            Err(e) => {
                // ZooKeeper replies MarshallingError to a body it cannot read and keeps the
                // connection.
                log::warn!("{} xid {}: {e}", op.name(), header.xid);
                self.queue_error(key, header.xid, op, ErrorCode::MarshallingError, now);
                return Ok(());
            }
        };
        if self.conn(key).is_some_and(|c| c.read_only) {
            self.on_read_only_request(key, header.xid, op, request, now);
            return Ok(());
        }
        if self
            .sessions
            .get(session_id)
            .map(|s| s.closing)
            .unwrap_or(true)
        {
            // The session is being closed or expired: nothing more is accepted on it.
            // Requests pipelined behind the client's own closeSession are answered
            // SessionExpired before the connection goes, as ZooKeeper answers them when they
            // reach its PrepRequestProcessor after the close (it drops them instead when its
            // threads happen to mark the session closed first). On an expired session
            // ZooKeeper drops them, and so do we.
            let behind_own_close = self.conn(key).is_some_and(|c| {
                c.pending.iter().any(|p| {
                    matches!(
                        p,
                        Pending::Write {
                            op: OpCode::CloseSession,
                            ..
                        }
                    )
                })
            });
            if behind_own_close {
                self.queue_error(key, header.xid, op, ErrorCode::SessionExpired, now);
            } else {
                log::debug!("dropping {} on closing session {session_id:#x}", op.name());
            }
            return Ok(());
        }
        let conn = self.conn_mut(key).expect("caller checked the connection");
        conn.stats.last_op = Some(op);
        if header.xid >= 0 {
            conn.stats.last_xid = Some(header.xid);
        }
        match request {
            Request::CloseSession => {
                let seq = self.submit_close_session(session_id, Some(key));
                self.push_pending_write(key, header.xid, op, seq, now);
            }
            request if request.is_write() => {
                let auth = self.conn(key).map(|c| c.auth.clone()).unwrap_or_default();
                let txn_op = match request {
                    // Without reconfigEnabled the tree refuses it (ReconfigDisabled), using
                    // up a zxid as ZooKeeper's refused reconfig does.
                    Request::Reconfig(request) if self.settings.config.reconfig_enabled => {
                        // The leader stamps its view of who is synced (`stamp_leader_view`).
                        TxnOp::Reconfig {
                            request,
                            synced: None,
                        }
                    }
                    request => TxnOp::Request(request),
                };
                let seq = self.submit_txn(session_id, auth, txn_op, Some(key));
                self.push_pending_write(key, header.xid, op, seq, now);
            }
            Request::Sync(r) if self.peers.is_some() && !self.is_leader() => {
                // A follower's sync waits until it has applied everything the leader had
                // committed when the sync reached it (ZooKeeper's leader sends its SYNC
                // behind its pending proposals for the same effect).
                let seq = self.forward_sync(key, r.path);
                self.push_pending_write(key, header.xid, op, seq, now);
            }
            request if self.linearizable_reads() && is_tree_read(&request) => {
                // Behind a barrier: answered once this server has applied everything the
                // leader had committed when the read arrived (a ReadIndex, thesis §6.4).
                let seq = self.begin_barrier(key);
                if let Some(conn) = self.conn_mut(key) {
                    conn.pending
                        .push_back(Pending::Barrier { seq, done: false });
                    conn.pending.push_back(Pending::Read {
                        xid: header.xid,
                        request,
                        received: now,
                    });
                }
                self.drain_reads(key);
            }
            request => {
                let conn = self.conn_mut(key).expect("caller checked the connection");
                if conn.pending.is_empty() {
                    self.answer_read(key, header.xid, request, now);
                } else {
                    conn.pending.push_back(Pending::Read {
                        xid: header.xid,
                        request,
                        received: now,
                    });
                }
            }
        }
        Ok(())
    }

    /// Answers `code` in the request's turn: at once if nothing is ahead of it, else
    /// behind the connection's unanswered requests.
    fn queue_error(&mut self, key: ConnKey, xid: i32, op: OpCode, code: ErrorCode, now: Instant) {
        let conn = self.conn_mut(key).expect("caller checked the connection");
        if conn.pending.is_empty() {
            let zxid = self.tree.last_zxid();
            self.finish_request(key, xid, op, zxid, Err(code), now);
        } else {
            conn.pending.push_back(Pending::Error {
                xid,
                op,
                code,
                received: now,
            });
        }
    }

    fn push_pending_write(&mut self, key: ConnKey, xid: i32, op: OpCode, seq: u64, now: Instant) {
        // The proposal may have failed and closed the connection already.
        let Some(conn) = self.conn_mut(key) else {
            return;
        };
        conn.pending.push_back(Pending::Write {
            xid,
            op,
            seq,
            received: now,
        });
    }

    /// A request on a read-only session (ZooKeeper's `ReadOnlyRequestProcessor`): writes
    /// and sync are answered NotReadOnly, closeSession ends the local session, reads are
    /// served from this member's tree.
    fn on_read_only_request(
        &mut self,
        key: ConnKey,
        xid: i32,
        op: OpCode,
        request: Request,
        now: Instant,
    ) {
        match op {
            OpCode::Sync
            | OpCode::Create
            | OpCode::Create2
            | OpCode::CreateTtl
            | OpCode::CreateContainer
            | OpCode::Delete
            | OpCode::DeleteContainer
            | OpCode::SetData
            | OpCode::Reconfig
            | OpCode::SetAcl
            | OpCode::Multi
            | OpCode::Check => self.queue_error(key, xid, op, ErrorCode::NotReadOnly, now),
            OpCode::CloseSession => {
                let zxid = self.tree.last_zxid();
                self.finish_request(key, xid, op, zxid, Ok(Response::Empty), now);
                self.close_after_flush(key);
            }
            _ => self.answer_read(key, xid, request, now),
        }
    }

    /// Queues a `CloseSession` txn unless one is already on its way.
    pub fn submit_close_session(&mut self, session_id: i64, conn: Option<ConnKey>) -> u64 {
        if let Some(s) = self.sessions.get_mut(session_id) {
            s.closing = true;
        }
        self.submit_txn(session_id, Vec::new(), TxnOp::CloseSession, conn)
    }

    /// `auth` is handled at once, outside the request order, as ZooKeeper does.
    fn on_auth(&mut self, key: ConnKey, xid: i32, body: &[u8]) -> Result<(), String> {
        let packet = match Request::decode(OpCode::Auth, body).map_err(|e| e.to_string())? {
            Request::Auth(p) => p,
            other => return Err(format!("auth decoded as {other:?}")),
        };
        let super_digest = self.settings.super_digest.clone();
        let remote_ip = self
            .conn(key)
            .map(|c| c.peer.ip().to_string())
            .unwrap_or_default();
        match tree::auth_ids_for(
            &packet.scheme,
            &packet.auth,
            super_digest.as_deref(),
            &remote_ip,
        ) {
            Ok(ids) => {
                let conn = self.conn_mut(key).expect("caller checked the connection");
                conn.add_auth(ids);
                self.send_reply(key, xid, 0, ErrorCode::Ok, None);
            }
            Err(code) => {
                log::warn!("Authentication failed for scheme: {}", packet.scheme);
                self.send_reply(key, xid, 0, code, None);
                self.close_after_flush(key);
            }
        }
        Ok(())
    }

    /// Answers a read-type request now (its connection has nothing unanswered before it).
    fn answer_read(&mut self, key: ConnKey, xid: i32, request: Request, received: Instant) {
        let Some(conn) = self.conn(key) else { return };
        let session_id = conn.session_id;
        let zxid = self.tree.last_zxid();
        let op = request.op_code();
        let result = match request {
            Request::Ping => {
                self.send_reply(key, XID_PING, zxid, ErrorCode::Ok, None);
                return;
            }
            Request::Sync(r) => Ok(Response::Sync { path: r.path }),
            Request::Reconfig(_) => Err(ErrorCode::ReconfigDisabled),
            Request::WhoAmI => Ok(Response::WhoAmI(crate::watching::client_infos(&conn.auth))),
            Request::SetWatches(sw) | Request::SetWatches2(sw) => {
                let events = self.watches.set_watches(session_id, &sw, &self.tree);
                for event in events {
                    self.send_notification(key, event.event_type.event_type(), &event.path);
                }
                Ok(Response::Empty)
            }
            request => {
                // Lent out for the read (which needs `&mut self`), not cloned: a clone is an
                // allocation per identity per read.
                let auth = std::mem::take(&mut self.conn_mut(key).expect("checked above").auth);
                let result = self.read_with_watches(session_id, &auth, request);
                if let Some(conn) = self.conn_mut(key) {
                    conn.auth = auth;
                }
                result
            }
        };
        self.finish_request(key, xid, op, zxid, result, received);
    }

    /// Sends the reply for a finished request and updates the latency figures.
    fn finish_request(
        &mut self,
        key: ConnKey,
        xid: i32,
        op: OpCode,
        zxid: i64,
        result: Result<Response, ErrorCode>,
        received: Instant,
    ) {
        let elapsed_ms = self
            .clock
            .now
            .saturating_duration_since(received)
            .as_millis() as u64;
        self.stats.latency.record(elapsed_ms);
        let is_update = crate::ops_stats::is_update(op);
        self.stats.ops.record_latency(elapsed_ms, is_update);
        let wall_ms = self.clock.wall_ms;
        if let Some(conn) = self.conn_mut(key) {
            conn.stats.record_latency(elapsed_ms);
            conn.stats.last_zxid = zxid;
            conn.stats.last_response_ms = wall_ms;
        }
        match result {
            Ok(rsp) => self.send_reply(key, xid, zxid, ErrorCode::Ok, Some(&rsp)),
            Err(code) => {
                log::debug!("{} xid {xid} failed: {code}", op.name());
                self.send_reply(key, xid, zxid, code, None)
            }
        }
    }

    fn reply_error(&mut self, key: ConnKey, xid: i32, code: ErrorCode) {
        let zxid = self.tree.last_zxid();
        self.send_reply(key, xid, zxid, code, None);
    }

    pub fn send_reply(
        &mut self,
        key: ConnKey,
        xid: i32,
        zxid: i64,
        err: ErrorCode,
        rsp: Option<&Response>,
    ) {
        if let Some(conn) = self.conn_mut(key) {
            let frame_len = conn.encode_frame(|w: &mut Writer| {
                wire::ReplyHeader {
                    xid,
                    zxid,
                    err: err.code(),
                }
                .write(w);
                if let Some(rsp) = rsp {
                    rsp.encode(w);
                }
            });
            self.stats.packets_sent += 1;
            self.stats.ops.record_response(frame_len, false);
            self.dirty.insert(key);
        }
    }

    pub fn send_notification(&mut self, key: ConnKey, event_type: i32, path: &str) {
        let mut out = Vec::new();
        wire::write_frame(&mut out, |w: &mut Writer| {
            wire::ReplyHeader {
                xid: XID_NOTIFICATION,
                zxid: -1,
                err: 0,
            }
            .write(w);
            wire::WatcherEvent {
                event_type,
                state: STATE_SYNC_CONNECTED,
                path: path.to_string(),
            }
            .write(w);
        });
        let Some(conn) = self.conn_mut(key) else {
            return;
        };
        conn.queue_frame(&out);
        let overflowing = conn.out_len() > crate::connection::OUT_BYTES_HARD_MAX;
        let peer = conn.peer;
        self.stats.packets_sent += 1;
        self.stats.ops.record_response(out.len(), true);
        self.dirty.insert(key);
        if overflowing {
            log::warn!("closing connection from {peer}: it does not read its events");
            self.close(key);
        }
    }

    // ---- apply ----

    /// Applies one committed entry: entries without a txn (a leader's no-op, membership)
    /// only move the zxid on; a txn is applied to the tree, its watches fire, and if its
    /// request came from a client of this server, that client is answered.
    pub fn apply_entry(&mut self, entry: &raft::Entry) {
        let zxid = entry.index.0 as i64;
        if entry.kind != raft::EntryKind::Normal || entry.data.is_empty() {
            self.tree.skip_to(zxid);
            return;
        }
        let payload = match crate::replication::EntryPayload::decode(&entry.data, zxid) {
            Ok(p) => p,
            Err(e) => {
                // Every replica meets the same bytes and skips them alike.
                log::error!("committed entry {zxid} does not decode, skipped: {e}");
                self.tree.skip_to(zxid);
                return;
            }
        };
        let conn = if payload.origin == self.my_id {
            self.awaiting.remove(&payload.seq)
        } else {
            None
        };
        let txn = payload.txn;
        let (txn, refused) = self.resolve_reconfig(txn, entry.index);
        let mut outcome = self.tree.apply(&txn);
        if let Some(code) = refused {
            // The tree refused the unresolved op and moved only its zxid on.
            outcome.result = Err(code);
        }
        self.fire_watches(&outcome);
        match &txn.op {
            TxnOp::CreateSession { timeout_ms, .. } => {
                // A session created before a restart, or through another server.
                self.sessions
                    .adopt(txn.session_id, *timeout_ms, &self.clock);
                if let Some(key) = conn {
                    if self.conn(key).is_some() {
                        self.send_connect_response(key, true);
                        self.finish_handshake(key);
                    }
                }
            }
            TxnOp::CloseSession => {
                self.watches.remove_session(txn.session_id);
                let holder = self.sessions.remove(txn.session_id).and_then(|s| s.conn);
                if let Some(key) = conn {
                    self.answer_write(key, payload.seq, txn.zxid, outcome);
                    self.close_after_flush(key);
                } else if let Some(key) = holder {
                    // Expired while a connection still held it: that connection goes.
                    self.close(key);
                }
            }
            TxnOp::Request(_) | TxnOp::SetConfig { .. } | TxnOp::Reconfig { .. } => {
                if let Some(key) = conn {
                    self.answer_write(key, payload.seq, txn.zxid, outcome);
                }
            }
        }
    }

    fn fire_watches(&mut self, outcome: &ApplyOutcome) {
        if outcome.changes.is_empty() {
            return;
        }
        for change in &outcome.changes {
            let fired = self.watches.trigger(std::slice::from_ref(change));
            let kind = crate::ops_stats::watch_kind(change.kind);
            self.stats.ops.record_watches_fired(kind, fired.len());
            for (session_id, event) in fired {
                let Some(key) = self.sessions.get(session_id).and_then(|s| s.conn) else {
                    continue;
                };
                // ZooKeeper (since ZOOKEEPER-4799) tells a watcher only of changes to nodes
                // it may read; the watch is used up either way.
                let readable = self
                    .conn(key)
                    .map(|c| tree::acl::check_acl(&change.acl, wire::perms::READ, &c.auth).is_ok());
                if readable != Some(true) {
                    log::trace!(
                        "not delivering {:?} {} to {session_id:#x}",
                        event.event_type,
                        event.path
                    );
                    continue;
                }
                self.send_notification(key, event.event_type.event_type(), &event.path);
            }
        }
    }

    /// Replies to the write at the front of the connection's queue, then answers the reads
    /// queued behind it.
    pub(crate) fn answer_write(
        &mut self,
        key: ConnKey,
        seq: u64,
        zxid: i64,
        outcome: ApplyOutcome,
    ) {
        let Some(conn) = self.conn_mut(key) else {
            return;
        };
        let front_seq = match conn.pending.front() {
            Some(Pending::Write { seq, .. }) => Some(*seq),
            _ => None,
        };
        if front_seq != Some(seq) {
            // A connection's writes are proposed in arrival order and apply in that order;
            // one lost on the way (a leader change) leaves the client unsure what happened,
            // and ZooKeeper tells it so by dropping the connection.
            log::warn!(
                "closing connection from {}: write {seq} applied out of its turn",
                conn.peer
            );
            self.close(key);
            return;
        }
        let Some(Pending::Write {
            xid, op, received, ..
        }) = conn.pending.pop_front()
        else {
            unreachable!("front checked above");
        };
        self.finish_request(key, xid, op, zxid, outcome.result, received);
        self.drain_reads(key);
    }

    /// Answers queued reads until the next unanswered write.
    pub(crate) fn drain_reads(&mut self, key: ConnKey) {
        loop {
            let Some(conn) = self.conn_mut(key) else {
                return;
            };
            match conn.pending.front() {
                Some(Pending::Read { .. })
                | Some(Pending::Error { .. })
                | Some(Pending::Barrier { done: true, .. }) => {}
                _ => break,
            }
            match conn.pending.pop_front() {
                Some(Pending::Read {
                    xid,
                    request,
                    received,
                }) => self.answer_read(key, xid, request, received),
                Some(Pending::Error {
                    xid,
                    op,
                    code,
                    received,
                }) => {
                    let zxid = self.tree.last_zxid();
                    self.finish_request(key, xid, op, zxid, Err(code), received);
                }
                Some(Pending::Barrier { .. }) => {}
                _ => unreachable!("front checked above"),
            }
        }
        // The queue shrank: a connection held back by IN_FLIGHT_MAX may read again.
        if self.conn(key).is_some_and(|c| c.held_back) {
            self.stalled.insert(key);
        }
    }
}

/// The reads `readConsistency=linearizable` puts behind a barrier: those that read the tree.
/// Pings, sync, setWatches and the watch-management requests are answered as usual.
fn is_tree_read(request: &Request) -> bool {
    matches!(
        request,
        Request::GetData(_)
            | Request::Exists(_)
            | Request::GetChildren(_)
            | Request::GetChildren2(_)
            | Request::GetAcl(_)
            | Request::GetAllChildrenNumber(_)
            | Request::GetEphemerals(_)
            | Request::MultiRead(_)
    )
}
