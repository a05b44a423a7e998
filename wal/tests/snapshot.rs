//! Snapshot files: round trips (chunked writes, `io::Write`/`io::Read`), every bit flip and
//! every truncation detected, crash at every step of writing, fallback to an older snapshot,
//! retention, stale tmp files.

mod common;

use common::SplitMix64;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use wal::{
    list_snapshots, open_newest_valid, open_snapshot, remove_stale_tmp, retain_snapshots, Crash,
    Disk, Error, FileDisk, SimDisk, SnapshotWriter,
};

fn snap_dir() -> PathBuf {
    PathBuf::from("/data/snap")
}

fn body(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

fn write<D: Disk>(disk: D, dir: &Path, index: u64, meta: &[u8], body: &[u8]) -> PathBuf {
    let mut w = SnapshotWriter::create(disk, dir, index, index / 10 + 1, meta).unwrap();
    for chunk in body.chunks(1000) {
        w.write_body(chunk).unwrap();
    }
    w.finish().unwrap().path
}

fn read_back<D: Disk>(disk: &D, path: &Path) -> wal::Result<(u64, u64, Vec<u8>, Vec<u8>)> {
    let mut r = open_snapshot(disk, path)?;
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert_eq!(got.len() as u64, r.body_len());
    Ok((r.last_index, r.last_term, r.meta.clone(), got))
}

#[test]
fn body_bytes_read_at_any_offset_and_in_any_order_match_what_was_written() {
    let disk = SimDisk::new();
    let meta = body(37, 3);
    let data = body((1 << 20) + 333, 4);
    let path = write(disk.clone(), &snap_dir(), 77, &meta, &data);
    let mut w = SnapshotWriter::create(disk.clone(), &snap_dir(), 78, 1, &meta).unwrap();
    w.write_body(&data[..10]).unwrap();
    assert_eq!(w.body_len(), 10, "the writer counts body bytes");
    let r = open_snapshot(&disk, &path).unwrap();
    // Chunks of a leader's stream, last one short, served back to front.
    let chunk = 256 * 1024;
    let mut offsets: Vec<usize> = (0..data.len()).step_by(chunk).collect();
    offsets.reverse();
    for offset in offsets {
        let end = (offset + chunk).min(data.len());
        let mut got = vec![0u8; end - offset];
        r.read_body_at(offset as u64, &mut got).unwrap();
        assert_eq!(got, &data[offset..end], "chunk at {offset}");
    }
    // Past the body's end: an error, never bytes of the trailer.
    let mut over = vec![0u8; 2];
    let err = r
        .read_body_at(data.len() as u64 - 1, &mut over)
        .unwrap_err();
    assert!(err.to_string().contains("beyond a body"), "{err}");
    assert!(r.read_body_at(u64::MAX, &mut over).is_err(), "no overflow");
    let mut empty = [0u8; 0];
    r.read_body_at(data.len() as u64, &mut empty).unwrap();
}

#[test]
fn snapshots_round_trip_in_chunks() {
    let disk = SimDisk::new();
    for (meta_len, body_len) in [(0, 0), (5, 0), (0, 7), (100, 3 << 20)] {
        let meta = body(meta_len, 1);
        let data = body(body_len, 2);
        let path = write(
            disk.clone(),
            &snap_dir(),
            40 + body_len as u64,
            &meta,
            &data,
        );
        let (index, term, got_meta, got) = read_back(&disk, &path).unwrap();
        assert_eq!(
            (index, term),
            (40 + body_len as u64, (40 + body_len as u64) / 10 + 1)
        );
        assert_eq!((got_meta, got), (meta, data));
    }
}

#[test]
fn partial_syncs_write_through_and_keep_the_file_valid() {
    let disk = SimDisk::new();
    let data = body(3 << 20, 5);
    let mut w = SnapshotWriter::create(disk.clone(), &snap_dir(), 77, 1, b"m").unwrap();
    let syncs_before = disk.sync_data_count();
    for chunk in data.chunks(1 << 20) {
        w.write_body(chunk).unwrap();
        w.sync_partial().unwrap();
    }
    assert_eq!(
        disk.sync_data_count(),
        syncs_before + 3,
        "one fdatasync per partial sync"
    );
    let path = w.finish().unwrap().path;
    let (index, _, meta, got) = read_back(&disk, &path).unwrap();
    assert_eq!((index, meta.as_slice()), (77, &b"m"[..]));
    assert_eq!(got, data, "the body survives partial syncs unchanged");
}

#[test]
fn snapshots_stream_through_io_write() {
    let disk = SimDisk::new();
    let data = body(300_000, 3);
    let mut w = SnapshotWriter::create(disk.clone(), &snap_dir(), 9, 2, b"m").unwrap();
    std::io::copy(&mut &data[..], &mut w).unwrap();
    w.flush().unwrap();
    let info = w.finish().unwrap();
    assert_eq!(read_back(&disk, &info.path).unwrap().3, data);
}

#[test]
fn every_bit_flip_and_every_truncation_is_detected() {
    let disk = SimDisk::new();
    let path = write(disk.clone(), &snap_dir(), 77, b"metadata", &body(150, 4));
    let original = disk.read_raw(&path).unwrap();
    for bit in 0..original.len() as u64 * 8 {
        disk.write_raw(&path, 0, &original);
        disk.flip_bit(&path, bit);
        match read_back(&disk, &path) {
            Err(Error::Corrupt { path: p, .. }) => assert_eq!(p, path),
            Err(e) => panic!("bit {bit}: {e}"),
            Ok(_) => panic!("bit {bit} undetected"),
        }
    }
    for len in 0..original.len() as u64 {
        disk.set_len_raw(&path, original.len() as u64);
        disk.write_raw(&path, 0, &original);
        disk.set_len_raw(&path, len);
        let err = read_back(&disk, &path)
            .err()
            .unwrap_or_else(|| panic!("len {len}"));
        assert!(matches!(err, Error::Corrupt { .. }), "len {len}: {err}");
    }
    disk.write_raw(&path, 0, &original);
    disk.write_raw(&path, original.len() as u64, &[0]);
    assert!(
        read_back(&disk, &path).is_err(),
        "a trailing byte is detected"
    );
}

#[test]
fn a_corrupt_newest_snapshot_falls_back_to_an_older_one() {
    let disk = SimDisk::new();
    for index in [10, 20, 30] {
        write(disk.clone(), &snap_dir(), index, b"m", &body(500, index));
    }
    let newest = list_snapshots(&disk, &snap_dir()).unwrap();
    assert_eq!(
        newest.iter().map(|s| s.last_index).collect::<Vec<_>>(),
        vec![30, 20, 10]
    );
    disk.flip_bit(&newest[0].path, 8 * 200);
    let (reader, skipped) = open_newest_valid(&disk, &snap_dir()).unwrap();
    assert_eq!(reader.unwrap().last_index, 20);
    assert_eq!(skipped.len(), 1);
    let text = skipped[0].to_string();
    let want = format!("{} at byte offset ", newest[0].path.display());
    assert!(
        text.contains(&want) && text.contains("crc mismatch"),
        "{text}"
    );
}

#[test]
fn retention_keeps_the_newest() {
    let disk = SimDisk::new();
    for index in [5, 50, 500, 5000] {
        write(disk.clone(), &snap_dir(), index, b"", b"body");
    }
    let removed = retain_snapshots(&disk, &snap_dir(), 2).unwrap();
    assert_eq!(removed.len(), 2);
    let left: Vec<u64> = list_snapshots(&disk, &snap_dir())
        .unwrap()
        .iter()
        .map(|s| s.last_index)
        .collect();
    assert_eq!(left, vec![5000, 500]);
}

#[test]
fn a_crash_at_any_step_leaves_the_complete_snapshot_or_none() {
    let data = body(5000, 9);
    for fail_after in 0..12 {
        for mode in [
            Crash::LoseUnsynced,
            Crash::KeepRandomPrefix { seed: fail_after },
        ] {
            let disk = SimDisk::new();
            let old = write(disk.clone(), &snap_dir(), 1, b"old", b"old body");
            disk.fail_after(fail_after);
            let result = SnapshotWriter::create(disk.clone(), &snap_dir(), 2, 1, b"new")
                .and_then(|mut w| w.write_body(&data).map(|()| w))
                .and_then(|w| w.finish());
            disk.crash(mode);
            let listed = list_snapshots(&disk, &snap_dir()).unwrap();
            if result.is_ok() {
                assert_eq!(listed[0].last_index, 2, "finish returned, so it is durable");
            }
            for snap in &listed {
                let (_, _, meta, got) = read_back(&disk, &snap.path).unwrap();
                let want = if snap.last_index == 2 {
                    data.clone()
                } else {
                    b"old body".to_vec()
                };
                assert_eq!(got, want, "fail_after {fail_after}");
                assert_eq!(meta, if snap.last_index == 2 { b"new" } else { b"old" });
            }
            assert!(
                listed.iter().any(|s| s.path == old),
                "the old snapshot survives"
            );
            remove_stale_tmp(&disk, &snap_dir()).unwrap();
            let names = disk.list(&snap_dir()).unwrap();
            assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
        }
    }
}

#[test]
fn file_disk_snapshot_round_trip() {
    let dir = std::env::temp_dir().join(format!("wal-snap-test-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let data = body(2_500_000, 11);
    let path = write(FileDisk, &dir, 0x1234, b"meta", &data);
    assert!(path.ends_with("snapshot.0000000000001234"));
    assert_eq!(read_back(&FileDisk, &path).unwrap().3, data);
    std::fs::remove_dir_all(&dir).unwrap();
}
