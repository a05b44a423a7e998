//! A tree plus a zxid/clock counter, and request builders.

use wire::{Acl, CreateRequest, ErrorCode, Id, Request, Response, Stat};

use crate::tree::{DataTree, TreeConfig};
use crate::txn::{ApplyOutcome, Txn, TxnOp};

pub const SESSION: i64 = 0x100;
pub const T0: i64 = 1_700_000_000_000;

pub struct Harness {
    pub tree: DataTree,
    pub zxid: i64,
    pub time_ms: i64,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_config(TreeConfig::default())
    }

    pub fn with_config(config: TreeConfig) -> Harness {
        let mut h = Harness {
            tree: DataTree::new(config),
            zxid: 0,
            time_ms: T0,
        };
        h.session_op(
            SESSION,
            TxnOp::CreateSession {
                timeout_ms: 30_000,
                password: [1; crate::session::PASSWORD_BYTES],
            },
        );
        h
    }

    pub fn extended() -> Harness {
        Harness::with_config(TreeConfig {
            extended_types_enabled: true,
            ..TreeConfig::default()
        })
    }

    pub fn txn(&mut self, session_id: i64, auth: &[Id], op: TxnOp) -> Txn {
        self.zxid += 1;
        self.time_ms += 10;
        Txn {
            zxid: self.zxid,
            time_ms: self.time_ms,
            session_id,
            auth: auth.to_vec(),
            op,
        }
    }

    pub fn session_op(&mut self, session_id: i64, op: TxnOp) -> ApplyOutcome {
        let txn = self.txn(session_id, &[], op);
        self.tree.apply(&txn)
    }

    pub fn apply_as(&mut self, session_id: i64, auth: &[Id], req: Request) -> ApplyOutcome {
        let txn = self.txn(session_id, auth, TxnOp::Request(req));
        let outcome = self.tree.apply(&txn);
        assert_eq!(
            self.tree.digest(),
            self.tree.recompute_digest(),
            "digest after {txn:?}"
        );
        outcome
    }

    pub fn apply(&mut self, req: Request) -> Result<Response, ErrorCode> {
        self.apply_as(SESSION, &[], req).result
    }

    pub fn create(&mut self, path: &str, flags: i32) -> Result<Response, ErrorCode> {
        self.apply(Request::Create(create_req(path, b"", flags)))
    }

    pub fn create_ok(&mut self, path: &str) -> String {
        match self.create(path, 0) {
            Ok(Response::Create { path }) => path,
            other => panic!("create {path}: {other:?}"),
        }
    }

    pub fn stat(&self, path: &str) -> Stat {
        self.tree
            .node(path)
            .unwrap_or_else(|| panic!("{path} exists"))
            .stat()
    }
}

pub fn create_req(path: &str, data: &[u8], flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.to_string(),
        data: Some(data.to_vec()),
        acl: Acl::open_unsafe(),
        flags,
        ttl: -1,
    }
}

pub fn digest_id(user_password: &str) -> Id {
    Id::new("digest", &crate::acl::generate_digest(user_password))
}

/// SplitMix64, written here so a failing seed replays exactly.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
