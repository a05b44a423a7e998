//! A blocking ZooKeeper client: one session, one request at a time, for the CLI and tests.
//!
//! It is a [`Mux`] with a single connection: each call queues its request and polls until
//! the reply with its xid arrives or the call timeout (the negotiated session timeout)
//! passes. Watch notifications that arrive meanwhile are kept, in order, for
//! [`Client::next_watch_event`]. The session is pinged only while a call or
//! `next_watch_event` is polling, so an idle caller must call one of them at least every
//! third of the session timeout to keep the session alive.
//!
//! Invariants: at most one request is pending when a call returns (none after a reply, one
//! after a timeout); a connection failure, a call timeout or a failed `add_auth` breaks the
//! client, and every later call fails with ConnectionLoss. Auth packets use xid -4, as
//! `ClientCnxn` sends them. Source of the method shapes: `org.apache.zookeeper.ZooKeeper` (3.8).

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use wire::{
    xid, Acl, AddWatchRequest, AuthPacket, ClientInfo, CreateMode, CreateRequest, DeleteRequest,
    ErrorCode, OpResult, PathRequest, PathWatchRequest, Request, Response, SetAclRequest,
    SetDataRequest, Stat, WatcherEvent, WatchesRequest,
};

use super::mux::{ConnIndex, Mux, MuxEvent};
use super::session::Event;
use super::{multi_failure, ZkError};

/// A blocking client with one session (see the module doc).
pub struct Client {
    mux: Mux,
    conn: ConnIndex,
    /// How long a call waits for its reply.
    call_timeout: Duration,
    /// Notifications received and not yet taken, oldest first.
    watch_events: VecDeque<WatcherEvent>,
    /// Set when the connection failed; later calls fail with ConnectionLoss.
    is_broken: bool,
    events: Vec<MuxEvent>,
}

impl Client {
    /// Connects to `addr` (`host:port`) and opens a session asking for `session_timeout`.
    pub fn connect(addr: &str, session_timeout: Duration) -> Result<Client, ZkError> {
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        let Some(&first) = addrs.first() else {
            let e = io::Error::new(io::ErrorKind::NotFound, format!("{addr}: no address"));
            return Err(ZkError::Io(e));
        };
        let timeout_ms = i32::try_from(session_timeout.as_millis())
            .unwrap_or(i32::MAX)
            .max(1);
        let mut mux = Mux::new()?;
        let conn = mux.connect(first, timeout_ms, session_timeout)?;
        let mut client = Client {
            mux,
            conn,
            call_timeout: session_timeout,
            watch_events: VecDeque::new(),
            is_broken: false,
            events: Vec::new(),
        };
        let deadline = Instant::now() + session_timeout;
        loop {
            let event = client.next_event(deadline)?;
            if let Event::Connected { timeout_ms, .. } = event {
                let negotiated_ms = u64::try_from(timeout_ms).unwrap_or(1);
                client.call_timeout = Duration::from_millis(negotiated_ms);
                break;
            }
        }
        assert!(
            client.mux.session(conn).is_connected(),
            "connect returns a live session"
        );
        Ok(client)
    }

    pub fn session_id(&self) -> i64 {
        self.mux.session(self.conn).session_id()
    }

