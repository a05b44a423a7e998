//! `MultiHeader { int type; boolean done; int err; }` and the two hand-written records
//! built from it: `MultiOperationRecord` (the body of a multi or multiRead request) and
//! `MultiResponse` (its answer).
//!
//! Layout (from `MultiOperationRecord.serialize` / `MultiResponse.serialize`):
//! - request: per op, `MultiHeader { type: opcode, done: false, err: -1 }` then the op's
//!   request record; then `MultiHeader { type: -1, done: true, err: -1 }`.
//! - response: per result, `MultiHeader { type, done: false, err }` then the result's record,
//!   where `type` is the result's opcode and `err` 0, or for an error result type -1 (error)
//!   with `err` = the code, followed by `ErrorResponse { int err; }` (the code again);
//!   then `MultiHeader { type: -1, done: true, err: -1 }`.
//!
//! Like Java's deserializers, the decoders stop at the first header with `done` set and
//! ignore that header's `type` and `err`, and ignore the `err` of request headers.
//!
//! Invariants: a multi holds only write ops (create, create2, createContainer, createTTL,
//! delete, setData, check) and a multiRead only read ops (getChildren, getData); any other
//! type, including a nested multi, is a `DecodeError`. Decoding never recurses, so nesting
//! depth is bounded at one by construction, and each op consumes at least the 9 bytes of its
//! header, so the op list cannot grow faster than the input.

use crate::error_code::ErrorCode;
use crate::jute::{DecodeError, Reader, Writer};
use crate::opcode::OpCode;
use crate::proto::data::Stat;
use crate::proto::request::Request;
use crate::proto::response::OpResult;

/// `MultiHeader { int type; boolean done; int err; }`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultiHeader {
    pub op_type: i32,
    pub done: bool,
    pub err: i32,
}

impl MultiHeader {
    pub const WIRE_BYTES: usize = 9;

    /// The header that ends both records.
    pub const END: MultiHeader = MultiHeader {
        op_type: -1,
        done: true,
        err: -1,
    };

    pub fn read(r: &mut Reader<'_>) -> Result<MultiHeader, DecodeError> {
        Ok(MultiHeader {
            op_type: r.read_i32()?,
            done: r.read_bool()?,
            err: r.read_i32()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.write_i32(self.op_type);
        w.write_bool(self.done);
        w.write_i32(self.err);
    }
}

/// True when `op` may appear in a multi (`read_only == false`) or multiRead.
pub fn is_allowed_op(op: OpCode, read_only: bool) -> bool {
    if read_only {
        matches!(op, OpCode::GetChildren | OpCode::GetData)
    } else {
        matches!(
            op,
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::SetData
                | OpCode::Check
        )
    }
}

/// Reads a `MultiOperationRecord`: ops until a header with `done` set.
pub fn read_ops(r: &mut Reader<'_>, read_only: bool) -> Result<Vec<Request>, DecodeError> {
    let kind = if read_only { "multiRead" } else { "multi" };
    let mut ops = Vec::new();
    loop {
        let at = r.offset();
        let header = MultiHeader::read(r)?;
        if header.done {
            break;
        }
        let op = OpCode::from_code(header.op_type)
            .filter(|&op| is_allowed_op(op, read_only))
            .ok_or_else(|| DecodeError {
                offset: at,
                what: format!("{kind}: op type {} is not allowed here", header.op_type),
            })?;
        let request = Request::read(op, r)?;
        assert!(
            r.offset() >= at + MultiHeader::WIRE_BYTES,
            "each op consumes its header"
        );
        ops.push(request);
    }
    Ok(ops)
}

/// Writes a `MultiOperationRecord` as ZooKeeper's client does.
pub fn write_ops(ops: &[Request], w: &mut Writer) {
    for op in ops {
        let code = op.op_code();
        assert!(
            !matches!(code, OpCode::Multi | OpCode::MultiRead),
            "a multi cannot contain a multi"
        );
        MultiHeader {
            op_type: code.code(),
            done: false,
            err: -1,
        }
        .write(w);
        op.encode(w);
    }
    MultiHeader::END.write(w);
}

/// Reads a `MultiResponse`: results until a header with `done` set.
pub fn read_results(r: &mut Reader<'_>) -> Result<Vec<OpResult>, DecodeError> {
    let mut results = Vec::new();
    loop {
        let at = r.offset();
        let header = MultiHeader::read(r)?;
        if header.done {
            break;
        }
        let result = match OpCode::from_code(header.op_type) {
            Some(OpCode::Create) => OpResult::Create {
                path: r.read_string()?,
            },
            Some(OpCode::Create2) => OpResult::Create2 {
                path: r.read_string()?,
                stat: Stat::read(r)?,
            },
            Some(OpCode::Delete) => OpResult::Delete,
            Some(OpCode::SetData) => OpResult::SetData {
                stat: Stat::read(r)?,
            },
            Some(OpCode::Check) => OpResult::Check,
            Some(OpCode::GetChildren) => OpResult::GetChildren {
                children: r.read_string_vec()?,
            },
            Some(OpCode::GetData) => OpResult::GetData {
                data: r.read_optional_buffer()?,
                stat: Stat::read(r)?,
            },
            Some(OpCode::Error) => {
                let code_at = r.offset();
                let code = r.read_i32()?;
                let code = ErrorCode::from_code(code).ok_or(DecodeError {
                    offset: code_at,
                    what: format!("multi result: unknown error code {code}"),
                })?;
                OpResult::Error(code)
            }
            _ => {
                return Err(DecodeError {
                    offset: at,
                    what: format!("multi result: invalid type {}", header.op_type),
                })
            }
        };
        results.push(result);
    }
    Ok(results)
}

/// Writes a `MultiResponse` exactly as `MultiResponse.serialize` does.
pub fn write_results(results: &[OpResult], w: &mut Writer) {
    for result in results {
        let (op, err) = match result {
            OpResult::Create { .. } => (OpCode::Create, 0),
            OpResult::Create2 { .. } => (OpCode::Create2, 0),
            OpResult::SetData { .. } => (OpCode::SetData, 0),
            OpResult::Delete => (OpCode::Delete, 0),
            OpResult::Check => (OpCode::Check, 0),
            OpResult::GetData { .. } => (OpCode::GetData, 0),
            OpResult::GetChildren { .. } => (OpCode::GetChildren, 0),
            OpResult::Error(code) => (OpCode::Error, code.code()),
        };
        MultiHeader {
            op_type: op.code(),
            done: false,
            err,
        }
        .write(w);
        match result {
            OpResult::Create { path } => w.write_string(path),
            OpResult::Create2 { path, stat } => {
                w.write_string(path);
                stat.write(w);
            }
            OpResult::SetData { stat } => stat.write(w),
            OpResult::Delete | OpResult::Check => {}
            OpResult::GetData { data, stat } => {
                w.write_optional_buffer(data.as_deref());
                stat.write(w);
            }
            OpResult::GetChildren { children } => w.write_string_vec(children),
            OpResult::Error(code) => w.write_i32(code.code()),
        }
    }
    MultiHeader::END.write(w);
}
