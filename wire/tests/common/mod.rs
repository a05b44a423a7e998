//! Sample values of every request and response variant, shared by the round-trip and fuzz
//! tests (the fuzz test mutates their encodings).

#![allow(dead_code)]

use wire::proto::request::{
    AddWatchRequest, AuthPacket, CheckVersionRequest, CreateRequest, DeleteRequest, PathRequest,
    PathWatchRequest, ReconfigRequest, SetAclRequest, SetDataRequest, SetWatches, WatchesRequest,
};
use wire::{Acl, ClientInfo, ErrorCode, Id, OpCode, OpResult, Request, Response, Stat};

pub fn stat(seed: i64) -> Stat {
    Stat {
        czxid: seed,
        mzxid: seed + 1,
        ctime: 1_700_000_000_000 + seed,
        mtime: 1_700_000_000_001 + seed,
        version: 3,
        cversion: -1,
        aversion: 0,
        ephemeral_owner: 0x0100_0008_d234_0000,
        data_length: 5,
        num_children: 2,
        pzxid: seed + 2,
    }
}

fn create(path: &str, flags: i32, ttl: i64) -> CreateRequest {
    CreateRequest {
        path: path.to_string(),
        data: Some(b"data".to_vec()),
        acl: vec![
            Acl {
                perms: 31,
                id: Id::new("world", "anyone"),
            },
            Acl {
                perms: 1,
                id: Id::new("digest", "user:hash="),
            },
        ],
        flags,
        ttl,
    }
}

fn pw(path: &str, watch: bool) -> PathWatchRequest {
    PathWatchRequest {
        path: path.to_string(),
        watch,
    }
}

fn p(path: &str) -> PathRequest {
    PathRequest {
        path: path.to_string(),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// One or more samples of every `Request` variant.
pub fn requests() -> Vec<Request> {
    let write_ops = vec![
        Request::Create(create("/m/a", 0, -1)),
        Request::Create2(create("/m/b", 2, -1)),
        Request::CreateContainer(create("/m/c", 4, -1)),
        Request::CreateTtl(create("/m/d", 5, 60_000)),
        Request::Delete(DeleteRequest {
            path: "/m/a".to_string(),
            version: -1,
        }),
        Request::SetData(SetDataRequest {
            path: "/m".to_string(),
            data: Some(vec![0, 255]),
            version: 7,
        }),
        Request::Check(CheckVersionRequest {
            path: "/m".to_string(),
            version: 8,
        }),
    ];
    let watches = SetWatches {
        relative_zxid: 0x1_0000_0010,
        data_watches: strings(&["/a", "/b"]),
        exist_watches: strings(&["/c"]),
        child_watches: Vec::new(),
        persistent_watches: Vec::new(),
        persistent_recursive_watches: Vec::new(),
    };
    let watches2 = SetWatches {
        persistent_watches: strings(&["/p"]),
        persistent_recursive_watches: strings(&["/r", "/s"]),
        ..watches.clone()
    };
    vec![
        Request::Create(create("/a", 0, -1)),
        Request::Create(create("/é/ünï", 3, -1)),
        Request::Create2(create("/b", 1, -1)),
        Request::CreateContainer(create("/c", 4, -1)),
        Request::CreateTtl(create("/d", 6, i64::MAX)),
        Request::Delete(DeleteRequest {
            path: "/a".to_string(),
            version: 3,
        }),
        Request::DeleteContainer(p("/c")),
        Request::Exists(pw("/a", true)),
        Request::GetData(pw("/a", false)),
        Request::SetData(SetDataRequest {
            path: "/a".to_string(),
            data: None,
            version: -1,
        }),
        Request::GetAcl(p("/a")),
        Request::SetAcl(SetAclRequest {
            path: "/a".to_string(),
            acl: Acl::read_unsafe(),
            version: 2,
        }),
        Request::GetChildren(pw("/", true)),
        Request::GetChildren2(pw("/", false)),
        Request::Sync(p("/")),
        Request::Ping,
        Request::Check(CheckVersionRequest {
            path: "/a".to_string(),
            version: 1,
        }),
        Request::Multi(write_ops),
        Request::Multi(Vec::new()),
        Request::MultiRead(vec![
            Request::GetData(pw("/a", false)),
            Request::GetChildren(pw("/", false)),
        ]),
        Request::Reconfig(ReconfigRequest {
            joining_servers: Some("server.4=h:2888:3888;2181".to_string()),
            leaving_servers: Some("2".to_string()),
            new_members: None,
            cur_config_id: -1,
        }),
        Request::CheckWatches(WatchesRequest {
            path: "/a".to_string(),
            watcher_type: 3,
        }),
        Request::RemoveWatches(WatchesRequest {
            path: "/a".to_string(),
            watcher_type: 1,
        }),
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".to_string(),
            auth: b"u:p".to_vec(),
        }),
        Request::SetWatches(watches),
        Request::SetWatches2(watches2),
        Request::Sasl(vec![1, 2, 3]),
        Request::GetEphemerals(p("/")),
        Request::GetAllChildrenNumber(p("/a")),
        Request::AddWatch(AddWatchRequest {
            path: "/a".to_string(),
            mode: 1,
        }),
        Request::WhoAmI,
        Request::CloseSession,
    ]
}

