//! The durable spool: behaviour through the public API and the files on disk, and a
//! seeded random-operations test (with simulated crashes) against an in-memory model.

// One module named after the file, so `cargo test -p vtcq-reporter spool` selects every
// test here, not only those with "spool" in their names.
mod spool {
    use std::collections::{BTreeMap, BTreeSet};
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use vtcq_reporter::spool::{
        inspect, CrashPoint, Defect, DropReason, OpenReport, PurgeScope, RecordId, Spool,
        SpoolError, SpoolLimits,
    };

    /// A folder under the system temp dir, removed when the test ends.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let path = std::env::temp_dir().join(format!(
                "vtcq-spool-{tag}-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4()
            ));
            fs::create_dir_all(&path).expect("create test folder");
            TempDir(path)
        }

        /// The spool folder (not created: open creates it).
        fn spool(&self) -> PathBuf {
            self.0.join("spool")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const T0_MS: u64 = 1_700_000_000_000;

    fn at_ms(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn t(secs: u64) -> SystemTime {
        at_ms(T0_MS + secs * 1000)
    }

    fn roomy() -> SpoolLimits {
        SpoolLimits {
            max_bytes: 1 << 30,
            max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }

    fn open(dir: &Path, limits: SpoolLimits, now: SystemTime) -> (Spool, OpenReport) {
        Spool::open(dir, limits, now).expect("open spool")
    }

    /// The file size of a record, computed from the documented format independently of the
    /// spool's code.
    fn record_size(body_len: usize, created_ms: u64) -> u64 {
        let header = "vtcq-spool 1 ".len()
            + 64
            + 1
            + body_len.to_string().len()
            + 1
            + created_ms.to_string().len()
            + 1;
        (header + body_len) as u64
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("list folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn ids(spool: &Spool) -> Vec<RecordId> {
        spool.pending().into_iter().map(|r| r.id).collect()
    }

    fn body(i: usize) -> Vec<u8> {
        format!("{{\"record\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 7)).into_bytes()
    }

    #[test]
    fn round_trip_and_documented_file_format() {
        let tmp = TempDir::new("roundtrip");
        let (mut spool, report) = open(&tmp.spool(), roomy(), t(0));
        assert_eq!(report, OpenReport::default());
        for sub in ["tmp", "ready", "dead", "corrupt"] {
            assert!(tmp.spool().join(sub).is_dir(), "{sub}/ created");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(tmp.spool().join("ready"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }

        let payload = b"{\"mediaQualityList\":[]}\nsecond line".to_vec();
        let id = spool.enqueue(&payload, t(1)).expect("enqueue");
        assert_eq!(spool.read(&id).expect("read"), payload);
        let pending = spool.pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].id, id);
        assert_eq!(pending[0].created, t(1));
        assert_eq!(pending[0].size, record_size(payload.len(), T0_MS + 1000));

        // The file on disk, byte for byte as the module doc says.
        let file = tmp.spool().join("ready").join(format!("{id}.rec"));
        let bytes = fs::read(&file).expect("record file");
        let sum: String = ring::digest::digest(&ring::digest::SHA256, &payload)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut expected =
            format!("vtcq-spool 1 {sum} {} {}\n", payload.len(), T0_MS + 1000).into_bytes();
        expected.extend_from_slice(&payload);
        assert_eq!(bytes, expected);
        assert_eq!(id.to_string().len(), 20 + 1 + 36);
        assert!(id.to_string().starts_with("00000000000000000001-"));
        assert_eq!(RecordId::parse(&id.to_string()).expect("parse"), id);
        assert_eq!(
            RecordId::parse(&format!("{id}.rec")).expect("parse file name"),
            id
        );
        assert!(RecordId::parse("nonsense").is_err());

        let stats = spool.stats();
        assert_eq!(
            (stats.records, stats.bytes, stats.enqueued_total),
            (1, bytes.len() as u64, 1)
        );
        assert_eq!(spool.dir(), tmp.spool());
        assert!(names_in(&tmp.spool().join("tmp")).is_empty());
    }

    #[test]
    fn order_survives_reopen_and_new_records_go_last() {
        let tmp = TempDir::new("order");
        let mut expected = Vec::new();
        {
            let (mut spool, _) = open(&tmp.spool(), roomy(), t(0));
            for i in 0..6 {
                expected.push((
                    spool.enqueue(&body(i), t(i as u64)).expect("enqueue"),
                    body(i),
                ));
            }
        }
        let (mut spool, report) = open(&tmp.spool(), roomy(), t(10));
        assert_eq!(report.recovered, 6);
        assert_eq!(
            ids(&spool),
            expected
                .iter()
                .map(|(id, _)| id.clone())
                .collect::<Vec<_>>()
        );
        for (id, b) in &expected {
            assert_eq!(&spool.read(id).expect("read"), b);
        }
        let newer = spool.enqueue(b"later", t(11)).expect("enqueue");
        assert!(expected.iter().all(|(id, _)| *id < newer));
        assert_eq!(ids(&spool).last(), Some(&newer));
    }

    #[test]
    fn acknowledge_is_durable_across_reopen() {
        let tmp = TempDir::new("ack");
        let (mut spool, _) = open(&tmp.spool(), roomy(), t(0));
        let all: Vec<RecordId> = (0..4)
            .map(|i| spool.enqueue(&body(i), t(0)).expect("enqueue"))
            .collect();
        spool.acknowledge(&all[0]).expect("ack");
        spool.acknowledge(&all[2]).expect("ack");
        assert!(matches!(
            spool.acknowledge(&all[2]),
            Err(SpoolError::NotFound { .. })
        ));
        assert!(matches!(
            spool.read(&all[0]),
            Err(SpoolError::NotFound { .. })
        ));
        let stats = spool.stats();
        assert_eq!((stats.records, stats.acknowledged_total), (2, 2));
        drop(spool);

        let (spool, report) = open(&tmp.spool(), roomy(), t(1));
        assert_eq!(report.recovered, 2);
        assert_eq!(ids(&spool), vec![all[1].clone(), all[3].clone()]);
        assert_eq!(names_in(&tmp.spool().join("ready")).len(), 2);
    }

    #[test]
    fn leftovers_in_tmp_are_removed_on_open() {
        let tmp = TempDir::new("tmp");
        let (mut spool, _) = open(&tmp.spool(), roomy(), t(0));
        let kept = spool.enqueue(b"kept", t(0)).expect("enqueue");
        drop(spool);
        let tmpdir = tmp.spool().join("tmp");
        fs::write(
            tmpdir.join("00000000000000000007-00000000-0000-0000-0000-000000000000.rec"),
            b"vtcq-sp",
        )
        .expect("w");
        fs::write(
            tmpdir.join("00000000000000000008-00000000-0000-0000-0000-000000000000.response.json"),
            b"{",
        )
        .expect("w");
        fs::create_dir(tmpdir.join("stray")).expect("mkdir");

        let (mut spool, report) = open(&tmp.spool(), roomy(), t(1));
        assert_eq!(report.removed_tmp, 3);
        assert_eq!(report.recovered, 1);
        assert!(names_in(&tmpdir).is_empty());
        assert_eq!(spool.read(&kept).expect("read"), b"kept");
    }

    #[test]
    fn corrupt_records_are_moved_aside_counted_and_the_others_still_read() {
        let tmp = TempDir::new("corrupt");
        let ready = tmp.spool().join("ready");
        let corrupt = tmp.spool().join("corrupt");
        let (mut spool, _) = open(&tmp.spool(), roomy(), t(0));
        let all: Vec<RecordId> = (0..5)
            .map(|i| spool.enqueue(&body(i), t(0)).expect("enqueue"))
            .collect();
        drop(spool);

        // A flipped byte in the body of #1, a torn tail on #3, a stray file.
        let flip = ready.join(format!("{}.rec", all[1]));
        let mut bytes = fs::read(&flip).expect("read");
        let last = bytes.len() - 2;
        bytes[last] ^= 0x20;
        fs::write(&flip, bytes).expect("write");
        let torn = ready.join(format!("{}.rec", all[3]));
        let bytes = fs::read(&torn).expect("read");
        fs::write(&torn, &bytes[..bytes.len() - 3]).expect("write");
        fs::write(ready.join("notes.txt"), b"hello").expect("write");

        let (mut spool, report) = open(&tmp.spool(), roomy(), t(1));
        assert_eq!(report.corrupt, 3);
        assert_eq!(report.recovered, 3);
        assert_eq!(spool.stats().corrupt_total, 3);
        assert_eq!(
            ids(&spool),
            vec![all[0].clone(), all[2].clone(), all[4].clone()]
        );
        let mut in_corrupt = names_in(&corrupt);
        in_corrupt.sort();
        assert_eq!(
            in_corrupt,
            vec![
                format!("{}.rec", all[1]),
                format!("{}.rec", all[3]),
                "notes.txt".to_owned()
            ]
        );
        for id in [&all[0], &all[2], &all[4]] {
            spool.read(id).expect("intact record still reads");
        }

        // Corruption found by read() while open: moved, counted, reported, the rest unharmed.
        let victim = ready.join(format!("{}.rec", all[2]));
        let bytes = fs::read(&victim).expect("read");
        fs::write(&victim, &bytes[..bytes.len() - 1]).expect("write");
        match spool.read(&all[2]) {
            Err(SpoolError::Corrupt {
                path,
                moved_to,
                defect,
            }) => {
                assert_eq!(path, victim);
                assert_eq!(moved_to, corrupt.join(format!("{}.rec", all[2])));
                assert!(matches!(defect, Defect::Length { .. }), "{defect:?}");
                assert!(moved_to.exists());
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert_eq!(spool.stats().corrupt_total, 4);
        assert_eq!(ids(&spool), vec![all[0].clone(), all[4].clone()]);
        assert_eq!(spool.read(&all[4]).expect("read"), body(4));

        // Corrupt files are never deleted by anything but an explicit purge, and the next
        // sequence number stays above theirs.
        drop(spool);
        let (mut spool, report) = open(&tmp.spool(), roomy(), t(2));
        assert_eq!(report.corrupt, 0);
        assert_eq!(names_in(&corrupt).len(), 4);
        let next = spool.enqueue(b"n", t(2)).expect("enqueue");
        assert!(next.seq() > all[4].seq());
        assert_eq!(spool.purge(PurgeScope::Corrupt).expect("purge"), 4);
        assert!(names_in(&corrupt).is_empty());
    }

    #[test]
    fn size_bound_evicts_the_oldest_and_counts_them() {
        let tmp = TempDir::new("size");
        let one = record_size(100, T0_MS);
        let limits = SpoolLimits {
            max_bytes: 3 * one + 10,
            max_age: Duration::from_secs(3600),
        };
        let (mut spool, _) = open(&tmp.spool(), limits, t(0));
        let all: Vec<RecordId> = (0..5)
            .map(|_| spool.enqueue(&[b'a'; 100], t(0)).expect("enqueue"))
            .collect();
        assert_eq!(ids(&spool), all[2..].to_vec());
        let stats = spool.stats();
        assert_eq!(
            (
                stats.dropped_total,
                stats.dropped_size_total,
                stats.dropped_age_total
            ),
            (2, 2, 0)
        );
        assert_eq!(stats.bytes, 3 * one);
        assert_eq!(names_in(&tmp.spool().join("ready")).len(), 3);

        // A lowered bound is applied on open.
        drop(spool);
        let lower = SpoolLimits {
            max_bytes: one,
            ..limits
        };
        let (spool, report) = open(&tmp.spool(), lower, t(1));
        assert_eq!((report.recovered, report.evicted), (3, 2));
        assert_eq!(ids(&spool), vec![all[4].clone()]);
        assert_eq!(spool.stats().dropped_size_total, 2);
    }

    #[test]
    fn a_record_larger_than_the_spool_is_refused_and_nothing_is_evicted() {
        let tmp = TempDir::new("toolarge");
        let limits = SpoolLimits {
            max_bytes: 400,
            max_age: Duration::from_secs(3600),
        };
        let (mut spool, _) = open(&tmp.spool(), limits, t(0));
        let kept = spool.enqueue(&[b'k'; 100], t(0)).expect("enqueue");
        let err = spool.enqueue(&[b'x'; 400], t(0)).expect_err("too large");
        assert!(
            err.to_string()
                .contains("larger than the spool's max_bytes (400)"),
            "{err}"
        );
        match err {
            SpoolError::TooLarge { size, max_bytes } => {
                assert_eq!((size, max_bytes), (record_size(400, T0_MS), 400))
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert_eq!(ids(&spool), vec![kept]);
        assert_eq!(spool.stats().dropped_total, 0);
        assert!(names_in(&tmp.spool().join("tmp")).is_empty());
    }

    #[test]
    fn age_bound_with_a_simulated_clock() {
        let tmp = TempDir::new("age");
        let limits = SpoolLimits {
            max_bytes: 1 << 20,
            max_age: Duration::from_secs(60),
        };
        let (mut spool, _) = open(&tmp.spool(), limits, t(0));
        let a = spool.enqueue(b"a", t(0)).expect("enqueue");
        let b = spool.enqueue(b"b", t(10)).expect("enqueue");
        let c = spool.enqueue(b"c", t(50)).expect("enqueue");
        assert!(
            spool.expire(t(60)).is_empty(),
            "exactly max_age old is still kept"
        );
        let dropped = spool.expire(t(65));
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].0.id, a);
        assert_eq!(dropped[0].1, DropReason::Age);
        assert_eq!(ids(&spool), vec![b.clone(), c.clone()]);
        let stats = spool.stats();
        assert_eq!((stats.dropped_total, stats.dropped_age_total), (1, 1));
        // A clock set back makes nothing expire.
        assert!(spool.expire(t(0)).is_empty());
        drop(spool);

        let (spool, report) = open(&tmp.spool(), limits, t(100));
        assert_eq!((report.recovered, report.expired), (2, 1));
        assert_eq!(ids(&spool), vec![c]);
    }

    /// What `vtcq spool list` shows of a spool with two ready records and two dead letters
    /// (answered 400 and 403).
    fn assert_inspection_shows_two_ready_and_two_dead(dir: &Path) {
        let seen = inspect(dir).expect("inspect");
        assert_eq!(seen.ready.len(), 2);
        assert_eq!(seen.dead.len(), 2);
        assert_eq!(seen.dead[0].status, Some(400));
        assert_eq!(seen.dead[1].status, Some(403));
        assert!(seen
            .dead
            .iter()
            .all(|r| r.defect.is_none() && r.response.is_some()));
        let text = seen.to_string();
        assert!(text.contains("ready: 2 records"), "{text}");
        assert!(text.contains("dead: 2 records"), "{text}");
        assert!(text.contains("HTTP 403"), "{text}");
    }

    #[test]
    fn dead_letter_retry_and_purge() {
        let tmp = TempDir::new("dead");
        let dead = tmp.spool().join("dead");
        let (mut spool, _) = open(&tmp.spool(), roomy(), t(0));
        let all: Vec<RecordId> = (0..4)
            .map(|i| spool.enqueue(&body(i), t(i as u64)).expect("enqueue"))
            .collect();
        let headers = vec![("request-id".to_owned(), "abc-123".to_owned())];
        spool
            .dead_letter(
                &all[1],
                400,
                &headers,
                "{\"error\":{\"code\":\"BadRequest\"}}",
                t(5),
            )
            .expect("dead letter");
        spool
            .dead_letter(&all[2], 403, &[], "forbidden", t(6))
            .expect("dead letter");
        assert_eq!(ids(&spool), vec![all[0].clone(), all[3].clone()]);
        assert_eq!(spool.stats().dead_lettered_total, 2);

        let response: serde_json::Value = serde_json::from_slice(
            &fs::read(dead.join(format!("{}.response.json", all[1]))).expect("response"),
        )
        .expect("json");
        assert_eq!(response["status"], 400);
        assert_eq!(response["record"], all[1].to_string());
        assert_eq!(response["headers"][0][0], "request-id");
        assert_eq!(response["headers"][0][1], "abc-123");
        assert_eq!(response["body"], "{\"error\":{\"code\":\"BadRequest\"}}");
        assert_eq!(response["body_truncated"], false);
        assert_eq!(response["time_unix_ms"], T0_MS + 5000);
        assert_eq!(response["time"], "2023-11-14T22:13:25.000Z");

        let listed = spool.dead_letters().expect("list");
        assert_eq!(
            listed.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
            vec![all[1].clone(), all[2].clone()]
        );
        assert_eq!(listed[0].created, t(1));

        // The operator's view, without the lock, while the spool is open.
        assert_inspection_shows_two_ready_and_two_dead(&tmp.spool());

        // Dead letters survive a reopen and are not counted against the bounds.
        drop(spool);
        let (mut spool, report) = open(&tmp.spool(), roomy(), t(7));
        assert_eq!(report.recovered, 2);
        assert_eq!(spool.dead_letters().expect("list").len(), 2);

        // One back: it takes its old place, before newer records; its response is gone.
        assert_eq!(spool.retry_dead(Some(&all[2])).expect("retry"), 1);
        assert_eq!(
            ids(&spool),
            vec![all[0].clone(), all[2].clone(), all[3].clone()]
        );
        assert_eq!(spool.read(&all[2]).expect("read"), body(2));
        assert!(!dead.join(format!("{}.response.json", all[2])).exists());
        assert!(matches!(
            spool.retry_dead(Some(&all[2])),
            Err(SpoolError::NotFound { .. })
        ));

        // All back.
        assert_eq!(spool.retry_dead(None).expect("retry"), 1);
        assert_eq!(ids(&spool), all);
        assert!(names_in(&dead).is_empty());
        assert_eq!(spool.stats().retried_total, 2);

        // A corrupt dead letter goes to corrupt/ on retry, the others still come back.
        spool
            .dead_letter(&all[0], 400, &[], "no", t(8))
            .expect("dead letter");
        spool
            .dead_letter(&all[1], 400, &[], "no", t(8))
            .expect("dead letter");
        fs::write(dead.join(format!("{}.rec", all[0])), b"garbage").expect("write");
        assert_eq!(spool.retry_dead(None).expect("retry"), 1);
        assert_eq!(ids(&spool), all[1..].to_vec());
        assert_eq!(spool.stats().corrupt_total, 1);
        assert!(tmp
            .spool()
            .join("corrupt")
            .join(format!("{}.rec", all[0]))
            .exists());

        // Purge: dead (records counted, responses go with them), ready, and all.
        spool
            .dead_letter(&all[1], 400, &[], "no", t(9))
            .expect("dead letter");
        assert_eq!(spool.purge(PurgeScope::Dead).expect("purge"), 1);
        assert!(names_in(&dead).is_empty());
        assert_eq!(spool.purge(PurgeScope::Ready).expect("purge"), 2);
        assert!(spool.pending().is_empty());
        assert_eq!(spool.stats().bytes, 0);
        assert!(names_in(&tmp.spool().join("ready")).is_empty());
        let x = spool.enqueue(b"x", t(10)).expect("enqueue");
        spool
            .dead_letter(&x, 422, &[], "", t(10))
            .expect("dead letter");
        spool.enqueue(b"y", t(10)).expect("enqueue");
        assert_eq!(
            spool.purge(PurgeScope::All).expect("purge"),
            3,
            "ready y + dead x + corrupt"
        );
        assert_eq!(spool.stats().purged_total, 6);
    }

    #[test]
    fn a_long_response_body_is_cut_on_a_character_boundary() {
        let tmp = TempDir::new("longresp");
        let (mut spool, _) = open(&tmp.spool(), roomy(), t(0));
        let id = spool.enqueue(b"r", t(0)).expect("enqueue");
        let long = "é".repeat(40_000); // 80,000 bytes
        spool
            .dead_letter(&id, 400, &[], &long, t(1))
            .expect("dead letter");
        let path = tmp.spool().join("dead").join(format!("{id}.response.json"));
        let response: serde_json::Value =
            serde_json::from_slice(&fs::read(path).expect("read")).expect("json");
        assert_eq!(response["body_truncated"], true);
        assert_eq!(response["body"].as_str().expect("str").len(), 64 * 1024);
    }

    #[test]
    fn the_lock_keeps_a_second_opener_out() {
        let tmp = TempDir::new("lock");
        let (mut spool, _) = open(&tmp.spool(), roomy(), t(0));
        let id = spool.enqueue(b"mine", t(0)).expect("enqueue");
        match Spool::open(&tmp.spool(), roomy(), t(0)) {
            Err(e @ SpoolError::Locked { .. }) => {
                assert!(
                    e.to_string().contains(&tmp.spool().display().to_string()),
                    "{e}"
                );
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        // The failed opener changed nothing.
        assert_eq!(spool.read(&id).expect("read"), b"mine");
        let pid = fs::read_to_string(tmp.spool().join("LOCK")).expect("LOCK");
        assert_eq!(pid.trim(), std::process::id().to_string());
        drop(spool);
        let (spool, report) = open(&tmp.spool(), roomy(), t(1));
        assert_eq!(report.recovered, 1);
        assert_eq!(ids(&spool), vec![id]);
    }

    #[test]
    fn inspect_reports_defects_without_moving_anything() {
        let tmp = TempDir::new("inspect");
        assert!(
            matches!(inspect(&tmp.spool()), Err(SpoolError::Io { .. })),
            "missing folder"
        );
        let (mut spool, _) = open(&tmp.spool(), roomy(), t(0));
        let a = spool.enqueue(b"a", t(0)).expect("enqueue");
        let b = spool.enqueue(b"b", t(0)).expect("enqueue");
        let path_b = tmp.spool().join("ready").join(format!("{b}.rec"));
        let mut bytes = fs::read(&path_b).expect("read");
        let last = bytes.len() - 1;
        bytes[last] = b'c';
        fs::write(&path_b, bytes).expect("write");
        let seen = inspect(&tmp.spool()).expect("inspect");
        assert_eq!(seen.ready[0].id.as_ref(), Some(&a));
        assert_eq!(seen.ready[0].defect, None);
        assert_eq!(seen.ready[0].created, Some(t(0)));
        assert_eq!(seen.ready[1].defect, Some(Defect::Checksum));
        assert!(seen
            .to_string()
            .contains("CORRUPT: body checksum does not match the header"));
        assert!(path_b.exists(), "inspect moves nothing");
        assert_eq!(spool.pending().len(), 2);
    }

    /// The cause chain printed on one line, as the CLI does.
    fn chain(e: &dyn std::error::Error) -> String {
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }

    #[test]
    fn a_failed_write_names_the_path_loses_nothing_and_the_spool_recovers() {
        // Root-proof: tmp/ replaced by a regular file, so creating the record file fails with
        // ENOTDIR whatever the permissions.
        let tmp = TempDir::new("enotdir");
        let one = record_size(50, T0_MS);
        let limits = SpoolLimits {
            max_bytes: 2 * one,
            max_age: Duration::from_secs(3600),
        };
        let (mut spool, _) = open(&tmp.spool(), limits, t(0));
        let first = spool.enqueue(&[b'1'; 50], t(0)).expect("enqueue");
        let second = spool.enqueue(&[b'2'; 50], t(0)).expect("enqueue");
        let tmpdir = tmp.spool().join("tmp");
        fs::remove_dir(&tmpdir).expect("rmdir");
        fs::write(&tmpdir, b"in the way").expect("file");
        let before = spool.stats();

        let err = spool
            .enqueue(&[b'3'; 50], t(1))
            .expect_err("write must fail");
        match &err {
            SpoolError::Io { op, path, source } => {
                assert_eq!(*op, "write spool record");
                assert!(path.starts_with(&tmpdir), "{}", path.display());
                assert_eq!(source.raw_os_error(), Some(20), "ENOTDIR");
            }
            other => panic!("expected Io, got {other:?}"),
        }
        let text = chain(&err);
        assert!(
            text.starts_with(&format!("cannot write spool record {}/", tmpdir.display())),
            "{text}"
        );
        assert!(text.ends_with("Not a directory (os error 20)"), "{text}");

        // Nothing lost, nothing evicted although the spool was full, nothing half-written.
        assert_eq!(spool.stats(), before);
        assert_eq!(ids(&spool), vec![first.clone(), second.clone()]);
        assert_eq!(spool.read(&first).expect("read"), vec![b'1'; 50]);
        assert_eq!(names_in(&tmp.spool().join("ready")).len(), 2);

        // A dead letter fails the same clear way, and the record stays pending.
        let err = spool
            .dead_letter(&first, 400, &[], "no", t(1))
            .expect_err("must fail");
        assert!(
            chain(&err).starts_with("cannot write dead-letter response "),
            "{}",
            chain(&err)
        );
        assert_eq!(ids(&spool), vec![first.clone(), second.clone()]);

        // Cause removed: the same spool works again, and the bound applies as usual.
        fs::remove_file(&tmpdir).expect("rm");
        fs::create_dir(&tmpdir).expect("mkdir");
        let third = spool
            .enqueue(&[b'3'; 50], t(1))
            .expect("enqueue after repair");
        assert_eq!(ids(&spool), vec![second.clone(), third.clone()]);
        assert_eq!(spool.stats().dropped_size_total, 1);
        drop(spool);

        // Opening with the cause in place fails with the folder's path, and changes nothing.
        fs::remove_dir(&tmpdir).expect("rmdir");
        fs::write(&tmpdir, b"in the way").expect("file");
        let err = Spool::open(&tmp.spool(), limits, t(2)).expect_err("open must fail");
        assert!(
            chain(&err).starts_with(&format!(
                "cannot create spool folder {}: ",
                tmpdir.display()
            )),
            "{}",
            chain(&err)
        );
        fs::remove_file(&tmpdir).expect("rm");
        let (spool, report) = open(&tmp.spool(), limits, t(2));
        assert_eq!(report.recovered, 2);
        assert_eq!(ids(&spool), vec![second, third]);
    }

    #[test]
    fn a_failed_rename_leaves_no_partial_file_and_loses_nothing() {
        // Root-proof: ready/ moved away and a regular file put in its place, so the rename of
        // a finished record into it fails with ENOTDIR.
        let tmp = TempDir::new("rename");
        let (mut spool, _) = open(&tmp.spool(), roomy(), t(0));
        let kept = spool.enqueue(b"kept", t(0)).expect("enqueue");
        let ready = tmp.spool().join("ready");
        let away = tmp.spool().join("ready.away");
        fs::rename(&ready, &away).expect("move ready away");
        fs::write(&ready, b"in the way").expect("file");
        let err = spool.enqueue(b"new", t(1)).expect_err("rename must fail");
        assert!(
            chain(&err).starts_with(&format!("cannot move spool record to {}/", ready.display())),
            "{}",
            chain(&err)
        );
        assert!(
            chain(&err).ends_with("Not a directory (os error 20)"),
            "{}",
            chain(&err)
        );
        assert!(
            names_in(&tmp.spool().join("tmp")).is_empty(),
            "the finished tmp file was removed"
        );
        assert_eq!(ids(&spool), vec![kept.clone()]);
        assert_eq!(spool.stats().enqueued_total, 1);
        fs::remove_file(&ready).expect("rm");
        fs::rename(&away, &ready).expect("move ready back");
        assert_eq!(spool.read(&kept).expect("read"), b"kept");
        let new = spool.enqueue(b"new", t(1)).expect("enqueue after repair");
        assert_eq!(ids(&spool), vec![kept, new]);
    }

    #[test]
    fn a_spool_under_a_file_is_a_clear_error() {
        let tmp = TempDir::new("underfile");
        let file = tmp.0.join("plain-file");
        fs::write(&file, b"x").expect("write");
        let dir = file.join("spool");
        let err = Spool::open(&dir, roomy(), t(0)).expect_err("must fail");
        match &err {
            SpoolError::Io { op, path, .. } => {
                assert_eq!(*op, "create spool folder");
                assert_eq!(path, &dir);
            }
            other => panic!("expected Io, got {other:?}"),
        }
        assert!(chain(&err).contains("Not a directory"), "{}", chain(&err));
    }

    #[cfg(unix)]
    #[test]
    fn a_read_only_ready_folder_is_a_clear_error_and_loses_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = TempDir::new("readonly");
        let (mut spool, _) = open(&tmp.spool(), roomy(), t(0));
        let kept = spool.enqueue(b"kept", t(0)).expect("enqueue");
        let ready = tmp.spool().join("ready");
        fs::set_permissions(&ready, fs::Permissions::from_mode(0o555)).expect("chmod");
        // Root (as in CI) writes through permissions: then this test proves nothing.
        let probe = ready.join("probe");
        if fs::write(&probe, b"").is_ok() {
            let _ = fs::remove_file(&probe);
            fs::set_permissions(&ready, fs::Permissions::from_mode(0o700)).expect("chmod");
            eprintln!(
                "skipped: running as root, a 0555 folder does not stop writes \
             (the ENOTDIR test covers the failure path)"
            );
            return;
        }
        let err = spool.enqueue(b"new", t(1)).expect_err("must fail");
        assert!(
            chain(&err).starts_with(&format!("cannot move spool record to {}/", ready.display())),
            "{}",
            chain(&err)
        );
        assert!(chain(&err).contains("Permission denied"), "{}", chain(&err));
        let err = spool.acknowledge(&kept).expect_err("must fail");
        assert!(
            chain(&err).starts_with("cannot delete acknowledged spool record "),
            "{}",
            chain(&err)
        );
        assert_eq!(ids(&spool), vec![kept.clone()]);
        assert!(
            names_in(&tmp.spool().join("tmp")).is_empty(),
            "the failed write cleaned up"
        );
        fs::set_permissions(&ready, fs::Permissions::from_mode(0o700)).expect("chmod");
        spool.enqueue(b"new", t(1)).expect("enqueue after chmod");
        spool.acknowledge(&kept).expect("ack after chmod");
    }

    // ---------------------------------------------------------------------------------------
    // Random operations, with simulated crashes, against an in-memory model.
    // ---------------------------------------------------------------------------------------

    #[derive(Clone, Debug)]
    struct ModelRecord {
        body: Vec<u8>,
        created_ms: u64,
    }

    impl ModelRecord {
        fn size(&self) -> u64 {
            record_size(self.body.len(), self.created_ms)
        }
    }

    /// What the spool must contain, and its counters since the last open.
    #[derive(Debug, Default)]
    struct Model {
        ready: BTreeMap<RecordId, ModelRecord>,
        dead: BTreeMap<RecordId, ModelRecord>,
        /// Acknowledged or dropped: must never come back.
        gone: BTreeSet<RecordId>,
        enqueued: u64,
        acknowledged: u64,
        dead_lettered: u64,
        dropped_size: u64,
        dropped_age: u64,
        retried: u64,
    }

    impl Model {
        fn bytes(&self) -> u64 {
            self.ready.values().map(ModelRecord::size).sum()
        }

        fn reset_counters(&mut self) {
            self.enqueued = 0;
            self.acknowledged = 0;
            self.dead_lettered = 0;
            self.dropped_size = 0;
            self.dropped_age = 0;
            self.retried = 0;
        }

        fn expire(&mut self, limits: SpoolLimits, now_ms: u64) -> usize {
            let max = limits.max_age.as_millis() as u64;
            let old: Vec<RecordId> = self
                .ready
                .iter()
                .filter(|(_, r)| now_ms.saturating_sub(r.created_ms) > max)
                .map(|(id, _)| id.clone())
                .collect();
            for id in &old {
                self.ready.remove(id);
                self.gone.insert(id.clone());
            }
            self.dropped_age += old.len() as u64;
            old.len()
        }

        fn evict(&mut self, limits: SpoolLimits, keep: Option<&RecordId>) -> usize {
            let mut n = 0;
            while self.bytes() > limits.max_bytes {
                let Some(oldest) = self.ready.keys().find(|id| Some(*id) != keep).cloned() else {
                    break;
                };
                self.ready.remove(&oldest);
                self.gone.insert(oldest);
                n += 1;
            }
            self.dropped_size += n as u64;
            n
        }
    }

    struct Run {
        seed: u64,
        dir: PathBuf,
        limits: SpoolLimits,
        rng: fastrand::Rng,
        model: Model,
        now_ms: u64,
        next_body: usize,
        trace: Vec<String>,
    }

    type Check = Result<(), String>;

    fn ensure(cond: bool, what: impl FnOnce() -> String) -> Check {
        if cond {
            Ok(())
        } else {
            Err(what())
        }
    }

    impl Run {
        fn now(&self) -> SystemTime {
            at_ms(self.now_ms)
        }

        fn new_body(&mut self) -> Vec<u8> {
            self.next_body += 1;
            let pad = self.rng.usize(0..200);
            let mut body =
                format!("{{\"seed\":{},\"n\":{}}}", self.seed, self.next_body).into_bytes();
            body.extend((0..pad).map(|_| self.rng.u8(..)));
            body
        }

        /// Opens and checks the result against the model (bounds applied in the model first).
        fn reopen(&mut self, expect_removed_tmp: usize) -> Result<Spool, String> {
            let recovered = self.model.ready.len();
            self.model.reset_counters();
            let expired = self.model.expire(self.limits, self.now_ms);
            let evicted = self.model.evict(self.limits, None);
            let (spool, report) = Spool::open(&self.dir, self.limits, self.now())
                .map_err(|e| format!("open: {e}"))?;
            let expected = OpenReport {
                recovered,
                removed_tmp: expect_removed_tmp,
                corrupt: 0,
                expired,
                evicted,
            };
            ensure(report == expected, || {
                format!("open report {report:?}, expected {expected:?}")
            })?;
            Ok(spool)
        }

        fn check(&self, spool: &mut Spool, deep: bool) -> Check {
            let pending = spool.pending();
            let got: Vec<&RecordId> = pending.iter().map(|r| &r.id).collect();
            let want: Vec<&RecordId> = self.model.ready.keys().collect();
            ensure(got == want, || {
                format!("pending {got:?}\n expected {want:?}")
            })?;
            let head = spool.oldest().map(|r| r.id);
            ensure(head.as_ref() == want.first().copied(), || {
                format!("oldest {head:?}")
            })?;
            for info in &pending {
                let m = &self.model.ready[&info.id];
                ensure(
                    info.size == m.size() && info.created == at_ms(m.created_ms),
                    || {
                        format!(
                            "{}: size/created {:?}, expected {} / {}",
                            info.id,
                            info,
                            m.size(),
                            m.created_ms
                        )
                    },
                )?;
            }
            let stats = spool.stats();
            let m = &self.model;
            let expected = (
                m.ready.len(),
                m.bytes(),
                m.enqueued,
                m.acknowledged,
                m.dead_lettered,
                m.dropped_size + m.dropped_age,
                m.dropped_size,
                m.dropped_age,
                m.retried,
                0,
            );
            let actual = (
                stats.records,
                stats.bytes,
                stats.enqueued_total,
                stats.acknowledged_total,
                stats.dead_lettered_total,
                stats.dropped_total,
                stats.dropped_size_total,
                stats.dropped_age_total,
                stats.retried_total,
                stats.corrupt_total,
            );
            ensure(actual == expected, || {
                format!("stats {stats:?}\n expected {expected:?}")
            })?;
            if !deep {
                return Ok(());
            }
            // Every pending record, byte for byte; the files agree with the gauges.
            for (id, record) in &self.model.ready {
                let bytes = spool.read(id).map_err(|e| format!("read {id}: {e}"))?;
                ensure(bytes == record.body, || format!("{id}: body differs"))?;
            }
            let on_disk: u64 = fs::read_dir(self.dir.join("ready"))
                .map_err(|e| e.to_string())?
                .map(|e| e.and_then(|e| e.metadata()).map(|m| m.len()).unwrap_or(0))
                .sum();
            ensure(on_disk == stats.bytes, || {
                format!(
                    "files in ready/ hold {on_disk} bytes, stats say {}",
                    stats.bytes
                )
            })?;
            let dead: Vec<RecordId> = spool
                .dead_letters()
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|r| r.id)
                .collect();
            let want_dead: Vec<RecordId> = self.model.dead.keys().cloned().collect();
            ensure(dead == want_dead, || {
                format!("dead {dead:?}\n expected {want_dead:?}")
            })?;
            let files = names_in(&self.dir.join("ready"));
            for id in &self.model.gone {
                let back =
                    got.contains(&id) || dead.contains(id) || files.contains(&format!("{id}.rec"));
                ensure(!back, || {
                    format!("{id} was acknowledged or dropped, and came back")
                })?;
            }
            ensure(names_in(&self.dir.join("tmp")).is_empty(), || {
                "tmp/ not empty".into()
            })?;
            ensure(names_in(&self.dir.join("corrupt")).is_empty(), || {
                "corrupt/ not empty".into()
            })?;
            Ok(())
        }

        fn pick(&mut self, from: &BTreeMap<RecordId, ModelRecord>) -> Option<RecordId> {
            if from.is_empty() {
                return None;
            }
            // Mostly the oldest, as delivery does; sometimes any.
            let i = if self.rng.bool() {
                0
            } else {
                self.rng.usize(..from.len())
            };
            from.keys().nth(i).cloned()
        }

        fn enqueue(&mut self, spool: &mut Spool) -> Check {
            let body = self.new_body();
            let record = ModelRecord {
                body: body.clone(),
                created_ms: self.now_ms,
            };
            if record.size() > self.limits.max_bytes {
                return ensure(
                    matches!(
                        spool.enqueue(&body, self.now()),
                        Err(SpoolError::TooLarge { .. })
                    ),
                    || "expected TooLarge".into(),
                );
            }
            let id = spool
                .enqueue(&body, self.now())
                .map_err(|e| format!("enqueue: {e}"))?;
            let newest = self.model.ready.keys().chain(self.model.dead.keys()).max();
            ensure(newest.is_none_or(|n| *n < id), || {
                format!("{id} is not newer than {newest:?}")
            })?;
            self.model.ready.insert(id.clone(), record);
            self.model.enqueued += 1;
            let evicted = self.model.evict(self.limits, Some(&id));
            self.trace
                .push(format!("enqueue -> {id} (evicted {evicted})"));
            Ok(())
        }

        /// One crash at `point`, then a reopen; the model follows what the disk must hold.
        fn crash(&mut self, mut spool: Spool, point: CrashPoint) -> Result<Spool, String> {
            let mut removed_tmp = 0;
            match point {
                CrashPoint::EnqueueMidWrite
                | CrashPoint::EnqueueAfterTmpSync
                | CrashPoint::EnqueueAfterRename => {
                    let body = self.new_body();
                    let created_ms = self.now_ms;
                    let size = record_size(body.len(), created_ms);
                    if size > self.limits.max_bytes {
                        return Ok(spool);
                    }
                    spool.simulate_crash_at(point);
                    ensure(spool.enqueue(&body, self.now()).is_err(), || {
                        "crash point not reached".into()
                    })?;
                    drop(spool);
                    if point == CrashPoint::EnqueueAfterRename {
                        // Renamed but never acknowledged: recovered (at-least-once) as the newest.
                        let found: Vec<String> = names_in(&self.dir.join("ready"));
                        let known: BTreeSet<String> = self
                            .model
                            .ready
                            .keys()
                            .map(|id| format!("{id}.rec"))
                            .collect();
                        let new: Vec<&String> =
                            found.iter().filter(|n| !known.contains(*n)).collect();
                        ensure(new.len() == 1, || {
                            format!("expected one new file in ready/, found {new:?}")
                        })?;
                        let id = RecordId::parse(new[0]).map_err(|e| e.to_string())?;
                        self.model
                            .ready
                            .insert(id, ModelRecord { body, created_ms });
                    } else {
                        removed_tmp = 1;
                    }
                }
                CrashPoint::AckBeforeUnlink | CrashPoint::AckAfterUnlink => {
                    let Some(id) = self.pick(&self.model.ready.clone()) else {
                        return Ok(spool);
                    };
                    spool.simulate_crash_at(point);
                    ensure(spool.acknowledge(&id).is_err(), || {
                        "crash point not reached".into()
                    })?;
                    drop(spool);
                    if point == CrashPoint::AckAfterUnlink {
                        self.model.ready.remove(&id);
                        self.model.gone.insert(id);
                    }
                }
                CrashPoint::DeadAfterResponse | CrashPoint::DeadAfterRecordRename => {
                    let Some(id) = self.pick(&self.model.ready.clone()) else {
                        return Ok(spool);
                    };
                    spool.simulate_crash_at(point);
                    ensure(
                        spool.dead_letter(&id, 400, &[], "bad", self.now()).is_err(),
                        || "crash point not reached".into(),
                    )?;
                    drop(spool);
                    if point == CrashPoint::DeadAfterRecordRename {
                        let record = self.model.ready.remove(&id).ok_or("model")?;
                        self.model.dead.insert(id, record);
                    }
                }
                CrashPoint::RetryAfterRename => {
                    let Some(first) = self.model.dead.keys().next().cloned() else {
                        return Ok(spool);
                    };
                    spool.simulate_crash_at(point);
                    ensure(spool.retry_dead(None).is_err(), || {
                        "crash point not reached".into()
                    })?;
                    drop(spool);
                    let record = self.model.dead.remove(&first).ok_or("model")?;
                    self.model.ready.insert(first, record);
                }
            }
            self.trace.push(format!("crash at {point:?}"));
            self.reopen(removed_tmp)
        }

        fn step(&mut self, mut spool: Spool) -> Result<Spool, String> {
            self.now_ms += self.rng.u64(0..5_000);
            let roll = self.rng.u32(0..100);
            match roll {
                0..=34 => self.enqueue(&mut spool)?,
                35..=54 => {
                    if let Some(id) = self.pick(&self.model.ready.clone()) {
                        spool.acknowledge(&id).map_err(|e| format!("ack: {e}"))?;
                        self.model.ready.remove(&id);
                        self.model.gone.insert(id.clone());
                        self.model.acknowledged += 1;
                        self.trace.push(format!("ack {id}"));
                    }
                }
                55..=62 => {
                    if let Some(id) = self.pick(&self.model.ready.clone()) {
                        spool
                            .dead_letter(&id, 400, &[("x".into(), "y".into())], "no", self.now())
                            .map_err(|e| format!("dead letter: {e}"))?;
                        let record = self.model.ready.remove(&id).ok_or("model")?;
                        self.model.dead.insert(id.clone(), record);
                        self.model.dead_lettered += 1;
                        self.trace.push(format!("dead {id}"));
                    }
                }
                63..=67 => {
                    let one = self.rng.bool();
                    let target = if one {
                        self.model.dead.keys().next().cloned()
                    } else {
                        None
                    };
                    if one && target.is_none() {
                        return Ok(spool);
                    }
                    let moved = spool
                        .retry_dead(target.as_ref())
                        .map_err(|e| format!("retry: {e}"))?;
                    let ids: Vec<RecordId> = match target {
                        Some(id) => vec![id],
                        None => self.model.dead.keys().cloned().collect(),
                    };
                    ensure(moved == ids.len(), || {
                        format!("retry moved {moved}, expected {}", ids.len())
                    })?;
                    for id in ids {
                        let record = self.model.dead.remove(&id).ok_or("model")?;
                        self.model.ready.insert(id, record);
                        self.model.retried += 1;
                    }
                    self.trace
                        .push(format!("retry {}", if one { "one" } else { "all" }));
                }
                68..=71 => {
                    let dropped = spool.expire(self.now());
                    let n = self.model.expire(self.limits, self.now_ms);
                    ensure(
                        dropped.len() == n && dropped.iter().all(|(_, r)| *r == DropReason::Age),
                        || format!("expire dropped {dropped:?}, model {n}"),
                    )?;
                    self.trace.push(format!("expire -> {n}"));
                }
                72..=79 => {
                    drop(spool);
                    self.trace.push("reopen".into());
                    let mut spool = self.reopen(0)?;
                    self.check(&mut spool, true)?;
                    return Ok(spool);
                }
                _ => {
                    const POINTS: [CrashPoint; 8] = [
                        CrashPoint::EnqueueMidWrite,
                        CrashPoint::EnqueueAfterTmpSync,
                        CrashPoint::EnqueueAfterRename,
                        CrashPoint::AckBeforeUnlink,
                        CrashPoint::AckAfterUnlink,
                        CrashPoint::DeadAfterResponse,
                        CrashPoint::DeadAfterRecordRename,
                        CrashPoint::RetryAfterRename,
                    ];
                    let point = POINTS[self.rng.usize(..POINTS.len())];
                    let mut spool = self.crash(spool, point)?;
                    self.check(&mut spool, true)?;
                    return Ok(spool);
                }
            }
            self.check(&mut spool, false)?;
            Ok(spool)
        }
    }

    /// Which kinds of step a run took, so a test can tell it exercised what it claims.
    fn coverage(trace: &[String], into: &mut BTreeMap<String, usize>) {
        for line in trace {
            let kind = if line.starts_with("crash at ") {
                line.clone()
            } else if line.contains("(evicted 0)") || line == "expire -> 0" {
                line.split(' ').next().unwrap_or_default().to_owned()
            } else if line.contains("(evicted") {
                "evict".to_owned()
            } else if line.starts_with("expire") {
                "expired".to_owned()
            } else {
                line.split(' ')
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ")
                    .split(" 0")
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            };
            *into.entry(kind).or_default() += 1;
        }
    }

    fn run_seed(seed: u64, limits: SpoolLimits, ops: usize, seen: &mut BTreeMap<String, usize>) {
        let tmp = TempDir::new(&format!("prop{seed}"));
        let mut run = Run {
            seed,
            dir: tmp.spool(),
            limits,
            rng: fastrand::Rng::with_seed(seed),
            model: Model::default(),
            now_ms: T0_MS,
            next_body: 0,
            trace: Vec::new(),
        };
        let result = (|| -> Check {
            let mut spool = run.reopen(0)?;
            for _ in 0..ops {
                spool = run.step(spool)?;
            }
            drop(spool);
            let mut spool = run.reopen(0)?;
            run.check(&mut spool, true)
        })();
        if let Err(e) = result {
            let tail: Vec<&String> = run.trace.iter().rev().take(15).rev().collect();
            panic!("seed {seed}: {e}\nlast operations: {tail:#?}");
        }
        coverage(&run.trace, seen);
    }

    fn assert_covered(seen: &BTreeMap<String, usize>, kinds: &[&str]) {
        for kind in kinds {
            assert!(
                seen.get(*kind).is_some_and(|n| *n > 0),
                "no {kind:?} step in {seen:#?}"
            );
        }
        eprintln!("steps taken: {seen:?}");
    }

    const CRASHES: [&str; 8] = [
        "crash at EnqueueMidWrite",
        "crash at EnqueueAfterTmpSync",
        "crash at EnqueueAfterRename",
        "crash at AckBeforeUnlink",
        "crash at AckAfterUnlink",
        "crash at DeadAfterResponse",
        "crash at DeadAfterRecordRename",
        "crash at RetryAfterRename",
    ];

    fn seeds() -> u64 {
        std::env::var("VTCQ_SPOOL_SEEDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60)
    }

    #[test]
    fn random_operations_with_crashes_match_the_model() {
        let mut seen = BTreeMap::new();
        for seed in 0..seeds() {
            run_seed(seed, roomy(), 150, &mut seen);
        }
        assert_covered(&seen, &CRASHES);
        assert_covered(
            &seen,
            &["enqueue", "ack", "dead", "retry one", "retry all", "reopen"],
        );
    }

    #[test]
    fn random_operations_under_tight_bounds_match_the_model() {
        // About eight records fit; records live about a minute at the pace of the steps.
        let limits = SpoolLimits {
            max_bytes: 8 * record_size(150, T0_MS),
            max_age: Duration::from_secs(60),
        };
        let mut seen = BTreeMap::new();
        for seed in 1000..1000 + seeds() {
            run_seed(seed, limits, 150, &mut seen);
        }
        assert_covered(&seen, &CRASHES);
        assert_covered(&seen, &["evict", "expired", "retry all", "reopen"]);
    }
}
