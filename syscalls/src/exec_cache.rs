//! What execve learned of a file's content (its `#!` line or parsed ELF headers), kept for the
//! next exec of the same unchanged file so that its headers are not read and parsed again.
//!
//! Only content is kept: each exec still walks the path, opens the file and checks its type and
//! the caller's permissions. An entry is found by the file's identity and change times, taken
//! from one fstat of the descriptor that exec's walk just opened ([`FileKey`]); any write,
//! truncation, rename over or touch changes the key. A file changed in the last
//! [`SETTLE`] is not kept: two same-size writes within one tick of the filesystem's clock
//! (coarse, a few ms) leave the same times, so a key is trusted only once that tick is past.

use lxrun_loader::elf::ElfImage;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many files are kept: an exec-heavy loop runs a handful of programs and one or two
/// interpreters.
pub const CAPACITY: usize = 64;

/// How long a file must have been unchanged before what was read of it is kept.
pub const SETTLE: Duration = Duration::from_secs(2);

/// A file's identity and change times, as one fstat reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileKey {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    /// (seconds, nanoseconds) since the epoch.
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl FileKey {
    pub fn of(meta: &std::fs::Metadata) -> FileKey {
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether both times lie at least [`SETTLE`] before `now` (a time in the future, set by
    /// utimensat or a skewed clock, never does).
    pub fn settled(&self, now: SystemTime) -> bool {
        let Ok(now) = now.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let limit = now.saturating_sub(SETTLE);
        [self.mtime, self.ctime].iter().all(|&(s, ns)| {
            u64::try_from(s)
                .ok()
                .zip(u32::try_from(ns).ok())
                .is_some_and(|(s, ns)| Duration::new(s, ns) <= limit)
        })
    }
}

/// Which parse a file got: a program's (its PT_INTERP read) or an interpreter's (PT_INTERP
/// ignored, any ELF type accepted until load).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Program,
    Interpreter,
}

/// What was learned of a file.
#[derive(Debug, PartialEq, Eq)]
pub enum Known {
    Elf(ElfImage),
    /// Not ELF: its first bytes (up to `script::PREFIX_LEN`), for the `#!` parse.
    Script(Vec<u8>),
}

struct Entry<V> {
    key: FileKey,
    role: Role,
    value: V,
    /// The `tick` of its last use: the least recently used entry goes first.
    used: u64,
}

/// A small least-recently-used map from (file, role) to what was learned.
pub struct ExecCache<V = Arc<Known>> {
    inner: Mutex<Inner<V>>,
}

struct Inner<V> {
    entries: Vec<Entry<V>>,
    tick: u64,
}

impl<V: Clone> Default for ExecCache<V> {
    fn default() -> Self {
        ExecCache {
            inner: Mutex::new(Inner {
                entries: Vec::new(),
                tick: 0,
            }),
        }
    }
}

impl<V: Clone> ExecCache<V> {
    /// The value kept for `key` in `role`, else what `learn` finds (kept if the file has
    /// settled by `now`; a failure is never kept).
    pub fn get_or_learn<E>(
        &self,
        key: &FileKey,
        role: Role,
        now: SystemTime,
        learn: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        if let Some(v) = self.get(key, role) {
            tracing::debug!(target: "exec_cache", dev = key.dev, ino = key.ino, ?role, "read before, unchanged");
            return Ok(v);
        }
        // Learned without the lock: another worker's exec need not wait for this one's reads.
        let value = learn()?;
        if key.settled(now) {
            self.insert(*key, role, value.clone());
        }
        Ok(value)
    }

    fn get(&self, key: &FileKey, role: Role) -> Option<V> {
        let mut inner = crate::world::lock(&self.inner);
        inner.tick += 1;
        let tick = inner.tick;
        let e = inner.entries.iter_mut().find(|e| e.key == *key && e.role == role)?;
        e.used = tick;
        Some(e.value.clone())
    }

    fn insert(&self, key: FileKey, role: Role, value: V) {
        let mut inner = crate::world::lock(&self.inner);
        inner.tick += 1;
        let used = inner.tick;
        let entries = &mut inner.entries;
        // Another worker may have learned it meanwhile; an older key of the same file is stale.
        entries.retain(|e| !(e.key.dev == key.dev && e.key.ino == key.ino && e.role == role));
        if entries.len() >= CAPACITY {
            if let Some(oldest) = entries.iter().enumerate().min_by_key(|(_, e)| e.used).map(|(i, _)| i) {
                entries.swap_remove(oldest);
            }
        }
        entries.push(Entry { key, role, value, used });
    }

    /// How many entries are kept.
    pub fn len(&self) -> usize {
        crate::world::lock(&self.inner).entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn key(ino: u64, size: u64, mtime: i64) -> FileKey {
        FileKey {
            dev: 1,
            ino,
            size,
            mtime: (mtime, 0),
            ctime: (mtime, 0),
        }
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// `cache`'s value for `k`, learning `v` on a miss; and whether it was learned.
    fn lookup(cache: &ExecCache<u32>, k: &FileKey, role: Role, v: u32) -> (u32, bool) {
        let mut learned = false;
        let got = cache
            .get_or_learn(k, role, at(1000), || {
                learned = true;
                Ok::<_, ()>(v)
            })
            .unwrap_or(0);
        (got, learned)
    }

    #[test]
    fn a_kept_file_is_not_read_again() {
        let cache = ExecCache::<u32>::default();
        assert_eq!(lookup(&cache, &key(1, 10, 5), Role::Program, 7), (7, true));
        assert_eq!(lookup(&cache, &key(1, 10, 5), Role::Program, 8), (7, false));
    }

    #[test]
    fn any_change_of_size_or_time_is_a_miss() {
        let cache = ExecCache::<u32>::default();
        let old = key(1, 10, 5);
        lookup(&cache, &old, Role::Program, 7);
        for changed in [
            key(1, 11, 5),
            key(1, 10, 6),
            FileKey { ctime: (5, 1), ..old },
            FileKey { mtime: (5, 1), ..old },
            FileKey { dev: 2, ..old },
            key(2, 10, 5),
        ] {
            assert_eq!(lookup(&cache, &changed, Role::Program, 8), (8, true), "{changed:?}");
        }
        // The newer key of the same file replaced the older one.
        assert_eq!(lookup(&cache, &old, Role::Program, 9), (9, true));
    }

    #[test]
    fn a_program_and_an_interpreter_parse_are_apart() {
        let cache = ExecCache::<u32>::default();
        lookup(&cache, &key(1, 10, 5), Role::Program, 7);
        assert_eq!(lookup(&cache, &key(1, 10, 5), Role::Interpreter, 8), (8, true));
        assert_eq!(lookup(&cache, &key(1, 10, 5), Role::Program, 0), (7, false));
    }

    #[test]
    fn failures_and_recent_files_are_not_kept() {
        let cache = ExecCache::<u32>::default();
        assert_eq!(
            cache.get_or_learn(&key(1, 10, 5), Role::Program, at(1000), || Err(1)),
            Err(1)
        );
        assert!(cache.is_empty());
        // Changed within SETTLE of now, or in the future: another same-size write could still
        // leave the same times.
        for recent in [key(1, 10, 999), key(1, 10, 1000), key(1, 10, 5000)] {
            cache
                .get_or_learn(&recent, Role::Program, at(1000), || Ok::<_, ()>(1))
                .ok();
        }
        assert!(cache.is_empty());
        cache
            .get_or_learn(&key(1, 10, 998), Role::Program, at(1000), || Ok::<_, ()>(1))
            .ok();
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_least_recently_used_goes_first() {
        let cache = ExecCache::<u32>::default();
        for ino in 0..CAPACITY as u64 {
            lookup(&cache, &key(ino, 1, 5), Role::Program, ino as u32);
        }
        // Inode 0 is used again: inode 1 is now the oldest, and goes for the new one.
        assert_eq!(lookup(&cache, &key(0, 1, 5), Role::Program, 99), (0, false));
        lookup(&cache, &key(1000, 1, 5), Role::Program, 1000);
        assert_eq!(cache.len(), CAPACITY);
        assert_eq!(lookup(&cache, &key(0, 1, 5), Role::Program, 99), (0, false));
        assert_eq!(lookup(&cache, &key(1, 1, 5), Role::Program, 99), (99, true));
    }

    #[test]
    fn a_rewrite_in_place_of_the_same_size_changes_the_key() {
        let path = std::env::temp_dir().join(format!("lxrun-exec-cache-{}", std::process::id()));
        let mut f = std::fs::File::create(&path).expect("create");
        f.write_all(b"#!/bin/sh\necho one\n").expect("write");
        f.set_modified(at(1_000_000)).expect("utimes");
        let before = FileKey::of(&f.metadata().expect("stat"));
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).expect("reopen");
        f.write_all(b"#!/bin/sh\necho two\n").expect("rewrite");
        f.set_modified(at(1_000_001)).expect("utimes");
        let after = FileKey::of(&f.metadata().expect("stat"));
        std::fs::remove_file(&path).ok();
        assert_eq!(
            (before.dev, before.ino, before.size),
            (after.dev, after.ino, after.size)
        );
        assert_ne!(before, after);
        assert_eq!(before.mtime, (1_000_000, 0));
        // Its ctime is now: not settled yet.
        assert!(!after.settled(SystemTime::now()));
        assert!(after.settled(SystemTime::now() + 2 * SETTLE));
    }
}
