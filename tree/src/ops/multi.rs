//! multi (`PrepRequestProcessor` case multi, `DataTree.processTxn` MultiTxn,
//! `FinalRequestProcessor` case multi).
//!
//! Ops are applied in order against the tree as the earlier ops left it. If one fails,
//! everything the multi did is undone and the reply is still a `MultiResponse` with a
//! ReplyHeader err of 0 (ZooKeeper only sets the header code for non-multi failures): ops
//! before the failing one report `ErrorResult(Ok)`, the failing one its code, the ones
//! after `ErrorResult(RuntimeInconsistency)`. No changes are reported for a failed multi.

use wire::{ErrorCode, OpResult, Request, Response};

use crate::tree::DataTree;
use crate::txn::{Change, Txn};

/// The op types a `MultiOperationRecord` of a multi may carry.
fn is_multi_op(request: &Request) -> bool {
    matches!(
        request,
        Request::Create(_)
            | Request::Create2(_)
            | Request::CreateContainer(_)
            | Request::CreateTtl(_)
            | Request::Delete(_)
            | Request::SetData(_)
            | Request::Check(_)
    )
}

impl DataTree {
    pub(crate) fn multi(
        &mut self,
        txn: &Txn,
        ops: &[Request],
        changes: &mut Vec<Change>,
    ) -> Result<Response, ErrorCode> {
        // ZooKeeper cannot even deserialize a record with other op types.
        if !ops.iter().all(is_multi_op) {
            return Err(ErrorCode::MarshallingError);
        }
        let digest_before = self.digest();
        let mut results = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            match self.apply_op(txn, op, changes) {
                Ok(output) => results.push(output.into_op_result()),
                Err(code) => {
                    self.rollback();
                    changes.clear();
                    assert_eq!(
                        self.digest(),
                        digest_before,
                        "failed multi leaves the digest"
                    );
                    let mut failed = vec![OpResult::Error(ErrorCode::Ok); index];
                    failed.push(OpResult::Error(code));
                    failed.resize(ops.len(), OpResult::Error(ErrorCode::RuntimeInconsistency));
                    return Ok(Response::Multi(failed));
                }
            }
        }
        assert_eq!(results.len(), ops.len(), "one result per op");
        Ok(Response::Multi(results))
    }
}
