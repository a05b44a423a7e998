//! Reads, executed directly on the tree (`FinalRequestProcessor` read cases).
//!
//! Watches are not registered here; the server does that, and ZooKeeper's rules for when
//! are: exists registers its watch even when the node is missing (NoNode) but not on a
//! BadArguments (NUL in the path); getData/getChildren/getChildren2 register only on
//! success (node present and READ allowed). exists needs no permission; getACL needs READ
//! or ADMIN, and a caller without ADMIN sees digest ids as "user:x". Paths of reads are not
//! validated (a malformed path is simply NoNode), except exists rejects a NUL.
//!
//! getChildren order: ZooKeeper answers in HashSet order; we answer in sorted byte order so
//! replies are deterministic (clients must not depend on order either way).

use wire::{perms, ErrorCode, Id, OpResult, Request, Response};

use crate::acl;
use crate::tree::DataTree;
use crate::znode::Node;

impl DataTree {
    /// Executes a read for a session with identities `auth`.
    pub fn read(&self, req: &Request, auth: &[Id], session_id: i64) -> Result<Response, ErrorCode> {
        match req {
            Request::Exists(r) => {
                if r.path.contains('\0') {
                    return Err(ErrorCode::BadArguments);
                }
                let node = self.node(&r.path).ok_or(ErrorCode::NoNode)?;
                Ok(Response::Stat(node.stat()))
            }
            Request::GetData(r) => {
                let node = self.readable(&r.path, auth)?;
                Ok(Response::GetData {
                    data: node.data_option().map(<[u8]>::to_vec),
                    stat: node.stat(),
                })
            }
            Request::GetChildren(r) => {
                let node = self.readable(&r.path, auth)?;
                Ok(Response::GetChildren {
                    children: node.children.iter().map(str::to_string).collect(),
                })
            }
            Request::GetChildren2(r) => {
                let node = self.readable(&r.path, auth)?;
                let children = node.children.iter().map(str::to_string).collect();
                Ok(Response::GetChildren2 {
                    children,
                    stat: node.stat(),
                })
            }
            Request::GetAcl(r) => {
                let node = self.node(&r.path).ok_or(ErrorCode::NoNode)?;
                acl::check_acl(&node.acl, perms::READ | perms::ADMIN, auth)?;
                let acl = match acl::check_acl(&node.acl, perms::ADMIN, auth) {
                    Ok(()) => node.acl.to_vec(),
                    Err(_) => acl::redact_digests(&node.acl),
                };
                Ok(Response::GetAcl {
                    acl,
                    stat: node.stat(),
                })
            }
            Request::GetAllChildrenNumber(r) => {
                self.readable(&r.path, auth)?;
                Ok(Response::AllChildrenNumber(
                    self.all_children_number(&r.path),
                ))
            }
            Request::GetEphemerals(r) => Ok(Response::Ephemerals(
                self.ephemerals_of(session_id, &r.path),
            )),
            Request::MultiRead(ops) => self.multi_read(ops, auth),
            Request::Sync(r) => Ok(Response::Sync {
                path: r.path.clone(),
            }),
            _ => Err(ErrorCode::Unimplemented),
        }
    }

    /// The node at `path` if it exists and `auth` may READ it.
    fn readable(&self, path: &str, auth: &[Id]) -> Result<&Node, ErrorCode> {
        let node = self.node(path).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(&node.acl, perms::READ, auth)?;
        Ok(node)
    }

    /// `DataTree.getAllChildrenNumber`: all descendants; for "/" every node but the root
    /// (so /zookeeper and its children count).
    fn all_children_number(&self, path: &str) -> i32 {
        let count = if path == "/" {
            self.len() - 1
        } else {
            self.count_with_prefix(&format!("{path}/"))
        };
        i32::try_from(count).unwrap_or(i32::MAX)
    }

    /// getEphemerals: the session's own ephemerals, all of them for an empty (after
    /// Java's trim) or "/" prefix, else those whose path starts with the prefix. Sorted.
    fn ephemerals_of(&self, session_id: i64, prefix: &str) -> Vec<String> {
        let Some(session) = self.sessions.get(session_id) else {
            return Vec::new();
        };
        let trimmed = prefix.trim_matches(|c: char| c <= ' ');
        session
            .ephemerals
            .iter()
            .filter(|p| trimmed.is_empty() || trimmed == "/" || p.starts_with(prefix))
            .cloned()
            .collect()
    }

    fn multi_read(&self, ops: &[Request], auth: &[Id]) -> Result<Response, ErrorCode> {
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let result = match op {
                Request::GetData(r) => match self.readable(&r.path, auth) {
                    Ok(node) => OpResult::GetData {
                        data: node.data_option().map(<[u8]>::to_vec),
                        stat: node.stat(),
                    },
                    Err(code) => OpResult::Error(code),
                },
                Request::GetChildren(r) => match self.readable(&r.path, auth) {
                    Ok(node) => OpResult::GetChildren {
                        children: node.children.iter().map(str::to_string).collect(),
                    },
                    Err(code) => OpResult::Error(code),
                },
                _ => return Err(ErrorCode::MarshallingError),
            };
            results.push(result);
        }
        assert_eq!(results.len(), ops.len(), "one result per read op");
        Ok(Response::MultiRead(results))
    }
}
