//! Preparing and removing the bench's tree: `ROOT/sNNNN/kNNNNNNNN`.
//!
//! Both run as "scripts": a list of requests per session, sent pipelined (`SCRIPT_DEPTH`
//! deep) on that session, so the setup of a large key space takes seconds, not minutes.
//! A session's script is applied in order, so a session's directory exists before its keys
//! are created. Leftovers of an interrupted run are found by listing the tree level by level
//! (any shape, not only ours) and deleted deepest level first.
//!
//! Invariants: a script request is answered exactly once and handed to the caller's
//! `on_reply` with the request itself; an error `on_reply` does not tolerate stops the bench.

use std::time::Instant;

use wire::{Acl, CreateRequest, DeleteRequest, ErrorCode, PathWatchRequest, Request, Response};

use super::driver::{send, Bench, Purpose, STALL_TIMEOUT};
use super::BenchError;
use crate::client::Event;

/// What a script does with each answer: `Err` stops the bench.
type OnReply<'a> = dyn FnMut(&Request, Result<Response, ErrorCode>) -> Result<(), BenchError> + 'a;

/// Requests in flight per session while a script runs.
const SCRIPT_DEPTH: usize = 32;

impl Bench<'_> {
    /// Deletes any leftover tree at ROOT, creates ROOT's missing parents, ROOT, one
    /// directory per session and each session's initial keys.
    pub fn prepare(&mut self) -> Result<(), BenchError> {
        let root = self.options.root.clone();
        let deleted = self.delete_tree(&root)?;
        if deleted > 0 {
            eprintln!("bench: deleted {deleted} leftover nodes under {root}");
        }
        let parents: Vec<Request> = ancestors(&root).iter().map(|p| create(p, &[])).collect();
        self.run_script(vec![parents], &mut |request, result| {
            tolerate(request, result, ErrorCode::NodeExists).map(|_| ())
        })?;
        self.run_script(vec![vec![create(&root, &[])]], &mut |request, result| {
            tolerate(request, result, ErrorCode::Ok).map(|_| ())
        })?;
        let value = vec![b'x'; self.options.value_size_bytes];
        let scripts: Vec<Vec<Request>> = self
            .workers
            .iter()
            .map(|w| {
                let mut script = vec![create(&w.keys.dir, &[])];
                script.extend((w.keys.lo..w.keys.hi).map(|k| create(&w.keys.path(k), &value)));
                script
            })
            .collect();
        let expected: usize = scripts.iter().map(Vec::len).sum();
        let mut created = 0usize;
        self.run_script(scripts, &mut |request, result| {
            created += 1;
            tolerate(request, result, ErrorCode::Ok).map(|_| ())
        })?;
        assert_eq!(created, expected, "every setup request was answered");
        Ok(())
    }

    /// Deletes the keys the sessions know are live, then whatever else is under ROOT, and
    /// ROOT itself.
    pub fn cleanup(&mut self) -> Result<(), BenchError> {
        let scripts: Vec<Vec<Request>> = self
            .workers
            .iter()
            .map(|w| {
                (w.keys.lo..w.keys.hi)
                    .map(|k| delete(&w.keys.path(k)))
                    .collect()
            })
            .collect();
        self.run_script(scripts, &mut |request, result| {
            tolerate(request, result, ErrorCode::NoNode).map(|_| ())
        })?;
        let root = self.options.root.clone();
        let deleted = self.delete_tree(&root)?;
        // ROOT and the session directories remain after the keys are gone.
        log::debug!("cleanup deleted {deleted} nodes besides the live keys");
        Ok(())
    }

    /// Deletes `root` and everything under it; returns how many nodes were deleted.
    fn delete_tree(&mut self, root: &str) -> Result<u64, BenchError> {
        let mut levels: Vec<Vec<String>> = vec![vec![root.to_string()]];
        loop {
            let level = levels.last().expect("levels starts with the root");
            let requests: Vec<Request> = level.iter().map(|p| get_children(p)).collect();
            let mut next = Vec::new();
            let scripts = self.spread(requests);
            self.run_script(scripts, &mut |request, result| {
                if let Some(Response::GetChildren { children }) =
                    tolerate(request, result, ErrorCode::NoNode)?
                {
                    let parent = request.path().expect("getChildren has a path");
                    next.extend(children.iter().map(|c| format!("{parent}/{c}")));
                }
                Ok(())
            })?;
            if next.is_empty() {
                break;
            }
            levels.push(next);
        }
        let mut deleted = 0u64;
        for level in levels.iter().rev() {
            let scripts = self.spread(level.iter().map(|p| delete(p)).collect());
            self.run_script(scripts, &mut |request, result| {
                if tolerate(request, result, ErrorCode::NoNode)?.is_some() {
                    deleted += 1;
                }
                Ok(())
            })?;
        }
        Ok(deleted)
    }

    /// Deals `requests` round-robin over the sessions.
    fn spread(&self, requests: Vec<Request>) -> Vec<Vec<Request>> {
        let n = self.workers.len();
        assert!(n > 0, "at least one session");
        let mut scripts: Vec<Vec<Request>> = vec![Vec::new(); n];
        for (i, request) in requests.into_iter().enumerate() {
            scripts[i % n].push(request);
        }
        scripts
    }

    /// Sends each session's script, `SCRIPT_DEPTH` deep, and hands every answer to
    /// `on_reply` with its request.
    fn run_script(
        &mut self,
        scripts: Vec<Vec<Request>>,
        on_reply: &mut OnReply<'_>,
    ) -> Result<(), BenchError> {
        assert!(
            scripts.len() <= self.workers.len(),
            "one script per session at most"
        );
        assert!(
            self.workers.iter().all(|w| w.in_flight.is_empty()),
            "scripts run alone"
        );
        let mut next = vec![0usize; scripts.len()];
        let mut outstanding = 0usize;
        let mut last_event_at = Instant::now();
        loop {
            let now = Instant::now();
            for (index, script) in scripts.iter().enumerate() {
                let worker = &mut self.workers[index];
                while next[index] < script.len() && worker.in_flight.len() < SCRIPT_DEPTH {
                    let purpose = Purpose::Script { index: next[index] };
                    send(
                        &mut self.mux,
                        index,
                        worker,
                        &script[next[index]],
                        purpose,
                        now,
                    )?;
                    next[index] += 1;
                    outstanding += 1;
                }
            }
            if outstanding == 0 {
                break;
            }
            let events = self.poll_once()?;
            if !events.is_empty() {
                last_event_at = Instant::now();
            }
            for (index, event, _) in events {
                let Event::Reply(reply) = event else {
                    continue; // A late notification from the load: nothing waits for it.
                };
                let sent = self.workers[index]
                    .in_flight
                    .pop_front()
                    .expect("a request was sent");
                assert_eq!(sent.xid, reply.xid, "replies arrive in order");
                let Purpose::Script { index: step } = sent.purpose else {
                    unreachable!("only script requests are in flight");
                };
                outstanding -= 1;
                on_reply(&scripts[index][step], reply.result)?;
            }
            if last_event_at.elapsed() > STALL_TIMEOUT {
                return Err(BenchError::Setup("no reply for 60 s during setup".into()));
            }
        }
        assert!(
            next.iter().zip(&scripts).all(|(n, s)| *n == s.len()),
            "scripts finished"
        );
        Ok(())
    }
}

