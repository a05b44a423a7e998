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
//! after a timeout); a connection failure makes every later call fail with the same kind
//! of error. Source of the method shapes: `org.apache.zookeeper.ZooKeeper` (3.8).

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use wire::{
    Acl, CreateMode, CreateRequest, DeleteRequest, ErrorCode, OpResult, PathWatchRequest, Request,
    Response, SetDataRequest, Stat, WatcherEvent,
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
        let body = CreateRequest {
            path: path.to_string(),
            data: Some(data.to_vec()),
            acl: acl.to_vec(),
            flags: mode.flags(),
            ttl: -1,
        };
        let request = if mode.is_container() {
            Request::CreateContainer(body)
        } else {
            Request::Create(body)
        };
        match self.call(&request)? {
            Response::Create { path } | Response::Create2 { path, .. } => Ok(path),
            other => Err(unexpected("create", &other)),
        }
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
            if let Event::Reply(reply) = self.next_event(deadline)? {
                // Requests are answered in order and only one is pending.
                assert_eq!(reply.xid, xid, "the reply answers the pending request");
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
