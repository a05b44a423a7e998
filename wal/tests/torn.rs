//! Damage to segment files: a tail cut or zeroed at every byte of the last records must give
//! exactly the fully written prefix (a torn tail, truncated and reported); every bit flip in
//! a record followed by valid records must be an error naming the file and the record's
//! offset; a bit flip in the last record is a torn tail (it may be a partial write).

mod common;

use common::{dir, filled, open, read_all, record};
use std::path::PathBuf;
use wal::format::SEGMENT_HEADER_LEN;
use wal::{Error, Record, RemovedReason, SimDisk, Wal, WalOptions};

const COUNT: u64 = 24;
const PAYLOAD_LEN: usize = 30;

fn options() -> WalOptions {
    // Three or four segments, so the last records sit in a segment that is not the first.
    WalOptions {
        segment_size_bytes: 400,
        write_buffer_size_max: 128,
    }
}

/// A segment: path, original bytes, and (index, start offset, end offset) per record.
type SegmentLayout = (PathBuf, Vec<u8>, Vec<(u64, u64, u64)>);

struct Layout {
    disk: SimDisk,
    records: Vec<Record>,
    segments: Vec<SegmentLayout>,
}

fn layout() -> Layout {
    let (disk, records) = filled(COUNT, PAYLOAD_LEN, options());
    let wal = open(&disk, &dir(), options()).unwrap();
    let mut segments = Vec::new();
    for s in wal.segments() {
        let mut at = SEGMENT_HEADER_LEN as u64;
        let spans = (s.first_index..=s.last_index)
            .map(|i| {
                let len = records[i as usize - 1].encoded_len() as u64;
                at += len;
                (i, at - len, at)
            })
            .collect();
        segments.push((s.path.clone(), disk.read_raw(&s.path).unwrap(), spans));
    }
    assert!(segments.len() >= 3, "test wants several segments");
    Layout {
        disk,
        records,
        segments,
    }
}

/// Puts the segments back as they were and removes any created since.
fn restore(l: &Layout) {
    use wal::Disk;
    for name in l.disk.list(&dir()).unwrap() {
        let path = dir().join(name);
        if !l.segments.iter().any(|s| s.0 == path) {
            l.disk.remove_raw(&path);
        }
    }
    for (path, bytes, _) in &l.segments {
        l.disk.set_len_raw(path, bytes.len() as u64);
        l.disk.write_raw(path, 0, bytes);
    }
}

fn open_report(disk: &SimDisk) -> wal::Result<(Wal<SimDisk>, wal::OpenReport)> {
    Wal::open(disk.clone(), &dir(), 1, options())
}

/// Cuts (or zeroes from) every offset of the last three records of the last segment.
fn check_every_cut(zero: bool) {
    let l = layout();
    let (path, bytes, spans) = l.segments.last().unwrap();
    let from = spans[spans.len() - 3].1;
    let to = spans.last().unwrap().2;
    for cut in from..=to {
        restore(&l);
        if zero {
            l.disk
                .write_raw(path, cut, &vec![0; bytes.len() - cut as usize]);
        } else {
            l.disk.set_len_raw(path, cut);
        }
        let (mut wal, report) = open_report(&l.disk).unwrap();
        let whole = spans
            .iter()
            .rev()
            .find(|s| s.2 <= cut)
            .map(|s| s.0)
            .unwrap();
        let partial = spans.iter().find(|s| s.1 < cut && cut < s.2);
        assert_eq!(
            read_all(&mut wal, 1),
            l.records[..whole as usize].to_vec(),
            "cut {cut}"
        );
        match (partial, report.torn_tail) {
            (None, None) => {}
            (Some(&(_, start, _)), Some(torn)) => {
                assert_eq!((&torn.path, torn.offset), (path, start), "cut {cut}");
                let file_len = if zero { bytes.len() as u64 } else { cut };
                assert_eq!(torn.len_bytes, file_len - start);
                assert!(torn.to_string().contains(&format!("byte offset {start}")));
            }
            (p, t) => panic!("cut {cut}: partial {p:?} but report {t:?}"),
        }
        // The log goes on from the truncation point, and the new record is durable.
        wal.append_batch_durable(&[record(whole + 1, 50, 7)])
            .unwrap();
        drop(wal);
        l.disk.crash(wal::Crash::LoseUnsynced);
        let (mut wal, report) = open_report(&l.disk).unwrap();
        assert_eq!(
            report,
            wal::OpenReport::default(),
            "cut {cut}: second open is clean"
        );
        let mut want = l.records[..whole as usize].to_vec();
        want.push(record(whole + 1, 50, 7));
        assert_eq!(read_all(&mut wal, 1), want);
    }
}

#[test]
fn a_tail_cut_at_every_byte_yields_the_written_prefix() {
    check_every_cut(false);
}

#[test]
fn a_tail_zeroed_from_every_byte_yields_the_written_prefix() {
    check_every_cut(true);
}

