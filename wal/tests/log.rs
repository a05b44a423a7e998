//! Log round trips and the operations on an open log: rolling, group commit, iteration from
//! an index, suffix truncation, reset, purge, a missing segment, poisoning, FileDisk.

mod common;

use common::{dir, filled, open, read_all, record, small_options};
use wal::{Disk, Error, FileDisk, Record, SimDisk, Wal, WalOptions};

#[test]
fn records_round_trip_across_segments_and_reopen() {
    let (disk, records) = filled(100, 40, small_options());
    let mut wal = open(&disk, &dir(), small_options()).unwrap();
    assert!(wal.segments().len() > 3, "small segments must roll");
    assert_eq!(read_all(&mut wal, 1), records);
    assert_eq!(wal.last_index(), 100);
    assert_eq!(wal.last_term(), Some(11));
    assert_eq!(wal.synced_index(), 100);
}

#[test]
fn a_batch_costs_one_fsync() {
    let disk = SimDisk::new();
    let options = WalOptions {
        segment_size_bytes: 1 << 20,
        write_buffer_size_max: 1 << 16,
    };
    let mut wal = open(&disk, &dir(), options).unwrap();
    let before = disk.sync_data_count();
    let batch: Vec<Record> = (1..=256).map(|i| record(i, 1, 100)).collect();
    wal.append_batch_durable(&batch).unwrap();
    assert_eq!(disk.sync_data_count() - before, 1);
    assert_eq!(wal.synced_index(), 256);
}

#[test]
fn synced_records_survive_a_crash_and_unsynced_ones_do_not() {
    let disk = SimDisk::new();
    let mut wal = open(&disk, &dir(), small_options()).unwrap();
    let records: Vec<Record> = (1..=30).map(|i| record(i, 1, 30)).collect();
    wal.append_batch_durable(&records[..20]).unwrap();
    wal.append_batch(&records[20..]).unwrap();
    drop(wal);
    disk.crash(wal::Crash::LoseUnsynced);
    let mut wal = open(&disk, &dir(), small_options()).unwrap();
    assert_eq!(read_all(&mut wal, 1), records[..20].to_vec());
}

#[test]
fn iteration_starts_at_any_index() {
    let (disk, records) = filled(60, 50, small_options());
    let mut wal = open(&disk, &dir(), small_options()).unwrap();
    for from in 1..=61 {
        assert_eq!(
            read_all(&mut wal, from),
            records[from as usize - 1..].to_vec(),
            "{from}"
        );
    }
}

#[test]
fn iteration_sees_buffered_appends() {
    let disk = SimDisk::new();
    let mut wal = open(&disk, &dir(), small_options()).unwrap();
    wal.append(&record(1, 1, 10)).unwrap();
    assert_eq!(read_all(&mut wal, 1), vec![record(1, 1, 10)]);
}

#[test]
fn a_record_bigger_than_a_segment_gets_its_own() {
    let disk = SimDisk::new();
    let mut wal = open(&disk, &dir(), small_options()).unwrap();
    let records = vec![record(1, 1, 10), record(2, 1, 5000), record(3, 1, 10)];
    wal.append_batch_durable(&records).unwrap();
    drop(wal);
    let mut wal = open(&disk, &dir(), small_options()).unwrap();
    assert_eq!(read_all(&mut wal, 1), records);
}

#[test]
fn an_oversized_payload_is_refused_before_anything_is_written() {
    let disk = SimDisk::new();
    let mut wal = open(&disk, &dir(), small_options()).unwrap();
    let huge = Record {
        kind: 0,
        term: 1,
        index: 2,
        payload: vec![0; (64 << 20) + 1],
    };
    let err = wal.append_batch(&[record(1, 1, 1), huge]).unwrap_err();
    assert!(matches!(err, Error::RecordTooLarge { .. }), "{err}");
    assert_eq!(wal.last_index(), 0);
    wal.append(&record(1, 1, 1)).unwrap();
}

#[test]
fn truncate_suffix_removes_records_durably_at_every_index() {
    for from in 1..=61u64 {
        let (disk, records) = filled(60, 50, small_options());
        let mut wal = open(&disk, &dir(), small_options()).unwrap();
        wal.truncate_suffix(from).unwrap();
        assert_eq!(wal.last_index(), from - 1);
        let want_term = (from > 1).then(|| records[from as usize - 2].term);
        assert_eq!(wal.last_term(), want_term);
        // Appending after truncation writes a new history.
        wal.append_batch_durable(&[record(from, 99, 20)]).unwrap();
        drop(wal);
        disk.crash(wal::Crash::LoseUnsynced);
        let mut wal = open(&disk, &dir(), small_options()).unwrap();
        let mut want = records[..from as usize - 1].to_vec();
        want.push(record(from, 99, 20));
        assert_eq!(read_all(&mut wal, 1), want, "from {from}");
    }
}

#[test]
fn reset_starts_a_new_log_past_a_snapshot() {
    let (disk, _) = filled(40, 50, small_options());
    let mut wal = open(&disk, &dir(), small_options()).unwrap();
    wal.reset(1000).unwrap();
    assert_eq!(
        (wal.first_index(), wal.last_index(), wal.last_term()),
        (1000, 999, None)
    );
    wal.append_batch_durable(&[record(1000, 5, 8)]).unwrap();
    drop(wal);
    let mut wal = open(&disk, &dir(), small_options()).unwrap();
    assert_eq!(wal.segments().len(), 1);
    assert_eq!(read_all(&mut wal, 1), vec![record(1000, 5, 8)]);
}

