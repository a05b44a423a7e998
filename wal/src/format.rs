//! Byte layout of every file the crate writes (documented here, in the manner of redb's
//! file format doc). All integers are little-endian. Decoders are
//! total: any byte string gives `Ok` or a `Damage`, never a panic.
//!
//! # Segment file `log.<first index, 16 lower-case hex digits>`
//!
//! ```text
//! header, SEGMENT_HEADER_LEN = 32 bytes
//!   0  magic        [u8; 8]  b"FKWALSEG"
//!   8  version      u32      SEGMENT_VERSION (1)
//!  12  flags        u32      bit 0 = FLAG_BASE: every segment with a smaller first index is
//!                            obsolete (written by `Wal::reset`); other bits must be zero
//!  16  first_index  u64      index of the segment's first record; equals the file name's
//!  24  reserved     u32      zero
//!  28  header_crc   u32      crc32 of bytes 0..28
//! records, back to back from offset 32
//!   0  length       u32      RECORD_HEADER_LEN + payload length (so never 0)
//!   4  crc          u32      crc32 of the `length` bytes that follow (header + payload)
//!   8  kind         u8       opaque to the wal (the caller's record type)
//!   9  term         u64
//!  17  index        u64      first_index, first_index + 1, ... without gaps
//!  25  payload      [u8]     opaque
//! zeros to the end of the file
//! ```
//!
//! A segment is preallocated (`set_len`) to its size, so the bytes after the last record are
//! zeros. A `length` of zero is therefore the clean end of a segment; a valid record never
//! has one.
//!
//! # Snapshot file `snapshot.<last index, 16 hex digits>` (written as `...tmp`, then renamed)
//!
//! ```text
//! header, SNAPSHOT_HEADER_LEN = 48 bytes
//!   0  magic        [u8; 8]  b"FKSNAPSH"
//!   8  version      u32      SNAPSHOT_VERSION (1)
//!  12  flags        u32      zero
//!  16  last_index   u64      last log index the snapshot covers
//!  24  last_term    u64      term of that entry
//!  32  meta_len     u32      length of the caller's metadata blob, <= SNAPSHOT_META_SIZE_MAX
//!  36  reserved     u32      zero
//!  40  reserved     u32      zero
//!  44  header_crc   u32      crc32 of bytes 0..44
//! meta  [u8; meta_len]       opaque (the caller's metadata: zxid, cluster config, ...)
//! body  [u8; body_len]       opaque, streamed by the caller
//! trailer, SNAPSHOT_TRAILER_LEN = 16 bytes
//!   0  body_len     u64
//!   8  crc          u32      crc32 of every byte of the file before this field
//!  12  end_magic    u32      SNAPSHOT_END_MAGIC
//! ```
//!
//! The file's length must be exactly header + meta_len + body_len + trailer.

use crate::error::Damage;
use byteorder::{ByteOrder, LittleEndian as LE};

pub const SEGMENT_MAGIC: [u8; 8] = *b"FKWALSEG";
pub const SEGMENT_VERSION: u32 = 1;
pub const FLAG_BASE: u32 = 1;
pub const SEGMENT_HEADER_LEN: usize = 32;
pub const SEG_MAGIC_OFFSET: usize = 0;
pub const SEG_VERSION_OFFSET: usize = 8;
pub const SEG_FLAGS_OFFSET: usize = 12;
pub const SEG_FIRST_INDEX_OFFSET: usize = 16;
pub const SEG_RESERVED_OFFSET: usize = 24;
pub const SEG_HEADER_CRC_OFFSET: usize = 28;

/// Bytes before a record's header: `length` and `crc`.
pub const RECORD_FRAME_LEN: usize = 8;
pub const REC_LENGTH_OFFSET: usize = 0;
pub const REC_CRC_OFFSET: usize = 4;
pub const REC_KIND_OFFSET: usize = 8;
pub const REC_TERM_OFFSET: usize = 9;
pub const REC_INDEX_OFFSET: usize = 17;
pub const REC_PAYLOAD_OFFSET: usize = 25;
/// Bytes of the CRC-covered record header (kind, term, index).
pub const RECORD_HEADER_LEN: usize = REC_PAYLOAD_OFFSET - RECORD_FRAME_LEN;
/// Largest payload a record may carry. Bounds what a reader trusts in a length field.
pub const RECORD_PAYLOAD_SIZE_MAX: usize = 64 << 20;

