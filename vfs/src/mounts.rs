//! The guest's mount table: which host directory or file stands behind each guest path.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// A guest path split into components (no empty, `.` or `..` components).
pub type Components = Vec<Vec<u8>>;

/// What a mount is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// A host directory or file (the root, `--bind`, `--tmpfs`'s private directory).
    Bind,
    /// The host's procfs, with the entries that would leak the host answered by lxrun.
    Proc,
}

/// One mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Where the guest sees it.
    pub guest: Components,
    /// What backs it on the host (absolute, canonical).
    pub host: PathBuf,
    pub readonly: bool,
    pub kind: MountKind,
    /// How it was asked for (`bind`, `tmpfs`, `proc`, `root`), for /proc/self/mounts.
    pub source: &'static str,
}

/// Splits a path into its meaningful components, dropping empty and `.` ones.
/// `..` is kept: only the walker knows what it means.
pub fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&c| c == b'/').filter(|c| !c.is_empty() && *c != b".")
}

/// `/a/b` for components `[a, b]`; `/` for none.
pub fn join(comps: &[Vec<u8>]) -> Vec<u8> {
    if comps.is_empty() {
        return b"/".to_vec();
    }
    let mut out = Vec::new();
    for c in comps {
        out.push(b'/');
        out.extend_from_slice(c);
    }
    out
}

/// The mount table. The root mount (guest `/`) is always present.
#[derive(Clone, Debug)]
pub struct MountTable {
    /// Sorted by guest depth, deepest first, so the first match is the longest prefix.
    mounts: Vec<Mount>,
}

impl MountTable {
    /// A table whose `/` is `root` on the host.
    pub fn new(root: PathBuf) -> MountTable {
        MountTable {
            mounts: vec![Mount {
                guest: Vec::new(),
                host: root,
                readonly: false,
                kind: MountKind::Bind,
                source: "root",
            }],
        }
    }

    /// Adds (or replaces) a mount at `guest` (an absolute guest path without `..`).
    pub fn add(&mut self, guest: &[u8], host: PathBuf, readonly: bool, kind: MountKind, source: &'static str) {
        let guest: Components = components(guest).map(<[u8]>::to_vec).collect();
        self.mounts.retain(|m| m.guest != guest);
        self.mounts.push(Mount {
            guest,
            host,
            readonly,
            kind,
            source,
        });
        self.mounts.sort_by_key(|m| std::cmp::Reverse(m.guest.len()));
    }

    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    /// True when the guest sees the host's filesystem unchanged: a host `/` and no other mount
    /// than the host's own /proc.
    pub fn is_identity(&self) -> bool {
        self.mounts.iter().all(|m| {
            (m.guest.is_empty() && m.host == Path::new("/"))
                || (m.kind == MountKind::Proc && m.guest == [b"proc".to_vec()] && m.host == Path::new("/proc"))
        })
    }

    /// The mount holding guest path `comps`, and how many of its components name the mount point.
    pub fn find(&self, comps: &[Vec<u8>]) -> (&Mount, usize) {
        for m in &self.mounts {
            if comps.starts_with(&m.guest) {
                return (m, m.guest.len());
            }
        }
        // The root mount matches everything; it is never removed.
        let root = self.mounts.last().expect("the root mount is always present");
        (root, 0)
    }

    /// The host path behind guest path `comps`.
    pub fn host_of(&self, comps: &[Vec<u8>]) -> PathBuf {
        let (m, depth) = self.find(comps);
        let mut p = m.host.clone();
        for c in &comps[depth..] {
            p.push(OsStr::from_bytes(c));
        }
        p
    }

    /// Whether some mount point lies strictly below guest path `comps` (so a missing directory
    /// there still has to appear, as PRoot's glue directories do).
    pub fn has_mount_below(&self, comps: &[Vec<u8>]) -> bool {
        self.mounts
            .iter()
            .any(|m| m.guest.len() > comps.len() && m.guest.starts_with(comps))
    }

    /// Reverse translation: the guest path that names host path `host`, if the guest can see it.
    /// The mount with the longest matching host prefix wins (a bind inside the root is named
    /// through its mount point).
    pub fn guest_of(&self, host: &Path) -> Option<Vec<u8>> {
        let mut best: Option<(&Mount, usize)> = None;
        for m in self.mounts.iter().filter(|m| host.starts_with(&m.host)) {
            let depth = m.host.components().count();
            if best.is_none_or(|(_, d)| depth > d) {
                best = Some((m, depth));
            }
        }
        let (m, _) = best?;
        let rest = host.strip_prefix(&m.host).ok()?;
        let mut comps = m.guest.clone();
        for c in rest.components() {
            match c {
                Component::Normal(s) => comps.push(s.as_bytes().to_vec()),
                _ => return None,
            }
        }
        Some(join(&comps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> MountTable {
        let mut t = MountTable::new("/srv/root".into());
        t.add(b"/proc", "/proc".into(), false, MountKind::Proc, "proc");
        t.add(b"/mnt/data", "/home/u/data".into(), true, MountKind::Bind, "bind");
        t.add(b"/etc/hosts", "/etc/hosts".into(), false, MountKind::Bind, "bind");
        t
    }

    fn c(p: &[u8]) -> Components {
        components(p).map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn longest_guest_prefix_wins() {
        let t = table();
        assert_eq!(t.host_of(&c(b"/usr/bin/sh")), PathBuf::from("/srv/root/usr/bin/sh"));
        assert_eq!(t.host_of(&c(b"/mnt/data/x")), PathBuf::from("/home/u/data/x"));
        assert_eq!(t.host_of(&c(b"/mnt")), PathBuf::from("/srv/root/mnt"));
        assert_eq!(t.host_of(&c(b"/etc/hosts")), PathBuf::from("/etc/hosts"));
        assert_eq!(t.host_of(&c(b"/")), PathBuf::from("/srv/root"));
        assert!(t.find(&c(b"/mnt/data/y")).0.readonly);
        assert!(t.has_mount_below(&c(b"/mnt")));
        assert!(!t.has_mount_below(&c(b"/mnt/data")));
    }

    #[test]
    fn reverse_translation() {
        let t = table();
        assert_eq!(t.guest_of(Path::new("/srv/root/usr/lib")), Some(b"/usr/lib".to_vec()));
        assert_eq!(t.guest_of(Path::new("/srv/root")), Some(b"/".to_vec()));
        assert_eq!(t.guest_of(Path::new("/home/u/data/f")), Some(b"/mnt/data/f".to_vec()));
        assert_eq!(t.guest_of(Path::new("/home/u/other")), None);
        assert_eq!(
            t.guest_of(Path::new("/proc/1/status")),
            Some(b"/proc/1/status".to_vec())
        );
        assert!(!t.is_identity());
        let mut id = MountTable::new("/".into());
        id.add(b"/proc", "/proc".into(), false, MountKind::Proc, "proc");
        assert!(id.is_identity());
        assert_eq!(id.guest_of(Path::new("/etc/passwd")), Some(b"/etc/passwd".to_vec()));
    }
}