#[test]
fn an_interrupted_reset_is_finished_by_open() {
    // Keep a random prefix of the namespace changes of a reset, many times.
    for seed in 0..40 {
        let (disk, records) = filled(40, 50, small_options());
        let mut wal = open(&disk, &dir(), small_options()).unwrap();
        wal.reset(1000).unwrap();
        drop(wal);
        disk.crash(wal::Crash::KeepRandomPrefix { seed });
        let (mut wal, _) = Wal::open(disk.clone(), &dir(), 1, small_options()).unwrap();
        let got = read_all(&mut wal, 1);
        // Reset returned, so it is durable: the old log is gone.
        assert!(
            got.is_empty() && wal.first_index() == 1000,
            "seed {seed}: {}",
            got.len()
        );
        assert!(records.len() == 40);
    }
}

#[test]
fn purge_removes_whole_segments_before_the_snapshot_less_a_reserve() {
    let (disk, records) = filled(100, 40, small_options());
    let mut wal = open(&disk, &dir(), small_options()).unwrap();
    let segments = wal.segments().to_vec();
    let removed = wal.purge(70, 20).unwrap();
    assert!(!removed.is_empty());
    let names = disk.list(&dir()).unwrap();
    for s in &segments {
        let name = s.path.file_name().unwrap().to_str().unwrap();
        let purged = format!("{}{name}", wal::PURGED_PREFIX);
        let gone = s.last_index <= 50;
        assert_eq!(
            names.contains(&name.to_string()),
            !gone,
            "segment {}..={}",
            s.first_index,
            s.last_index
        );
        // A purged segment waits under its new name for the caller to delete it.
        assert_eq!(removed.contains(&dir().join(&purged)), gone, "{purged}");
        assert_eq!(names.contains(&purged), gone, "{purged}");
    }
    assert!(wal.first_index() <= 51);
    let first = wal.first_index();
    drop(wal);
    // Reopened before the caller deleted them (a crash): they are deleted then.
    let mut wal = open(&disk, &dir(), small_options()).unwrap();
    let names = disk.list(&dir()).unwrap();
    assert!(
        names.iter().all(|n| !n.starts_with(wal::PURGED_PREFIX)),
        "{names:?}"
    );
    assert_eq!(wal.first_index(), first);
    assert_eq!(
        read_all(&mut wal, 1),
        records[first as usize - 1..].to_vec()
    );
    // Purging everything keeps the current segment.
    wal.purge(1000, 0).unwrap();
    assert_eq!(wal.segments().len(), 1);
    assert_eq!(wal.last_index(), 100);
}

#[test]
fn a_missing_segment_is_a_gap_error_naming_it() {
    let (disk, _) = filled(100, 40, small_options());
    let wal = open(&disk, &dir(), small_options()).unwrap();
    let segments = wal.segments().to_vec();
    drop(wal);
    disk.remove_raw(&segments[2].path);
    let err = open(&disk, &dir(), small_options())
        .err()
        .expect("a gap must be an error");
    let text = err.to_string();
    assert!(matches!(err, Error::Gap { .. }), "{text}");
    assert!(
        text.contains(&segments[3].path.display().to_string()),
        "{text}"
    );
    let expected = format!("expected first index {}", segments[2].first_index);
    assert!(text.contains(&expected), "{text}");
}

#[test]
fn a_failed_sync_poisons_the_log() {
    let disk = SimDisk::new();
    let mut wal = open(&disk, &dir(), small_options()).unwrap();
    wal.append(&record(1, 1, 10)).unwrap();
    disk.set_failing(true);
    assert!(matches!(wal.sync(), Err(Error::Io { op: "write", .. })));
    disk.set_failing(false);
    assert!(matches!(wal.sync(), Err(Error::Poisoned)));
    assert!(matches!(wal.append(&record(2, 1, 1)), Err(Error::Poisoned)));
}

#[test]
fn a_stray_log_file_name_is_an_error() {
    let disk = SimDisk::new();
    drop(open(&disk, &dir(), small_options()).unwrap());
    disk.create_new(&dir().join("log.12")).unwrap();
    let err = open(&disk, &dir(), small_options())
        .err()
        .expect("bad name");
    assert!(matches!(err, Error::BadFileName { .. }), "{err}");
}

#[test]
fn file_disk_round_trip() {
    let dir = std::env::temp_dir().join(format!("wal-log-test-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let options = WalOptions {
        segment_size_bytes: 4096,
        write_buffer_size_max: 512,
    };
    let (mut wal, report) = Wal::open(FileDisk, &dir, 1, options).unwrap();
    assert_eq!(report, wal::OpenReport::default());
    let records: Vec<Record> = (1..=200).map(|i| record(i, 2, 60)).collect();
    for chunk in records.chunks(17) {
        wal.append_batch_durable(chunk).unwrap();
    }
    drop(wal);
    let (mut wal, report) = Wal::open(FileDisk, &dir, 1, options).unwrap();
    assert_eq!(report, wal::OpenReport::default());
    let got: Vec<Record> = wal.iter_from(1).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(got, records);
    // A cut tail on a real file is truncated and reported.
    let last = wal.segments().last().unwrap().clone();
    drop(wal);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&last.path)
        .unwrap();
    f.set_len(last.end_offset - 3).unwrap();
    drop(f);
    let (wal, report) = Wal::open(FileDisk, &dir, 1, options).unwrap();
    assert_eq!(wal.last_index(), 199);
    assert_eq!(report.torn_tail.unwrap().path, last.path);
    std::fs::remove_dir_all(&dir).unwrap();
}
