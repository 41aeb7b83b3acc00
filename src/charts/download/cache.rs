//! The last few downloaded archives, so an upgrade PR, its promotion and
//! the pull-request check of the same version do not fetch it again.
//!
//! Entries never expire: a published chart version is immutable for Helm
//! and Argo CD alike (Argo CD's repo server caches charts by version too),
//! so a repository that republishes one is already not deployed faithfully.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::Downloaded;

/// Archives kept; an upgrade pass touches a handful of charts, each with a
/// current and a target version.
pub const MAX_CACHED_ARCHIVES: usize = 16;

/// Bytes kept across all entries (archives and provenance), so a run of
/// large charts cannot pin much memory.
pub const MAX_CACHED_BYTES: usize = 64 * 1024 * 1024;

/// (repository as pinned, chart, version).
pub(crate) type Key = (Option<String>, String, String);

/// A download and whether its `.prov` was asked for (`None` then means
/// the repository has none).
type Entry = (Key, bool, Arc<Downloaded>);

/// Most recently used last.
#[derive(Debug, Default)]
pub(crate) struct ArchiveCache {
    entries: Mutex<VecDeque<Entry>>,
}

impl ArchiveCache {
    /// A cached download; one made without asking for the `.prov` does
    /// not answer a request that asks for it.
    pub fn get(&self, key: &Key, with_provenance: bool) -> Option<Arc<Downloaded>> {
        let mut entries = self.lock();
        let at = entries.iter().position(|(k, _, _)| k == key)?;
        let entry = entries.remove(at)?;
        let hit = (!with_provenance || entry.1).then(|| entry.2.clone());
        entries.push_back(entry);
        hit
    }

    pub fn put(&self, key: Key, with_provenance: bool, downloaded: Arc<Downloaded>) {
        let size = |d: &Downloaded| d.bytes.len() + d.provenance.as_ref().map_or(0, Vec::len);
        if size(&downloaded) > MAX_CACHED_BYTES {
            return;
        }
        let mut entries = self.lock();
        entries.retain(|(k, _, _)| k != &key);
        entries.push_back((key, with_provenance, downloaded));
        let mut total: usize = entries.iter().map(|(_, _, d)| size(d)).sum();
        while entries.len() > MAX_CACHED_ARCHIVES || total > MAX_CACHED_BYTES {
            match entries.pop_front() {
                Some((_, _, old)) => total = total.saturating_sub(size(&old)),
                None => break,
            }
        }
    }

    /// A poisoned cache is still a valid cache: entries are written whole.
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(version: &str) -> Key {
        (Some("https://a.io".into()), "app".into(), version.into())
    }

    fn archive(len: usize) -> Arc<Downloaded> {
        Arc::new(Downloaded {
            bytes: vec![0; len],
            provenance: None,
            url: String::new(),
        })
    }

    #[test]
    fn least_recently_used_entries_go_first_by_count_and_by_bytes() {
        let cache = ArchiveCache::default();
        for i in 0..MAX_CACHED_ARCHIVES {
            cache.put(key(&i.to_string()), false, archive(1));
        }
        assert!(cache.get(&key("0"), false).is_some(), "refreshes 0");
        cache.put(key("new"), false, archive(1));
        assert!(cache.get(&key("1"), false).is_none(), "1 was the oldest");
        assert!(cache.get(&key("0"), false).is_some());

        let half = MAX_CACHED_BYTES / 2;
        cache.put(key("a"), false, archive(half));
        cache.put(key("b"), false, archive(half));
        cache.put(key("c"), false, archive(1));
        assert!(
            cache.get(&key("a"), false).is_none(),
            "over the byte budget"
        );
        assert!(cache.get(&key("b"), false).is_some());
        cache.put(key("huge"), false, archive(MAX_CACHED_BYTES + 1));
        assert!(cache.get(&key("huge"), false).is_none(), "never kept");
        assert!(cache.get(&key("b"), false).is_some(), "and evicts nothing");
    }

    #[test]
    fn an_entry_fetched_without_its_prov_does_not_answer_a_request_for_it() {
        let cache = ArchiveCache::default();
        cache.put(key("1"), false, archive(1));
        // Asked for, and the repository had none: that answer is kept.
        cache.put(key("2"), true, archive(1));
        assert!(cache.get(&key("1"), true).is_none());
        assert!(cache.get(&key("1"), false).is_some());
        assert!(cache.get(&key("2"), true).is_some());
        assert!(cache.get(&key("2"), false).is_some());
    }
}
