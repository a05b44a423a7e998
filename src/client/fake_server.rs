//! A tiny in-process ZooKeeper stand-in for the client's unit tests (test builds only).
//!
//! A thread on 127.0.0.1 accepts connections and serves each on its own thread with
//! blocking I/O (one tree behind a mutex, fine for tests): the
//! handshake, ping, closeSession, create, delete, exists, getData (with data watches),
//! setData (which fires them), getChildren and multi (all-or-nothing). It checks nothing
//! the client does not rely on; the real server's behaviour is tested elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use wire::{
    event_type, keeper_state, xid, ConnectRequest, ConnectResponse, ErrorCode, OpCode, OpResult,
    ReplyHeader, Request, RequestHeader, Response, Stat, WatcherEvent,
};

pub struct FakeServer {
    addr: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    pub fn start() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || serve(listener, &flag));
        FakeServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// Stops the server and drops its connection.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.shut();
    }
}

fn serve(listener: TcpListener, stop: &Arc<AtomicBool>) {
    let tree = Arc::new(Mutex::new(Tree::new()));
    let mut threads = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (tree, stop) = (Arc::clone(&tree), Arc::clone(stop));
                threads.push(std::thread::spawn(move || {
                    serve_connection(stream, &tree, &stop)
                }));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    for thread in threads {
        thread.join().unwrap();
    }
}

fn read_frame(stream: &mut TcpStream, stop: &AtomicBool) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    read_exact(stream, &mut len, stop)?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    read_exact(stream, &mut body, stop)?;
    Some(body)
}

fn read_exact(stream: &mut TcpStream, buf: &mut [u8], stop: &AtomicBool) -> Option<()> {
    let mut filled = 0;
    while filled < buf.len() {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        match stream.read(&mut buf[filled..]) {
            Ok(0) => return None,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return None,
        }
    }
    Some(())
}

fn serve_connection(mut stream: TcpStream, tree: &Mutex<Tree>, stop: &AtomicBool) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let Some(first) = read_frame(&mut stream, stop) else {
        return;
    };
    let request = ConnectRequest::decode(&first).unwrap();
    let mut out = Vec::new();
    let response = ConnectResponse {
        protocol_version: 0,
        time_out: request.time_out,
        session_id: 0x1234,
        passwd: vec![0; 16],
        read_only: false,
        read_only_present: request.read_only_present,
    };
    wire::write_frame(&mut out, |w| response.encode(w));
    stream.write_all(&out).unwrap();
    while let Some(frame) = read_frame(&mut stream, stop) {
        let (header, body) = RequestHeader::split(&frame).unwrap();
        let op = OpCode::from_code(header.op_type).unwrap();
        let request = Request::decode(op, body).unwrap();
        let mut out = Vec::new();
        let result = tree.lock().unwrap().apply(&request, &mut out);
        let (err, response) = match result {
            Ok(response) => (0, response),
            Err(code) => (code.code(), Response::Empty),
        };
        let reply_xid = if op == OpCode::Ping {
            xid::PING
        } else {
            header.xid
        };
        let header = ReplyHeader {
            xid: reply_xid,
            zxid: 1,
            err,
        };
        wire::write_frame(&mut out, |w| response.encode_with_header(&header, w));
        if stream.write_all(&out).is_err() || op == OpCode::CloseSession {
            return;
        }
    }
}

#[derive(Clone)]
struct Tree {
    nodes: BTreeMap<String, (Option<Vec<u8>>, i32)>,
    data_watches: BTreeSet<String>,
}

impl Tree {
    fn new() -> Tree {
        let mut nodes = BTreeMap::new();
        nodes.insert("/".to_string(), (None, 0));
        Tree {
            nodes,
            data_watches: BTreeSet::new(),
        }
    }

    fn stat(&self, path: &str) -> Stat {
        let (data, version) = &self.nodes[path];
        Stat {
            version: *version,
            data_length: data.as_ref().map_or(0, Vec::len) as i32,
            num_children: self.children(path).len() as i32,
            ..Stat::default()
        }
    }

    fn children(&self, path: &str) -> Vec<String> {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        self.nodes
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(str::to_string)
            .collect()
    }

    fn parent(path: &str) -> &str {
        match path.rfind('/') {
            Some(0) => "/",
            Some(i) => &path[..i],
            None => "/",
        }
    }

    /// Applies one request; notifications it fires are appended to `out` as frames.
    fn apply(&mut self, request: &Request, out: &mut Vec<u8>) -> Result<Response, ErrorCode> {
        match request {
            Request::Ping | Request::CloseSession => Ok(Response::Empty),
            Request::Create(c) => {
                if self.nodes.contains_key(&c.path) {
                    return Err(ErrorCode::NodeExists);
                }
                if !self.nodes.contains_key(Self::parent(&c.path)) {
                    return Err(ErrorCode::NoNode);
                }
                self.nodes.insert(c.path.clone(), (c.data.clone(), 0));
                Ok(Response::Create {
                    path: c.path.clone(),
                })
            }
            Request::Delete(d) => {
                if !self.nodes.contains_key(&d.path) {
                    return Err(ErrorCode::NoNode);
                }
                if !self.children(&d.path).is_empty() {
                    return Err(ErrorCode::NotEmpty);
                }
                self.nodes.remove(&d.path);
                Ok(Response::Empty)
            }
            Request::Exists(p) | Request::GetData(p) | Request::GetChildren(p) => {
                if !self.nodes.contains_key(&p.path) {
                    return Err(ErrorCode::NoNode);
                }
                match request {
                    Request::Exists(_) => Ok(Response::Stat(self.stat(&p.path))),
                    Request::GetData(_) => {
                        if p.watch {
                            self.data_watches.insert(p.path.clone());
                        }
                        Ok(Response::GetData {
                            data: self.nodes[&p.path].0.clone(),
                            stat: self.stat(&p.path),
                        })
                    }
                    _ => Ok(Response::GetChildren {
                        children: self.children(&p.path),
                    }),
                }
            }
            Request::SetData(s) => {
                let Some(node) = self.nodes.get_mut(&s.path) else {
                    return Err(ErrorCode::NoNode);
                };
                node.0 = s.data.clone();
                node.1 += 1;
                if self.data_watches.remove(&s.path) {
                    let event = WatcherEvent {
                        event_type: event_type::NODE_DATA_CHANGED,
                        state: keeper_state::SYNC_CONNECTED,
                        path: s.path.clone(),
                    };
                    wire::write_frame(out, |w| event.write_notification(w));
                }
                Ok(Response::Stat(self.stat(&s.path)))
            }
            Request::Multi(ops) => Ok(Response::Multi(self.apply_multi(ops, out))),
            other => panic!("the fake server does not do {:?}", other.op_code()),
        }
    }

    fn apply_multi(&mut self, ops: &[Request], out: &mut Vec<u8>) -> Vec<OpResult> {
        let before = self.clone();
        let mut results = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            match self.apply(op, out) {
                Ok(Response::Create { path }) => results.push(OpResult::Create { path }),
                Ok(Response::Stat(stat)) => results.push(OpResult::SetData { stat }),
                Ok(_) => results.push(OpResult::Delete),
                Err(code) => {
                    *self = before;
                    let mut failed = vec![OpResult::Error(ErrorCode::Ok); i];
                    failed.push(OpResult::Error(code));
                    failed.resize(ops.len(), OpResult::Error(ErrorCode::RuntimeInconsistency));
                    return failed;
                }
            }
        }
        results
    }
}
