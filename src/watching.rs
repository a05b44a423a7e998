//! Reads that touch watches: registering one-shot watches on exists/getData/getChildren,
//! persistent ones on addWatch, and checkWatches/removeWatches — the server-local half of
//! ZooKeeper's `FinalRequestProcessor` read cases. The tree answers the read itself.
//!
//! Rules (ZooKeeper 3.8): exists registers its watch whether or not the node exists (a
//! missing node gets an exist watch that fires NodeCreated); getData and getChildren
//! register only on success; a failed ACL check registers nothing. An unknown watcher
//! type or addWatch mode fails inside ZooKeeper's final processor and is answered
//! MarshallingError.

use tree::{WatchKind, WatcherType};
use wire::{ClientInfo, ErrorCode, Id, Request, Response};

use crate::server::Server;

impl Server {
    pub fn read_with_watches(
        &mut self,
        session_id: i64,
        auth: &[Id],
        request: Request,
    ) -> Result<Response, ErrorCode> {
        match &request {
            Request::Exists(r) => {
                let result = self.tree.read(&request, auth, session_id);
                if r.watch {
                    match &result {
                        Ok(_) => self.watches.add(&r.path, WatchKind::Data, session_id),
                        Err(ErrorCode::NoNode) => {
                            self.watches.add(&r.path, WatchKind::Exist, session_id)
                        }
                        Err(_) => {}
                    }
                }
                result
            }
            Request::GetData(r) => {
                let result = self.tree.read(&request, auth, session_id);
                if r.watch && result.is_ok() {
                    self.watches.add(&r.path, WatchKind::Data, session_id);
                }
                result
            }
            Request::GetChildren(r) | Request::GetChildren2(r) => {
                let result = self.tree.read(&request, auth, session_id);
                if r.watch && result.is_ok() {
                    self.watches.add(&r.path, WatchKind::Child, session_id);
                }
                result
            }
            Request::AddWatch(r) => {
                let kind =
                    WatchKind::from_add_watch_mode(r.mode).ok_or(ErrorCode::MarshallingError)?;
                self.watches.add(&r.path, kind, session_id);
                Ok(Response::AddWatch)
            }
            Request::CheckWatches(r) => {
                let kind =
                    WatcherType::from_i32(r.watcher_type).ok_or(ErrorCode::MarshallingError)?;
                if self.watches.check(&r.path, kind, session_id) {
                    Ok(Response::Empty)
                } else {
                    Err(ErrorCode::NoWatcher)
                }
            }
            Request::RemoveWatches(r) => {
                let kind =
                    WatcherType::from_i32(r.watcher_type).ok_or(ErrorCode::MarshallingError)?;
                if self.watches.remove(&r.path, kind, session_id) {
                    Ok(Response::Empty)
                } else {
                    Err(ErrorCode::NoWatcher)
                }
            }
            _ => self.tree.read(&request, auth, session_id),
        }
    }
}

/// `AuthUtil.getClientInfos`: one entry per identity the connection holds, the user named
/// by the scheme's provider: digest ids show the user before the `:`, ip ids the address,
/// and schemes with no provider (`super`) an empty user.
pub fn client_infos(auth: &[Id]) -> Vec<ClientInfo> {
    auth.iter()
        .map(|id| {
            let user = match id.scheme.as_str() {
                "digest" => id.id.split(':').next().unwrap_or("").to_string(),
                "ip" => id.id.clone(),
                _ => String::new(),
            };
            ClientInfo {
                auth_scheme: id.scheme.clone(),
                user,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_am_i_names_users_as_zookeeper_providers_do() {
        let infos = client_infos(&[
            Id::new("digest", "alice:l+tY9T55txG8G/8vAjsjlr4obeM="),
            Id::new("ip", "127.0.0.1"),
            Id::new("super", ""),
        ]);
        let users: Vec<(&str, &str)> = infos
            .iter()
            .map(|c| (c.auth_scheme.as_str(), c.user.as_str()))
            .collect();
        assert_eq!(
            users,
            [("digest", "alice"), ("ip", "127.0.0.1"), ("super", "")]
        );
    }
}