/// One or more samples of every `Response` variant, with the opcode it answers.
pub fn responses() -> Vec<(OpCode, Response)> {
    let results = vec![
        OpResult::Create {
            path: "/a".to_string(),
        },
        OpResult::Create2 {
            path: "/b".to_string(),
            stat: stat(1),
        },
        OpResult::SetData { stat: stat(2) },
        OpResult::Delete,
        OpResult::Check,
        OpResult::Error(ErrorCode::Ok),
        OpResult::Error(ErrorCode::NoNode),
        OpResult::Error(ErrorCode::RuntimeInconsistency),
    ];
    let read_results = vec![
        OpResult::GetData {
            data: Some(b"xy".to_vec()),
            stat: stat(3),
        },
        OpResult::GetChildren {
            children: strings(&["a", "b"]),
        },
        OpResult::Error(ErrorCode::NoAuth),
    ];
    vec![
        (OpCode::Delete, Response::Empty),
        (OpCode::Ping, Response::Empty),
        (
            OpCode::Create,
            Response::Create {
                path: "/a".to_string(),
            },
        ),
        (
            OpCode::Create2,
            Response::Create2 {
                path: "/b0000000001".to_string(),
                stat: stat(4),
            },
        ),
        (
            OpCode::CreateTtl,
            Response::Create2 {
                path: "/t".to_string(),
                stat: stat(5),
            },
        ),
        (OpCode::Exists, Response::Stat(stat(6))),
        (OpCode::SetAcl, Response::Stat(stat(7))),
        (
            OpCode::GetData,
            Response::GetData {
                data: Some(vec![0; 300]),
                stat: stat(8),
            },
        ),
        (
            OpCode::Reconfig,
            Response::GetData {
                data: Some(b"server.1=...".to_vec()),
                stat: stat(9),
            },
        ),
        (
            OpCode::GetAcl,
            Response::GetAcl {
                acl: Acl::open_unsafe(),
                stat: stat(10),
            },
        ),
        (
            OpCode::GetChildren,
            Response::GetChildren {
                children: strings(&["x", "y", "z"]),
            },
        ),
        (
            OpCode::GetChildren,
            Response::GetChildren {
                children: Vec::new(),
            },
        ),
        (
            OpCode::GetChildren2,
            Response::GetChildren2 {
                children: strings(&["x"]),
                stat: stat(11),
            },
        ),
        (
            OpCode::Sync,
            Response::Sync {
                path: "/".to_string(),
            },
        ),
        (OpCode::Multi, Response::Multi(results)),
        (OpCode::Multi, Response::Multi(Vec::new())),
        (OpCode::MultiRead, Response::MultiRead(read_results)),
        (
            OpCode::GetEphemerals,
            Response::Ephemerals(strings(&["/e1", "/e2"])),
        ),
        (
            OpCode::GetAllChildrenNumber,
            Response::AllChildrenNumber(42),
        ),
        (
            OpCode::WhoAmI,
            Response::WhoAmI(vec![
                ClientInfo {
                    auth_scheme: "ip".to_string(),
                    user: "127.0.0.1".to_string(),
                },
                ClientInfo {
                    auth_scheme: "digest".to_string(),
                    user: "u".to_string(),
                },
            ]),
        ),
        (OpCode::Sasl, Response::Sasl(vec![9; 20])),
        (OpCode::AddWatch, Response::AddWatch),
    ]
}
