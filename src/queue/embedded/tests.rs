#![allow(clippy::unwrap_used)] // tests fail loudly by design

use super::store::{self, HandOut, Next};
use crate::queue::seen::SEEN_TTL;

fn db() -> (tempfile::TempDir, redb::Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = store::open(&dir.path().join("q.redb")).unwrap();
    (dir, db)
}

fn ready(db: &redb::Database) -> usize {
    let mut n = 0;
    let mut seen = std::collections::HashSet::new();
    while let Next::Due(key, _) =
        store::next_ready(db, u64::MAX, store::unless(|k| seen.contains(k))).unwrap()
    {
        seen.insert(key);
        n += 1;
    }
    n
}

const T0: u64 = 1_700_000_000_000;

fn ttl_ms() -> u64 {
    u64::try_from(SEEN_TTL.as_millis()).unwrap()
}

#[test]
fn a_key_is_queued_once_until_it_expires() {
    let (_dir, db) = db();
    assert!(store::publish(&db, "github:a", b"1", T0).unwrap());
    assert!(
        !store::publish(&db, "github:a", b"2", T0 + 1).unwrap(),
        "replay"
    );
    assert!(store::publish(&db, "github:b", b"3", T0 + 2).unwrap());
    assert_eq!(ready(&db), 2);
    assert!(
        store::publish(&db, "github:a", b"4", T0 + ttl_ms()).unwrap(),
        "remembered for SEEN_TTL only"
    );
    assert_eq!(ready(&db), 3);
}

#[test]
fn jobs_without_a_key_are_always_queued() {
    let (_dir, db) = db();
    assert!(store::publish(&db, "", b"1", T0).unwrap());
    assert!(store::publish(&db, "", b"2", T0).unwrap());
    assert_eq!(ready(&db), 2);
    assert_eq!(store::seen_count(&db).unwrap(), 0);
}

#[test]
fn expired_and_surplus_keys_are_pruned() {
    let (_dir, db) = db();
    for i in 0..5 {
        store::publish_within(&db, &format!("k{i}"), b"x", T0 + i, 3).unwrap();
    }
    assert_eq!(store::seen_count(&db).unwrap(), 3, "count bound");
    assert!(
        store::publish_within(&db, "k0", b"x", T0 + 10, 3).unwrap(),
        "the oldest key was forgotten"
    );
    assert!(!store::publish_within(&db, "k4", b"x", T0 + 10, 3).unwrap());
    store::publish_within(&db, "late", b"x", T0 + 10 + ttl_ms(), 3).unwrap();
    assert_eq!(store::seen_count(&db).unwrap(), 1, "all others expired");
}

#[test]
fn a_key_queued_again_after_expiry_is_not_erased_by_its_old_entry() {
    let (_dir, db) = db();
    store::publish(&db, "k", b"x", T0).unwrap();
    store::publish(&db, "k", b"x", T0 + ttl_ms()).unwrap();
    // The old entry of `k` is pruned by this publish; the new one stays.
    store::publish(&db, "other", b"x", T0 + ttl_ms() + 1).unwrap();
    assert!(!store::publish(&db, "k", b"x", T0 + ttl_ms() + 2).unwrap());
}

#[test]
fn hand_outs_without_an_outcome_park_the_job_at_the_limit() {
    let (_dir, db) = db();
    store::publish(&db, "k", b"poison", T0).unwrap();
    let Next::Due(key, body) = store::next_ready(&db, u64::MAX, store::unless(|_| false)).unwrap()
    else {
        panic!("no job");
    };
    for earlier in 0..3 {
        assert_eq!(
            store::record_hand_out(&db, key, &body, 3).unwrap(),
            HandOut::Go { earlier }
        );
    }
    let HandOut::Parked(parked) = store::record_hand_out(&db, key, &body, 3).unwrap() else {
        panic!("not parked");
    };
    assert!(
        parked.reason.starts_with("crashed the worker 3 times"),
        "{}",
        parked.reason
    );
    assert_eq!(parked.body, "poison");
    assert_eq!(ready(&db), 0);
    assert_eq!(store::parked(&db).unwrap(), vec![parked]);
}

#[test]
fn an_outcome_clears_the_hand_out_count() {
    let (_dir, db) = db();
    store::publish(&db, "k", b"job", T0).unwrap();
    let Next::Due(key, body) = store::next_ready(&db, u64::MAX, store::unless(|_| false)).unwrap()
    else {
        panic!("no job");
    };
    store::record_hand_out(&db, key, &body, 1).unwrap();
    // A retry: the entry is replaced by a new one, which starts afresh.
    let txn = db.begin_write().unwrap();
    store::remove_ready(&txn, key).unwrap();
    store::insert_ready(&txn, T0, &body).unwrap();
    txn.commit().unwrap();
    let Next::Due(next, _) = store::next_ready(&db, u64::MAX, store::unless(|_| false)).unwrap()
    else {
        panic!("no job");
    };
    assert_eq!(
        store::record_hand_out(&db, next, &body, 1).unwrap(),
        HandOut::Go { earlier: 0 }
    );
}

#[test]
fn garbage_is_a_damaged_store_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.redb");
    std::fs::write(&file, vec![0x5a; 64 * 1024]).unwrap();
    let e = store::open(&file).err().unwrap();
    assert_eq!(e.exit_code(), Some(crate::queue::EXIT_STORE_DAMAGED), "{e}");
    let text = e.to_string();
    assert!(text.contains(&file.display().to_string()), "{text}");
    assert!(text.contains("move the file aside"), "{text}");
}

#[test]
fn a_truncated_store_is_damaged_or_repaired_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.redb");
    {
        let db = store::open(&file).unwrap();
        for i in 0..50 {
            store::publish(&db, &format!("k{i}"), &[b'x'; 2000], T0 + i).unwrap();
        }
    }
    let whole = std::fs::read(&file).unwrap();
    for keep in [
        0,
        100,
        512,
        4096,
        whole.len() / 3,
        whole.len() / 2,
        whole.len() - 1,
    ] {
        std::fs::write(&file, &whole[..keep]).unwrap();
        match store::open(&file) {
            Ok(_) => eprintln!("truncated to {keep} of {}: opened", whole.len()),
            Err(e) => {
                eprintln!("truncated to {keep} of {}: {e}", whole.len());
                assert_eq!(
                    e.exit_code(),
                    Some(crate::queue::EXIT_STORE_DAMAGED),
                    "{keep}: {e}"
                );
            }
        }
    }
}
