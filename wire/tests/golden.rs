//! Golden bytes captured from a real ZooKeeper 3.8 server (`golden/capture.py` wrote
//! `golden/zk38.txt`): for each exchange, our decoders must read ZooKeeper's (and kazoo's)
//! bytes, and our encoders must write back exactly the same bytes. A few vectors also pin
//! down server behaviour the Ferrokeeper server must copy (failed multi, addWatch, connect).

use wire::proto::multi::MultiHeader;
use wire::{
    ConnectRequest, ConnectResponse, ErrorCode, OpCode, OpResult, ReplyHeader, Request,
    RequestHeader, Response, WatcherEvent, Writer,
};

struct Vector {
    name: String,
    op: i32,
    request: Vec<u8>,
    reply: Vec<u8>,
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length in {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("golden file holds hex"))
        .collect()
}

fn vectors() -> Vec<Vector> {
    include_str!("golden/zk38.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('|').collect();
            assert_eq!(fields.len(), 4, "bad golden line {line}");
            Vector {
                name: fields[0].to_string(),
                op: fields[1].parse().expect("opcode is an integer"),
                request: unhex(fields[2]),
                reply: unhex(fields[3]),
            }
        })
        .collect()
}

fn vector(name: &str) -> Vector {
    vectors()
        .into_iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
}

/// Bytes that a golden request carries after its record, which we ignore (as ZooKeeper
/// does) and so do not write back.
fn trailing_bytes(name: &str) -> usize {
    match name {
        "get_data_trailing_bytes" => 3,
        "connect_trailing_bytes" => 2,
        _ => 0,
    }
}

fn check_connect(v: &Vector) {
    let req = ConnectRequest::decode(&v.request).unwrap();
    let mut w = Writer::new();
    req.encode(&mut w);
    assert_eq!(
        w.bytes,
        v.request[..v.request.len() - trailing_bytes(&v.name)],
        "{}",
        v.name
    );
    let rsp = ConnectResponse::decode(&v.reply).unwrap();
    assert_eq!(
        rsp.read_only_present, req.read_only_present,
        "{}: answer in the client's style",
        v.name
    );
    assert_eq!(rsp.protocol_version, 0);
    assert_eq!(rsp.time_out, 10_000);
    assert_eq!(rsp.passwd.len(), 16);
    let mut w = Writer::new();
    rsp.encode(&mut w);
    assert_eq!(w.bytes, v.reply, "{}", v.name);
}

fn check_notification(v: &Vector) {
    let (header, body) = ReplyHeader::split(&v.reply).unwrap();
    assert_eq!(header, ReplyHeader::NOTIFICATION, "{}", v.name);
    let event = WatcherEvent::decode(body).unwrap();
    let mut w = Writer::new();
    event.write_notification(&mut w);
    assert_eq!(w.bytes, v.reply, "{}", v.name);
}

fn check_exchange(v: &Vector) {
    let op = OpCode::from_code(v.op).unwrap_or_else(|| panic!("{}: opcode {}", v.name, v.op));
    let (rq_header, body) = RequestHeader::split(&v.request).unwrap();
    assert_eq!(rq_header.op_type, v.op, "{}", v.name);
    let request = Request::decode(op, body).unwrap_or_else(|e| panic!("{}: {e}", v.name));
    assert_eq!(request.op_code(), op);
    let mut w = Writer::new();
    request.encode_with_header(rq_header.xid, &mut w);
    assert_eq!(
        w.bytes,
        v.request[..v.request.len() - trailing_bytes(&v.name)],
        "{}",
        v.name
    );

    let (header, body) = ReplyHeader::split(&v.reply).unwrap();
    assert_eq!(header.xid, rq_header.xid, "{}", v.name);
    if header.err != 0 {
        assert!(
            body.is_empty(),
            "{}: an error reply is the header alone",
            v.name
        );
        assert!(ErrorCode::from_code(header.err).is_some(), "{}", v.name);
        return;
    }
    let response = Response::decode(op, body).unwrap_or_else(|e| panic!("{}: {e}", v.name));
    assert!(response.for_op_is_valid(op), "{}: {response:?}", v.name);
    let mut w = Writer::new();
    response.encode_with_header(&header, &mut w);
    assert_eq!(w.bytes, v.reply, "{}", v.name);
}

#[test]
fn every_golden_vector_decodes_and_reencodes_byte_for_byte() {
    let all = vectors();
    assert!(all.len() >= 39, "only {} golden vectors", all.len());
    for v in &all {
        match v.op {
            -10 => check_connect(v),
            0 => check_notification(v),
            _ => check_exchange(v),
        }
    }
}