pub const SNAPSHOT_MAGIC: [u8; 8] = *b"FKSNAPSH";
pub const SNAPSHOT_VERSION: u32 = 1;
pub const SNAPSHOT_HEADER_LEN: usize = 48;
pub const SNAP_VERSION_OFFSET: usize = 8;
pub const SNAP_FLAGS_OFFSET: usize = 12;
pub const SNAP_LAST_INDEX_OFFSET: usize = 16;
pub const SNAP_LAST_TERM_OFFSET: usize = 24;
pub const SNAP_META_LEN_OFFSET: usize = 32;
pub const SNAP_RESERVED2_OFFSET: usize = 40;
pub const SNAP_HEADER_CRC_OFFSET: usize = 44;
pub const SNAPSHOT_TRAILER_LEN: usize = 16;
pub const SNAP_TRAILER_CRC_OFFSET: usize = 8;
pub const SNAP_TRAILER_END_MAGIC_OFFSET: usize = 12;
pub const SNAPSHOT_END_MAGIC: u32 = u32::from_le_bytes(*b"FKSE");
/// Largest metadata blob a snapshot may carry.
pub const SNAPSHOT_META_SIZE_MAX: usize = 16 << 20;

const _: () = assert!(SEG_HEADER_CRC_OFFSET + 4 == SEGMENT_HEADER_LEN);
const _: () = assert!(SEG_RESERVED_OFFSET + 4 == SEG_HEADER_CRC_OFFSET);
const _: () = assert!(SEG_FIRST_INDEX_OFFSET + 8 == SEG_RESERVED_OFFSET);
const _: () = assert!(SEG_MAGIC_OFFSET + 8 == SEG_VERSION_OFFSET);
const _: () = assert!(REC_CRC_OFFSET + 4 == RECORD_FRAME_LEN);
const _: () = assert!(REC_KIND_OFFSET == RECORD_FRAME_LEN);
const _: () = assert!(REC_TERM_OFFSET == REC_KIND_OFFSET + 1);
const _: () = assert!(REC_INDEX_OFFSET == REC_TERM_OFFSET + 8);
const _: () = assert!(REC_PAYLOAD_OFFSET == REC_INDEX_OFFSET + 8);
const _: () = assert!(RECORD_HEADER_LEN == 17);
// A record length must fit the u32 field.
const _: () = assert!(RECORD_HEADER_LEN + RECORD_PAYLOAD_SIZE_MAX <= u32::MAX as usize);
const _: () = assert!(SNAP_HEADER_CRC_OFFSET + 4 == SNAPSHOT_HEADER_LEN);
const _: () = assert!(SNAP_RESERVED2_OFFSET + 4 == SNAP_HEADER_CRC_OFFSET);
const _: () = assert!(SNAP_META_LEN_OFFSET + 8 == SNAP_RESERVED2_OFFSET);
const _: () = assert!(SNAP_TRAILER_END_MAGIC_OFFSET + 4 == SNAPSHOT_TRAILER_LEN);
const _: () = assert!(SNAP_TRAILER_CRC_OFFSET + 4 == SNAP_TRAILER_END_MAGIC_OFFSET);
const _: () = assert!(SNAPSHOT_META_SIZE_MAX <= u32::MAX as usize);

/// One log record. `kind` and `payload` are opaque to the wal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: u8,
    pub term: u64,
    pub index: u64,
    pub payload: Vec<u8>,
}

impl Record {
    /// Bytes this record occupies in a segment.
    pub fn encoded_len(&self) -> usize {
        REC_PAYLOAD_OFFSET + self.payload.len()
    }
}

/// Decoded segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    pub flags: u32,
    pub first_index: u64,
}

