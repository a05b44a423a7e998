//! Round trips for every request and response variant, truncation at every length, and
//! the multi rules (only write ops in a multi, only read ops in a multiRead, no nesting).

mod common;

use wire::proto::multi::MultiHeader;
use wire::{OpCode, Request, Response, Writer};

fn encode_request(r: &Request) -> Vec<u8> {
    let mut w = Writer::new();
    r.encode(&mut w);
    w.into_inner()
}

fn encode_response(r: &Response) -> Vec<u8> {
    let mut w = Writer::new();
    r.encode(&mut w);
    w.into_inner()
}

#[test]
fn every_request_variant_round_trips() {
    let samples = common::requests();
    let mut seen = std::collections::BTreeSet::new();
    for request in &samples {
        let op = request.op_code();
        seen.insert(op);
        let bytes = encode_request(request);
        assert_eq!(Request::decode(op, &bytes).as_ref(), Ok(request), "{op:?}");
        // Java's server ignores bytes after the record; so do we.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0xde, 0xad]);
        assert_eq!(
            Request::decode(op, &longer).as_ref(),
            Ok(request),
            "{op:?} + trailing"
        );
    }
    assert_eq!(seen.len(), 30, "every client opcode has a sample: {seen:?}");
}

#[test]
fn truncated_requests_are_errors() {
    for request in common::requests() {
        let op = request.op_code();
        let bytes = encode_request(&request);
        for len in 0..bytes.len() {
            assert!(
                Request::decode(op, &bytes[..len]).is_err(),
                "{op:?} cut at {len}"
            );
        }
    }
}

#[test]
fn every_response_variant_round_trips() {
    for (op, response) in common::responses() {
        assert!(response.for_op_is_valid(op), "{op:?} {response:?}");
        let bytes = encode_response(&response);
        assert_eq!(Response::decode(op, &bytes), Ok(response.clone()), "{op:?}");
        for len in 0..bytes.len() {
            assert!(
                Response::decode(op, &bytes[..len]).is_err(),
                "{op:?} cut at {len}"
            );
        }
    }
}

#[test]
fn is_write_matches_the_quorum_ops() {
    for request in common::requests() {
        let expected = matches!(
            request.op_code(),
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::DeleteContainer
                | OpCode::SetData
                | OpCode::SetAcl
                | OpCode::Check
                | OpCode::Multi
                | OpCode::Reconfig
        );
        assert_eq!(request.is_write(), expected, "{:?}", request.op_code());
    }
}

fn multi_body(ops: &[(i32, Request)], end: MultiHeader) -> Vec<u8> {
    let mut w = Writer::new();
    for (op_type, op) in ops {
        MultiHeader {
            op_type: *op_type,
            done: false,
            err: -1,
        }
        .write(&mut w);
        op.encode(&mut w);
    }
    end.write(&mut w);
    w.into_inner()
}

fn sample(op: OpCode) -> Request {
    common::requests()
        .into_iter()
        .find(|r| r.op_code() == op)
        .expect("a sample per opcode")
}

#[test]
fn multi_rejects_read_ops_and_multi_read_rejects_write_ops() {
    let get_data = sample(OpCode::GetData);
    let create = sample(OpCode::Create);
    let body = multi_body(&[(4, get_data.clone())], MultiHeader::END);
    assert!(Request::decode(OpCode::Multi, &body).is_err());
    assert!(Request::decode(OpCode::MultiRead, &body).is_ok());
    let body = multi_body(&[(1, create.clone())], MultiHeader::END);
    assert!(Request::decode(OpCode::MultiRead, &body).is_err());
    assert!(Request::decode(OpCode::Multi, &body).is_ok());
    for op in [
        OpCode::SetAcl,
        OpCode::DeleteContainer,
        OpCode::Sync,
        OpCode::Exists,
    ] {
        let body = multi_body(&[(op.code(), sample(op))], MultiHeader::END);
        assert!(
            Request::decode(OpCode::Multi, &body).is_err(),
            "{op:?} in a multi"
        );
        assert!(
            Request::decode(OpCode::MultiRead, &body).is_err(),
            "{op:?} in a multiRead"
        );
    }
}

#[test]
fn nested_multi_is_rejected() {
    let inner = Request::Multi(vec![sample(OpCode::Delete)]);
    let body = multi_body(&[(14, inner)], MultiHeader::END);
    let err = Request::decode(OpCode::Multi, &body).unwrap_err();
    assert_eq!(err.offset, 0, "the error points at the nested header");
    let inner = Request::MultiRead(vec![sample(OpCode::GetData)]);
    let body = multi_body(&[(22, inner)], MultiHeader::END);
    assert!(Request::decode(OpCode::MultiRead, &body).is_err());
}

#[test]
fn multi_end_header_is_recognized_by_done_alone_and_is_required() {
    let delete = sample(OpCode::Delete);
    let odd_end = MultiHeader {
        op_type: 77,
        done: true,
        err: 5,
    };
    let body = multi_body(&[(2, delete.clone())], odd_end);
    assert_eq!(
        Request::decode(OpCode::Multi, &body),
        Ok(Request::Multi(vec![delete.clone()]))
    );
    let mut without_end = multi_body(&[(2, delete)], MultiHeader::END);
    without_end.truncate(without_end.len() - MultiHeader::WIRE_BYTES);
    assert!(Request::decode(OpCode::Multi, &without_end).is_err());
}

#[test]
fn non_request_opcodes_are_errors() {
    for op in [OpCode::Notification, OpCode::CreateSession, OpCode::Error] {
        assert!(Request::decode(op, &[]).is_err(), "{op:?}");
        assert!(Response::decode(op, &[]).is_err(), "{op:?}");
    }
}