    pub fn session_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// Creates `path` and returns the created path (which differs for sequential modes).
    /// TTL modes need a ttl this call does not take: they fail with `BadArguments`.
    pub fn create(
        &mut self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<String, ZkError> {
        if mode.is_ttl() {
            return Err(ZkError::Code(ErrorCode::BadArguments));
        }
        self.create_with_options(path, Some(data), acl, mode, -1)
    }

    /// The data (`None`: jute's null buffer) and Stat of `path`; `watch` leaves a data
    /// watch on it.
    pub fn get_data(
        &mut self,
        path: &str,
        watch: bool,
    ) -> Result<(Option<Vec<u8>>, Stat), ZkError> {
        match self.call(&Request::GetData(path_watch(path, watch)))? {
            Response::GetData { data, stat } => Ok((data, stat)),
            other => Err(unexpected("getData", &other)),
        }
    }

    /// Sets the data of `path` if its version is `version` (-1: any version).
    pub fn set_data(&mut self, path: &str, data: &[u8], version: i32) -> Result<Stat, ZkError> {
        let request = Request::SetData(SetDataRequest {
            path: path.to_string(),
            data: Some(data.to_vec()),
            version,
        });
        match self.call(&request)? {
            Response::Stat(stat) => Ok(stat),
            other => Err(unexpected("setData", &other)),
        }
    }

    /// Deletes `path` if its version is `version` (-1: any version).
    pub fn delete(&mut self, path: &str, version: i32) -> Result<(), ZkError> {
        let request = Request::Delete(DeleteRequest {
            path: path.to_string(),
            version,
        });
        match self.call(&request)? {
            Response::Empty => Ok(()),
            other => Err(unexpected("delete", &other)),
        }
    }

    /// The Stat of `path`, or `None` if it does not exist; `watch` leaves a watch either way.
    pub fn exists(&mut self, path: &str, watch: bool) -> Result<Option<Stat>, ZkError> {
        match self.call(&Request::Exists(path_watch(path, watch))) {
            Ok(Response::Stat(stat)) => Ok(Some(stat)),
            Ok(other) => Err(unexpected("exists", &other)),
            Err(ZkError::Code(ErrorCode::NoNode)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The names of `path`'s children (unsorted, as the server sends them).
    pub fn get_children(&mut self, path: &str, watch: bool) -> Result<Vec<String>, ZkError> {
        match self.call(&Request::GetChildren(path_watch(path, watch)))? {
            Response::GetChildren { children } => Ok(children),
            other => Err(unexpected("getChildren", &other)),
        }
    }

    /// Creates `path` with every option zkCli's `create` has: `data` may be null (`None`),
    /// and TTL modes send a createTTL request with `ttl_ms`. Returns the created path.
    pub fn create_with_options(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
        ttl_ms: i64,
    ) -> Result<String, ZkError> {
        let body = CreateRequest {
            path: path.to_string(),
            data: data.map(<[u8]>::to_vec),
            acl: acl.to_vec(),
            flags: mode.flags(),
            ttl: if mode.is_ttl() { ttl_ms } else { -1 },
        };
        let request = if mode.is_ttl() {
            Request::CreateTtl(body)
        } else if mode.is_container() {
            Request::CreateContainer(body)
        } else {
            Request::Create(body)
        };
        match self.call(&request)? {
            Response::Create { path } | Response::Create2 { path, .. } => Ok(path),
            other => Err(unexpected("create", &other)),
        }
    }

    /// The children of `path` and its Stat (getChildren2).
    pub fn get_children2(
        &mut self,
        path: &str,
        watch: bool,
    ) -> Result<(Vec<String>, Stat), ZkError> {
        match self.call(&Request::GetChildren2(path_watch(path, watch)))? {
            Response::GetChildren2 { children, stat } => Ok((children, stat)),
            other => Err(unexpected("getChildren2", &other)),
        }
    }

    /// `ZooKeeperAdmin.reconfigure`: the configuration the leader committed, and the Stat of
    /// /zookeeper/config.
    pub fn reconfig(
        &mut self,
        request: wire::ReconfigRequest,
    ) -> Result<(Option<Vec<u8>>, Stat), ZkError> {
        match self.call(&Request::Reconfig(request))? {
            Response::GetData { data, stat } => Ok((data, stat)),
            other => Err(unexpected("reconfig", &other)),
        }
    }

    /// The ACL of `path` and its Stat.
    pub fn get_acl(&mut self, path: &str) -> Result<(Vec<Acl>, Stat), ZkError> {
        match self.call(&Request::GetAcl(path_request(path)))? {
            Response::GetAcl { acl, stat } => Ok((acl, stat)),
            other => Err(unexpected("getACL", &other)),
        }
    }

    /// Sets the ACL of `path` if its ACL version is `version` (-1: any version).
    pub fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<Stat, ZkError> {
        let request = Request::SetAcl(SetAclRequest {
            path: path.to_string(),
            acl: acl.to_vec(),
            version,
        });
        match self.call(&request)? {
            Response::Stat(stat) => Ok(stat),
            other => Err(unexpected("setACL", &other)),
        }
    }

    /// Waits until the server has applied every txn committed before the call; returns the
    /// path the server echoes.
    pub fn sync(&mut self, path: &str) -> Result<String, ZkError> {
        match self.call(&Request::Sync(path_request(path)))? {
            Response::Sync { path } => Ok(path),
            other => Err(unexpected("sync", &other)),
        }
    }

    /// The identities the server associates with this connection (whoAmI).
    pub fn who_am_i(&mut self) -> Result<Vec<ClientInfo>, ZkError> {
        match self.call(&Request::WhoAmI)? {
            Response::WhoAmI(infos) => Ok(infos),
            other => Err(unexpected("whoAmI", &other)),
        }
    }

    /// The paths of this session's ephemerals that start with `prefix` ("/" for all).
    pub fn get_ephemerals(&mut self, prefix: &str) -> Result<Vec<String>, ZkError> {
        match self.call(&Request::GetEphemerals(path_request(prefix)))? {
            Response::Ephemerals(paths) => Ok(paths),
            other => Err(unexpected("getEphemerals", &other)),
        }
    }

    /// The number of descendants of `path` (not counting `path` itself).
    pub fn get_all_children_number(&mut self, path: &str) -> Result<i32, ZkError> {
        match self.call(&Request::GetAllChildrenNumber(path_request(path)))? {
            Response::AllChildrenNumber(count) => Ok(count),
            other => Err(unexpected("getAllChildrenNumber", &other)),
        }
    }

    /// Adds a persistent watch (`wire::add_watch_mode`) on `path`.
    pub fn add_watch(&mut self, path: &str, mode: i32) -> Result<(), ZkError> {
        let request = Request::AddWatch(AddWatchRequest {
            path: path.to_string(),
            mode,
        });
        match self.call(&request)? {
            Response::AddWatch | Response::Empty => Ok(()),
            other => Err(unexpected("addWatch", &other)),
        }
    }

    /// Removes this session's watches of `watcher_type` (`wire::watcher_type`) on `path`.
    pub fn remove_watches(&mut self, path: &str, watcher_type: i32) -> Result<(), ZkError> {
        let request = Request::RemoveWatches(WatchesRequest {
            path: path.to_string(),
            watcher_type,
        });
        match self.call(&request)? {
            Response::Empty => Ok(()),
            other => Err(unexpected("removeWatches", &other)),
        }
    }

    /// Sends `scheme`/`auth` credentials (xid -4) and waits for the answer. On `AuthFailed`
    /// the server closes the connection, so the client is broken afterwards.
    pub fn add_auth(&mut self, scheme: &str, auth: &[u8]) -> Result<(), ZkError> {
        if self.is_broken {
            return Err(ZkError::Code(ErrorCode::ConnectionLoss));
        }
        let packet = AuthPacket {
            auth_type: 0,
            scheme: scheme.to_string(),
            auth: auth.to_vec(),
        };
        self.mux.send_auth(self.conn, &packet)?;
        let result = self.wait_reply(xid::AUTH).map(|_| ());
        if matches!(result, Err(ZkError::Code(ErrorCode::AuthFailed))) {
            self.is_broken = true;
        }
        result
    }

    /// True once the connection has failed (every later call fails).
    pub fn is_broken(&self) -> bool {
        self.is_broken
    }

    /// Runs `ops` (create/delete/setData/check requests) as one transaction. If an op
    /// fails, nothing is applied and the error names the first failing op.
    pub fn multi(&mut self, ops: Vec<Request>) -> Result<Vec<OpResult>, ZkError> {
        match self.call(&Request::Multi(ops))? {
            Response::Multi(results) => match multi_failure(&results) {
                Some((index, code)) => Err(ZkError::MultiFailed { index, code }),
                None => Ok(results),
            },
            other => Err(unexpected("multi", &other)),
        }
    }

    /// The next watch notification, waiting up to `timeout`; `Ok(None)` if none came.
    pub fn next_watch_event(&mut self, timeout: Duration) -> Result<Option<WatcherEvent>, ZkError> {
        let deadline = Instant::now() + timeout;
        while self.watch_events.is_empty() {
            match self.next_event(deadline) {
                Ok(_) => {}
                Err(ZkError::Io(e)) if e.kind() == io::ErrorKind::TimedOut => break,
                Err(e) => return Err(e),
            }
        }
        Ok(self.watch_events.pop_front())
    }

    /// Closes the session and waits (up to the call timeout) for the server to confirm.
    pub fn close(mut self) -> Result<(), ZkError> {
        if self.is_broken {
            return Err(ZkError::Code(ErrorCode::ConnectionLoss));
        }
        let xid = self.mux.close(self.conn)?;
        self.wait_reply(xid)?;
        assert!(
            self.mux.session(self.conn).is_closed(),
            "closeSession was answered"
        );
        Ok(())
    }

    /// Sends `request` and waits for its reply; an error code becomes `ZkError::Code`.
    fn call(&mut self, request: &Request) -> Result<Response, ZkError> {
        if self.is_broken {
            return Err(ZkError::Code(ErrorCode::ConnectionLoss));
        }
        assert_eq!(
            self.mux.session(self.conn).pending_count(),
            0,
            "one call at a time"
        );
        let xid = self.mux.send(self.conn, request)?;
        self.wait_reply(xid)
    }

    fn wait_reply(&mut self, xid: i32) -> Result<Response, ZkError> {
        let deadline = Instant::now() + self.call_timeout;
        loop {
            let event = match self.next_event(deadline) {
                Ok(event) => event,
                Err(e) => {
                    // A late reply would answer the wrong call: the session is unusable.
                    self.is_broken = true;
                    return Err(e);
                }
            };
            if let Event::Reply(reply) = event {
                // Requests (and auth packets) are answered in order and only one is pending.
                if reply.xid != xid {
                    self.is_broken = true;
                    return Err(ZkError::Protocol(format!(
                        "reply xid {} while waiting for xid {xid}",
                        reply.xid
                    )));
                }
                return reply.result.map_err(ZkError::Code);
            }
        }
    }

    /// The next non-notification event before `deadline`; notifications are queued.
    fn next_event(&mut self, deadline: Instant) -> Result<Event, ZkError> {
        loop {
            if let Some(event) = self.take_buffered_event()? {
                return Ok(event);
            }
            let now = Instant::now();
            if now >= deadline {
                let e = io::Error::new(io::ErrorKind::TimedOut, "no reply in time");
                return Err(ZkError::Io(e));
            }
            self.mux.poll(Some(deadline - now), &mut self.events)?;
        }
    }

    fn take_buffered_event(&mut self) -> Result<Option<Event>, ZkError> {
        while !self.events.is_empty() {
            let event = self.events.remove(0);
            assert_eq!(event.conn, self.conn, "the client has one connection");
            match event.event {
                Ok(Event::Watch(w)) => self.watch_events.push_back(w),
                Ok(Event::Pong) => {}
                Ok(other) => return Ok(Some(other)),
                Err(e) => {
                    self.is_broken = true;
                    return Err(e);
                }
            }
        }
        Ok(None)
    }
}

fn path_watch(path: &str, watch: bool) -> PathWatchRequest {
    PathWatchRequest {
        path: path.to_string(),
        watch,
    }
}

fn path_request(path: &str) -> PathRequest {
    PathRequest {
        path: path.to_string(),
    }
}

fn unexpected(op: &str, response: &Response) -> ZkError {
    ZkError::Protocol(format!("{op} answered with {response:?}"))
}

#[cfg(test)]
mod tests {
    use super::super::fake_server::FakeServer;
    use super::*;

    #[test]
    fn blocking_calls_against_a_fake_server() {
        let server = FakeServer::start();
        let mut c = Client::connect(&server.addr(), Duration::from_secs(10)).unwrap();
        assert_ne!(c.session_id(), 0);
        let open = Acl::open_unsafe();
        assert_eq!(
            c.create("/a", b"one", &open, CreateMode::Persistent)
                .unwrap(),
            "/a"
        );
        let err = c
            .create("/a", b"", &open, CreateMode::Persistent)
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::NodeExists);
        assert_eq!(c.get_data("/a", false).unwrap().0, Some(b"one".to_vec()));
        assert_eq!(c.set_data("/a", b"two", -1).unwrap().version, 1);
        c.create("/a/b", b"", &open, CreateMode::Persistent)
            .unwrap();
        assert_eq!(c.get_children("/a", false).unwrap(), vec!["b".to_string()]);
        assert!(c.exists("/nope", false).unwrap().is_none());
        assert!(c.exists("/a", false).unwrap().is_some());
        c.delete("/a/b", -1).unwrap();
        assert_eq!(c.delete("/a/b", -1).unwrap_err().code(), ErrorCode::NoNode);
        c.close().unwrap();
    }

    #[test]
    fn watch_fires_on_set_and_is_delivered_in_order() {
        let server = FakeServer::start();
        let mut c = Client::connect(&server.addr(), Duration::from_secs(10)).unwrap();
        c.create("/w", b"", &Acl::open_unsafe(), CreateMode::Persistent)
            .unwrap();
        c.get_data("/w", true).unwrap();
        c.set_data("/w", b"x", -1).unwrap();
        let event = c.next_watch_event(Duration::from_secs(5)).unwrap().unwrap();
        assert_eq!(event.path, "/w");
        assert_eq!(event.event_type, wire::event_type::NODE_DATA_CHANGED);
        assert!(c
            .next_watch_event(Duration::from_millis(10))
            .unwrap()
            .is_none());
    }

    #[test]
    fn failed_multi_names_the_failing_op() {
        let server = FakeServer::start();
        let mut c = Client::connect(&server.addr(), Duration::from_secs(10)).unwrap();
        let create = |path: &str| {
            Request::Create(CreateRequest {
                path: path.into(),
                data: Some(Vec::new()),
                acl: Acl::open_unsafe(),
                flags: 0,
                ttl: -1,
            })
        };
        let results = c.multi(vec![create("/m1"), create("/m2")]).unwrap();
        assert_eq!(results.len(), 2);
        let err = c.multi(vec![create("/m3"), create("/m1")]).unwrap_err();
        assert!(matches!(
            err,
            ZkError::MultiFailed {
                index: 1,
                code: ErrorCode::NodeExists
            }
        ));
    }

    #[test]
    fn a_dead_server_is_connection_loss() {
        let server = FakeServer::start();
        let mut c = Client::connect(&server.addr(), Duration::from_secs(10)).unwrap();
        server.stop();
        let err = c.get_data("/", false).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ConnectionLoss);
        assert_eq!(
            c.get_data("/", false).unwrap_err().code(),
            ErrorCode::ConnectionLoss
        );
    }
}