pub fn encode_segment_header(h: &SegmentHeader) -> [u8; SEGMENT_HEADER_LEN] {
    assert!(
        h.flags & !FLAG_BASE == 0,
        "unknown segment flags {:#x}",
        h.flags
    );
    let mut b = [0u8; SEGMENT_HEADER_LEN];
    b[SEG_MAGIC_OFFSET..SEG_VERSION_OFFSET].copy_from_slice(&SEGMENT_MAGIC);
    LE::write_u32(&mut b[SEG_VERSION_OFFSET..], SEGMENT_VERSION);
    LE::write_u32(&mut b[SEG_FLAGS_OFFSET..], h.flags);
    LE::write_u64(&mut b[SEG_FIRST_INDEX_OFFSET..], h.first_index);
    let crc = crc32fast::hash(&b[..SEG_HEADER_CRC_OFFSET]);
    LE::write_u32(&mut b[SEG_HEADER_CRC_OFFSET..], crc);
    b
}

/// Decodes a segment header; `Err` carries the offset within the header and the damage.
pub fn decode_segment_header(b: &[u8]) -> Result<SegmentHeader, (u64, Damage)> {
    if b.len() < SEGMENT_HEADER_LEN {
        let damage = Damage::Truncated {
            needed_bytes: SEGMENT_HEADER_LEN as u64,
            available_bytes: b.len() as u64,
        };
        return Err((0, damage));
    }
    let mut magic = [0u8; 8];
    magic.copy_from_slice(&b[SEG_MAGIC_OFFSET..SEG_VERSION_OFFSET]);
    if magic != SEGMENT_MAGIC {
        return Err((
            0,
            Damage::BadMagic {
                expected: SEGMENT_MAGIC,
                got: magic,
            },
        ));
    }
    let stored = LE::read_u32(&b[SEG_HEADER_CRC_OFFSET..]);
    let computed = crc32fast::hash(&b[..SEG_HEADER_CRC_OFFSET]);
    if stored != computed {
        return Err((
            SEG_HEADER_CRC_OFFSET as u64,
            Damage::CrcMismatch { stored, computed },
        ));
    }
    let version = LE::read_u32(&b[SEG_VERSION_OFFSET..]);
    if version != SEGMENT_VERSION {
        let damage = Damage::BadVersion {
            expected: SEGMENT_VERSION,
            got: version,
        };
        return Err((SEG_VERSION_OFFSET as u64, damage));
    }
    let flags = LE::read_u32(&b[SEG_FLAGS_OFFSET..]);
    if flags & !FLAG_BASE != 0 {
        let damage = Damage::BadField {
            field: "segment flags",
            expected: 0,
            got: flags.into(),
        };
        return Err((SEG_FLAGS_OFFSET as u64, damage));
    }
    let first_index = LE::read_u64(&b[SEG_FIRST_INDEX_OFFSET..]);
    Ok(SegmentHeader { flags, first_index })
}

/// Appends the encoding of `r` to `out`.
pub fn encode_record(r: &Record, out: &mut Vec<u8>) {
    assert!(
        r.payload.len() <= RECORD_PAYLOAD_SIZE_MAX,
        "payload {} > max {RECORD_PAYLOAD_SIZE_MAX}",
        r.payload.len()
    );
    let start = out.len();
    let length = (RECORD_HEADER_LEN + r.payload.len()) as u32;
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    out.push(r.kind);
    out.extend_from_slice(&r.term.to_le_bytes());
    out.extend_from_slice(&r.index.to_le_bytes());
    out.extend_from_slice(&r.payload);
    let crc = crc32fast::hash(&out[start + RECORD_FRAME_LEN..]);
    LE::write_u32(&mut out[start + REC_CRC_OFFSET..], crc);
    assert!(
        out.len() - start == r.encoded_len(),
        "encoded length mismatch"
    );
}

/// A decoded record borrowing its payload from the segment bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub kind: u8,
    pub term: u64,
    pub index: u64,
    pub payload: &'a [u8],
}

impl RecordView<'_> {
    pub fn to_record(&self) -> Record {
        Record {
            kind: self.kind,
            term: self.term,
            index: self.index,
            payload: self.payload.to_vec(),
        }
    }
}

