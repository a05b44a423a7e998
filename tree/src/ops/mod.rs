//! The write ops of `DataTree::apply`, one file per family, each following ZooKeeper's
//! `PrepRequestProcessor.pRequest2Txn` check order (which fixes the error precedence) and
//! `DataTree.processTxn` effects.

mod create;
mod multi;
mod read;
mod update;

use wire::{ErrorCode, OpResult, Request, Response};

use crate::tree::DataTree;
use crate::txn::{Change, Txn};

/// What a single write op produced, before it is shaped into a `Response` or `OpResult`.
pub(crate) enum OpOutput {
    /// create (opcode create): `CreateResponse { path }`.
    Created(String),
    /// create2 / createContainer / createTTL: `Create2Response { path, stat }`.
    Created2(String, wire::Stat),
    Deleted,
    SetData(wire::Stat),
    SetAcl(wire::Stat),
    Checked,
}

impl OpOutput {
    fn into_response(self) -> Response {
        match self {
            OpOutput::Created(path) => Response::Create { path },
            OpOutput::Created2(path, stat) => Response::Create2 { path, stat },
            OpOutput::Deleted | OpOutput::Checked => Response::Empty,
            OpOutput::SetData(stat) | OpOutput::SetAcl(stat) => Response::Stat(stat),
        }
    }

    fn into_op_result(self) -> OpResult {
        match self {
            OpOutput::Created(path) => OpResult::Create { path },
            OpOutput::Created2(path, stat) => OpResult::Create2 { path, stat },
            OpOutput::Deleted => OpResult::Delete,
            OpOutput::SetData(stat) | OpOutput::SetAcl(stat) => OpResult::SetData { stat },
            OpOutput::Checked => OpResult::Check,
        }
    }
}

impl DataTree {
    /// `ZooKeeperServer`'s session check (`SessionTracker.checkSession`) done at apply
    /// time: a client txn from a session the log has closed (or never opened) fails with
    /// SessionExpired. Session 0 marks server-made txns and is not checked.
    pub(crate) fn check_session(&self, txn: &Txn) -> Result<(), ErrorCode> {
        if txn.session_id != 0 && !self.sessions.contains(txn.session_id) {
            return Err(ErrorCode::SessionExpired);
        }
        Ok(())
    }

    /// One write op (not a multi).
    pub(crate) fn apply_single(
        &mut self,
        txn: &Txn,
        request: &Request,
        changes: &mut Vec<Change>,
    ) -> Result<Response, ErrorCode> {
        self.apply_op(txn, request, changes)
            .map(OpOutput::into_response)
    }

    pub(crate) fn apply_op(
        &mut self,
        txn: &Txn,
        request: &Request,
        changes: &mut Vec<Change>,
    ) -> Result<OpOutput, ErrorCode> {
        match request {
            Request::Create(req) => {
                let (path, _) = self.create(txn, create::Opcode::Create, req, changes)?;
                Ok(OpOutput::Created(path))
            }
            Request::Create2(req) => {
                let (path, stat) = self.create(txn, create::Opcode::Create2, req, changes)?;
                Ok(OpOutput::Created2(path, stat))
            }
            Request::CreateContainer(req) => {
                let (path, stat) = self.create(txn, create::Opcode::Container, req, changes)?;
                Ok(OpOutput::Created2(path, stat))
            }
            Request::CreateTtl(req) => {
                let (path, stat) = self.create(txn, create::Opcode::Ttl, req, changes)?;
                Ok(OpOutput::Created2(path, stat))
            }
            Request::Delete(req) => {
                self.delete(txn, req, changes)?;
                Ok(OpOutput::Deleted)
            }
            Request::DeleteContainer(req) => {
                self.delete_container(txn, &req.path, changes)?;
                Ok(OpOutput::Deleted)
            }
            Request::SetData(req) => self.set_data_op(txn, req, changes).map(OpOutput::SetData),
            Request::SetAcl(req) => self.set_acl_op(txn, req).map(OpOutput::SetAcl),
            Request::Check(req) => {
                self.check_version(txn, req)?;
                Ok(OpOutput::Checked)
            }
            // Reconfig is disabled by default in 3.8 (`reconfigEnabled=false`), and the check
            // comes before anything else; the failed txn still uses its zxid there too.
            Request::Reconfig(_) => Err(ErrorCode::ReconfigDisabled),
            // Reads, session ops and the like never travel as txns.
            _ => Err(ErrorCode::Unimplemented),
        }
    }
}