#[test]
fn failed_multi_has_ok_header_and_per_op_errors() {
    let v = vector("multi_failed");
    let (header, body) = ReplyHeader::split(&v.reply).unwrap();
    assert_eq!(
        header.err, 0,
        "ZooKeeper reports a failed multi in the results only"
    );
    let Response::Multi(results) = Response::decode(OpCode::Multi, body).unwrap() else {
        panic!("multi answers a MultiResponse");
    };
    assert_eq!(
        results,
        [
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::NoNode),
            OpResult::Error(ErrorCode::RuntimeInconsistency)
        ]
    );
    // Each error result's MultiHeader repeats the code in its err field.
    assert_eq!(&body[0..9], &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0]);
    assert_eq!(
        &body[13..22],
        &[0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0x9b]
    );
    let end = MultiHeader::END;
    let mut w = Writer::new();
    end.write(&mut w);
    assert!(body.ends_with(&w.bytes));
}

#[test]
fn create2_inside_a_multi_is_answered_as_a_plain_create() {
    let v = vector("multi_ok");
    let (_, body) = RequestHeader::split(&v.request).unwrap();
    let Request::Multi(ops) = Request::decode(OpCode::Multi, body).unwrap() else {
        panic!("a multi request");
    };
    assert_eq!(ops[1].op_code(), OpCode::Create2);
    let (_, body) = ReplyHeader::split(&v.reply).unwrap();
    let Response::Multi(results) = Response::decode(OpCode::Multi, body).unwrap() else {
        panic!("a multi response");
    };
    assert_eq!(
        results[1],
        OpResult::Create {
            path: "/golden/m2".to_string()
        }
    );
    assert!(matches!(results[2], OpResult::SetData { .. }));
    assert_eq!(&results[3..], [OpResult::Check, OpResult::Delete]);
}

#[test]
fn add_watch_is_answered_with_a_four_byte_error_response() {
    let v = vector("add_watch");
    let (header, body) = ReplyHeader::split(&v.reply).unwrap();
    assert_eq!(header.err, 0);
    assert_eq!(body, [0, 0, 0, 0]);
    assert_eq!(
        Response::decode(OpCode::AddWatch, body).unwrap(),
        Response::AddWatch
    );
}

#[test]
fn special_replies_match_zookeeper() {
    let header = |name: &str| {
        let v = vector(name);
        let (h, body) = ReplyHeader::split(&v.reply).unwrap();
        (h, body.to_vec())
    };
    let (ping, body) = header("ping");
    assert_eq!((ping.xid, ping.err, body.len()), (-2, 0, 0));
    let (auth, _) = header("auth_digest");
    assert_eq!(
        auth,
        ReplyHeader {
            xid: -4,
            zxid: 0,
            err: 0
        },
        "auth replies carry zxid 0"
    );
    assert_eq!(header("exists_missing").0.err, ErrorCode::NoNode.code());
    assert_eq!(
        header("remove_watches_none").0.err,
        ErrorCode::NoWatcher.code()
    );
    assert_eq!(
        vector("connect_old_client").reply.len(),
        36,
        "no readOnly byte for old clients"
    );
    assert_eq!(vector("connect_new_client").reply.len(), 37);
    let (_, who) = header("who_am_i");
    assert_eq!(
        Response::decode(OpCode::WhoAmI, &who).unwrap(),
        Response::WhoAmI(vec![wire::ClientInfo {
            auth_scheme: "ip".to_string(),
            user: "127.0.0.1".to_string()
        }])
    );
}

#[test]
fn golden_request_stream_survives_any_split_through_the_frame_decoder() {
    let all = vectors();
    let mut stream = Vec::new();
    for v in &all {
        wire::write_frame(&mut stream, |w| w.bytes.extend_from_slice(&v.request));
    }
    for chunk in [1, 2, 3, 5, 7, 13, 64, 1000, stream.len()] {
        let mut d = wire::FrameDecoder::new(wire::JUTE_MAXBUFFER_DEFAULT);
        let mut got = Vec::new();
        for piece in stream.chunks(chunk) {
            d.push(piece);
            while let Some(frame) = d.next_frame().unwrap() {
                got.push(frame);
            }
        }
        assert_eq!(got.len(), all.len(), "chunk {chunk}");
        for (frame, v) in got.iter().zip(&all) {
            assert_eq!(frame, &v.request, "chunk {chunk}: {}", v.name);
        }
        assert!(d.is_idle());
    }
}