/// Decodes the record at the start of `b`. `Ok` gives the record and its encoded length.
/// The index is not checked here; the caller knows which index must come next.
pub fn decode_record(b: &[u8]) -> Result<(RecordView<'_>, usize), Damage> {
    if b.len() < RECORD_FRAME_LEN {
        let needed_bytes = RECORD_FRAME_LEN as u64;
        return Err(Damage::Truncated {
            needed_bytes,
            available_bytes: b.len() as u64,
        });
    }
    let length = LE::read_u32(&b[REC_LENGTH_OFFSET..]) as usize;
    let max = RECORD_HEADER_LEN + RECORD_PAYLOAD_SIZE_MAX;
    if !(RECORD_HEADER_LEN..=max).contains(&length) {
        return Err(Damage::BadLength {
            len_bytes: length as u64,
            min_bytes: RECORD_HEADER_LEN as u64,
            max_bytes: max as u64,
        });
    }
    let total = RECORD_FRAME_LEN + length;
    if b.len() < total {
        let available_bytes = b.len() as u64;
        return Err(Damage::Truncated {
            needed_bytes: total as u64,
            available_bytes,
        });
    }
    let stored = LE::read_u32(&b[REC_CRC_OFFSET..]);
    let computed = crc32fast::hash(&b[RECORD_FRAME_LEN..total]);
    if stored != computed {
        return Err(Damage::CrcMismatch { stored, computed });
    }
    let view = RecordView {
        kind: b[REC_KIND_OFFSET],
        term: LE::read_u64(&b[REC_TERM_OFFSET..]),
        index: LE::read_u64(&b[REC_INDEX_OFFSET..]),
        payload: &b[REC_PAYLOAD_OFFSET..total],
    };
    assert!(
        REC_PAYLOAD_OFFSET + view.payload.len() == total,
        "decoded length mismatch"
    );
    Ok((view, total))
}

/// Cheap pre-check for the forward scan: could a record with an index of at least
/// `index_min` start at `b[0]`? Checks the length and index fields only, not the CRC.
pub fn is_plausible_record_start(b: &[u8], index_min: u64) -> bool {
    if b.len() < REC_PAYLOAD_OFFSET {
        return false;
    }
    let length = LE::read_u32(&b[REC_LENGTH_OFFSET..]) as usize;
    let fits = length >= RECORD_HEADER_LEN && RECORD_FRAME_LEN + length <= b.len();
    fits && LE::read_u64(&b[REC_INDEX_OFFSET..]) >= index_min
}

/// Decoded snapshot header (the fixed part before the metadata blob).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotHeader {
    pub last_index: u64,
    pub last_term: u64,
    pub meta_len: u32,
}

pub fn encode_snapshot_header(h: &SnapshotHeader) -> [u8; SNAPSHOT_HEADER_LEN] {
    assert!(
        h.meta_len as usize <= SNAPSHOT_META_SIZE_MAX,
        "meta_len {} too big",
        h.meta_len
    );
    let mut b = [0u8; SNAPSHOT_HEADER_LEN];
    b[..SNAP_VERSION_OFFSET].copy_from_slice(&SNAPSHOT_MAGIC);
    LE::write_u32(&mut b[SNAP_VERSION_OFFSET..], SNAPSHOT_VERSION);
    LE::write_u32(&mut b[SNAP_FLAGS_OFFSET..], 0);
    LE::write_u64(&mut b[SNAP_LAST_INDEX_OFFSET..], h.last_index);
    LE::write_u64(&mut b[SNAP_LAST_TERM_OFFSET..], h.last_term);
    LE::write_u32(&mut b[SNAP_META_LEN_OFFSET..], h.meta_len);
    let crc = crc32fast::hash(&b[..SNAP_HEADER_CRC_OFFSET]);
    LE::write_u32(&mut b[SNAP_HEADER_CRC_OFFSET..], crc);
    b
}