/// Flips every bit of record `pos` in segment `seg` and expects corruption at its start.
fn check_every_flip_is_corruption(seg: usize, pos: usize) {
    let l = layout();
    let (path, _, spans) = &l.segments[seg];
    let (index, start, end) = spans[pos];
    for bit in start * 8..end * 8 {
        restore(&l);
        l.disk.flip_bit(path, bit);
        let err = open_report(&l.disk)
            .err()
            .unwrap_or_else(|| panic!("bit {bit} undetected"));
        let text = err.to_string();
        match &err {
            Error::Corrupt {
                path: p, offset, ..
            } => {
                assert_eq!(
                    (p, *offset),
                    (path, start),
                    "record {index} bit {bit}: {text}"
                );
            }
            other => panic!("record {index} bit {bit}: {other}"),
        }
        let want = format!("{} at byte offset {start}: ", path.display());
        assert!(text.contains(&want), "{text}");
        assert!(text.contains("expected") && text.contains("got"), "{text}");
    }
}

#[test]
fn every_bit_flip_in_a_middle_record_of_the_last_segment_is_corruption() {
    let l = layout();
    let last = l.segments.len() - 1;
    let count = l.segments[last].2.len();
    check_every_flip_is_corruption(last, count / 2);
    // Only one valid record after it: the forward scan must still find it.
    check_every_flip_is_corruption(last, count - 2);
}

#[test]
fn every_bit_flip_in_an_older_segment_is_corruption_even_in_its_last_record() {
    let l = layout();
    let count = l.segments[0].2.len();
    check_every_flip_is_corruption(0, 0);
    check_every_flip_is_corruption(0, count - 1);
}

#[test]
fn a_bit_flip_in_the_last_record_is_a_torn_tail() {
    let l = layout();
    let (path, _, spans) = l.segments.last().unwrap();
    let &(index, start, end) = spans.last().unwrap();
    for bit in start * 8..end * 8 {
        restore(&l);
        l.disk.flip_bit(path, bit);
        let (mut wal, report) = open_report(&l.disk).unwrap();
        let torn = report
            .torn_tail
            .unwrap_or_else(|| panic!("bit {bit}: no report"));
        assert_eq!((&torn.path, torn.offset), (path, start));
        assert_eq!(
            read_all(&mut wal, 1),
            l.records[..index as usize - 1].to_vec()
        );
    }
}

#[test]
fn a_torn_segment_creation_is_removed() {
    let l = layout();
    let (path, _, spans) = l.segments.last().unwrap();
    for len in 0..=SEGMENT_HEADER_LEN as u64 + 4 {
        restore(&l);
        // The header was never durable: a prefix of it, or nothing, then zeros.
        l.disk
            .write_raw(path, len.min(SEGMENT_HEADER_LEN as u64), &vec![0; 512]);
        l.disk.set_len_raw(path, len);
        let result = open_report(&l.disk);
        if len >= SEGMENT_HEADER_LEN as u64 {
            // A whole header and zeros after it: a valid, empty segment.
            let (wal, _) = result.unwrap();
            assert_eq!(wal.last_index(), spans[0].0 - 1);
            continue;
        }
        let (mut wal, report) = result.unwrap();
        assert_eq!(report.removed.len(), 1, "len {len}");
        assert_eq!(&report.removed[0].path, path);
        assert!(matches!(
            report.removed[0].reason,
            RemovedReason::TornCreation { .. }
        ));
        let kept = spans[0].0 - 1;
        assert_eq!(read_all(&mut wal, 1), l.records[..kept as usize].to_vec());
        drop(wal);
        // The next segment is created again under the same name without trouble.
        let mut wal = open(&l.disk, &dir(), options()).unwrap();
        let more: Vec<Record> = (kept + 1..=kept + 20).map(|i| record(i, 9, 30)).collect();
        wal.append_batch_durable(&more).unwrap();
    }
}

#[test]
fn a_damaged_header_with_records_after_it_is_corruption() {
    let l = layout();
    for seg in [0, l.segments.len() - 1] {
        let path = &l.segments[seg].0;
        for bit in 0..SEGMENT_HEADER_LEN as u64 * 8 {
            restore(&l);
            l.disk.flip_bit(path, bit);
            match open_report(&l.disk) {
                Err(Error::Corrupt { path: p, .. }) => assert_eq!(&p, path),
                Err(e) => panic!("segment {seg} bit {bit}: {e}"),
                Ok(_) => panic!("segment {seg} bit {bit}: undetected"),
            }
        }
    }
}

#[test]
fn a_valid_record_with_a_wrong_index_is_corruption() {
    let l = layout();
    let (path, _, spans) = l.segments.last().unwrap();
    let &(index, start, _) = spans.last().unwrap();
    let mut bytes = Vec::new();
    wal::format::encode_record(&record(index + 5, 1, PAYLOAD_LEN), &mut bytes);
    l.disk.write_raw(path, start, &bytes);
    let err = open_report(&l.disk).err().expect("must fail");
    assert!(err.to_string().contains("index out of sequence"), "{err}");
}

#[test]
fn a_cut_in_an_older_segment_is_corruption_not_a_torn_tail() {
    let l = layout();
    let (path, _, spans) = &l.segments[1];
    let (_, start, end) = spans[spans.len() / 2];
    for cut in [start, start + 1, end - 1] {
        restore(&l);
        l.disk.write_raw(path, cut, &[0; 64]);
        match open_report(&l.disk) {
            Err(Error::Corrupt {
                path: p, offset, ..
            }) => assert_eq!((&p, offset), (path, start)),
            Err(e) => panic!("cut {cut}: {e}"),
            Ok(_) => panic!("cut {cut}: undetected"),
        }
    }
}