/// `Ok(Some(response))` on success, `Ok(None)` on the tolerated error, else a setup error
/// naming the request.
fn tolerate(
    request: &Request,
    result: Result<Response, ErrorCode>,
    tolerated: ErrorCode,
) -> Result<Option<Response>, BenchError> {
    match result {
        Ok(response) => Ok(Some(response)),
        Err(code) if code == tolerated && code != ErrorCode::Ok => Ok(None),
        Err(code) => Err(BenchError::Setup(format!(
            "{} {}: {code}",
            request.op_code().name(),
            request.path().unwrap_or("?")
        ))),
    }
}

/// The proper ancestors of `path` other than `/`, shallowest first: `/a/b/c` → `/a`, `/a/b`.
fn ancestors(path: &str) -> Vec<String> {
    let mut out: Vec<String> = path
        .match_indices('/')
        .skip(1)
        .map(|(i, _)| path[..i].to_string())
        .collect();
    out.retain(|p| !p.is_empty());
    assert!(
        out.iter().all(|p| path.starts_with(p.as_str())),
        "ancestors are prefixes"
    );
    out
}

fn create(path: &str, data: &[u8]) -> Request {
    Request::Create(CreateRequest {
        path: path.to_string(),
        data: Some(data.to_vec()),
        acl: Acl::open_unsafe(),
        flags: 0,
        ttl: -1,
    })
}

fn delete(path: &str) -> Request {
    Request::Delete(DeleteRequest {
        path: path.to_string(),
        version: -1,
    })
}

fn get_children(path: &str) -> Request {
    Request::GetChildren(PathWatchRequest {
        path: path.to_string(),
        watch: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_exclude_the_root_and_the_path() {
        assert_eq!(ancestors("/a"), Vec::<String>::new());
        assert_eq!(
            ancestors("/a/b/c"),
            vec!["/a".to_string(), "/a/b".to_string()]
        );
    }

    #[test]
    fn tolerated_error_is_none_and_others_name_the_request() {
        let request = delete("/x");
        assert!(
            tolerate(&request, Err(ErrorCode::NoNode), ErrorCode::NoNode)
                .unwrap()
                .is_none()
        );
        let err = tolerate(&request, Err(ErrorCode::NotEmpty), ErrorCode::NoNode).unwrap_err();
        assert!(err.to_string().contains("/x"), "{err}");
    }
}