/// Decodes a snapshot header; `Err` carries the offset and the damage.
pub fn decode_snapshot_header(b: &[u8]) -> Result<SnapshotHeader, (u64, Damage)> {
    if b.len() < SNAPSHOT_HEADER_LEN {
        let needed_bytes = SNAPSHOT_HEADER_LEN as u64;
        return Err((
            0,
            Damage::Truncated {
                needed_bytes,
                available_bytes: b.len() as u64,
            },
        ));
    }
    let mut magic = [0u8; 8];
    magic.copy_from_slice(&b[..SNAP_VERSION_OFFSET]);
    if magic != SNAPSHOT_MAGIC {
        return Err((
            0,
            Damage::BadMagic {
                expected: SNAPSHOT_MAGIC,
                got: magic,
            },
        ));
    }
    let stored = LE::read_u32(&b[SNAP_HEADER_CRC_OFFSET..]);
    let computed = crc32fast::hash(&b[..SNAP_HEADER_CRC_OFFSET]);
    if stored != computed {
        return Err((
            SNAP_HEADER_CRC_OFFSET as u64,
            Damage::CrcMismatch { stored, computed },
        ));
    }
    let version = LE::read_u32(&b[SNAP_VERSION_OFFSET..]);
    if version != SNAPSHOT_VERSION {
        let damage = Damage::BadVersion {
            expected: SNAPSHOT_VERSION,
            got: version,
        };
        return Err((SNAP_VERSION_OFFSET as u64, damage));
    }
    let meta_len = LE::read_u32(&b[SNAP_META_LEN_OFFSET..]);
    if meta_len as usize > SNAPSHOT_META_SIZE_MAX {
        let damage = Damage::BadLength {
            len_bytes: meta_len.into(),
            min_bytes: 0,
            max_bytes: SNAPSHOT_META_SIZE_MAX as u64,
        };
        return Err((SNAP_META_LEN_OFFSET as u64, damage));
    }
    Ok(SnapshotHeader {
        last_index: LE::read_u64(&b[SNAP_LAST_INDEX_OFFSET..]),
        last_term: LE::read_u64(&b[SNAP_LAST_TERM_OFFSET..]),
        meta_len,
    })
}

/// The trailer's bytes up to, not including, the CRC field (the CRC covers them).
pub fn encode_snapshot_trailer_body_len(body_len: u64) -> [u8; SNAP_TRAILER_CRC_OFFSET] {
    body_len.to_le_bytes()
}

/// The trailer's last 8 bytes: the CRC and the end magic.
pub fn encode_snapshot_trailer_end(
    crc: u32,
) -> [u8; SNAPSHOT_TRAILER_LEN - SNAP_TRAILER_CRC_OFFSET] {
    let mut b = [0u8; SNAPSHOT_TRAILER_LEN - SNAP_TRAILER_CRC_OFFSET];
    LE::write_u32(&mut b[..4], crc);
    LE::write_u32(&mut b[4..], SNAPSHOT_END_MAGIC);
    b
}

/// Decoded trailer: `(body_len, stored crc, end magic)`.
pub fn decode_snapshot_trailer(b: &[u8; SNAPSHOT_TRAILER_LEN]) -> (u64, u32, u32) {
    (
        LE::read_u64(&b[..SNAP_TRAILER_CRC_OFFSET]),
        LE::read_u32(&b[SNAP_TRAILER_CRC_OFFSET..]),
        LE::read_u32(&b[SNAP_TRAILER_END_MAGIC_OFFSET..]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips() {
        let r = Record {
            kind: 7,
            term: 3,
            index: 42,
            payload: b"hello".to_vec(),
        };
        let mut b = Vec::new();
        encode_record(&r, &mut b);
        assert_eq!(b.len(), r.encoded_len());
        let (got, n) = decode_record(&b).unwrap();
        assert_eq!(got.to_record(), r);
        assert_eq!(n, b.len());
    }

    #[test]
    fn zeroed_bytes_are_never_a_record() {
        let err = decode_record(&[0u8; 64]).unwrap_err();
        assert!(matches!(err, Damage::BadLength { len_bytes: 0, .. }));
    }

    #[test]
    fn every_truncation_of_a_record_is_rejected() {
        let r = Record {
            kind: 1,
            term: 1,
            index: 1,
            payload: vec![9; 20],
        };
        let mut b = Vec::new();
        encode_record(&r, &mut b);
        for cut in 0..b.len() {
            assert!(decode_record(&b[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn segment_header_round_trips_and_rejects_flips() {
        let h = SegmentHeader {
            flags: FLAG_BASE,
            first_index: 77,
        };
        let b = encode_segment_header(&h);
        assert_eq!(decode_segment_header(&b).unwrap(), h);
        for bit in 0..SEGMENT_HEADER_LEN * 8 {
            let mut c = b;
            c[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_segment_header(&c).is_err(), "bit {bit}");
        }
    }
}
