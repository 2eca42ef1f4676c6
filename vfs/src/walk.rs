//! The path walker: resolves a guest path component by component against the mount table,
//! following symlinks inside the guest (absolute targets start again at the guest's root),
//! never letting `..` climb above that root (or, for a lookup confined beneath it, failing
//! with EXDEV where it would leave it), and answering /proc's magic links for the guest.

use crate::mounts::{join, Components, MountKind};
use crate::{Errno, Guests, Opened, Resolved, Special, Vfs};

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// Linux gives up after 40 symlinks in one lookup.
pub const MAX_SYMLINKS: usize = 40;
/// Linux's NAME_MAX.
const NAME_MAX: usize = 255;

/// What /proc says about an entry, for the guest.
enum ProcEntry {
    /// Not special: look it up on the host.
    Plain,
    /// A symlink whose target (guest path, absolute or relative) lxrun supplies.
    Link(Vec<u8>),
    /// An object the guest holds that no guest path names (a pipe, a deleted file): use the
    /// host's magic link itself.
    Host(PathBuf),
    /// Not for the guest to see (the supervisor, or another process's root/cwd/fds).
    Denied,
}

pub(crate) struct Walk<'a> {
    pub vfs: &'a Vfs,
    pub guests: &'a dyn Guests,
    pub root: Components,
    /// openat2's RESOLVE_BENEATH: the lookup may not leave `root` at all. An absolute path or
    /// symlink, or a `..` at the root, is EXDEV (as Linux answers) instead of starting again at
    /// the root or staying there.
    pub beneath: bool,
    /// The call acts on the final name itself (creates, removes or renames it): its last
    /// component is never followed, even before a trailing slash, and the kernel's call on the
    /// entry (which keeps the slash) gives Linux's answer for it (EEXIST, EISDIR, ENOTDIR).
    pub entry_only: bool,
}

/// Where a relative lookup starts: a guest directory, and its descriptor when the caller has
/// it (the thread's real cwd or dirfd); without one it is opened from the root.
#[derive(Default)]
pub(crate) struct Start {
    pub comps: Components,
    pub fd: Option<Opened>,
}

/// One component, looked up in its directory.
enum Found {
    Dir(Opened),
    /// A directory lxrun makes up on the way to a mount point.
    Glue(Opened),
    /// A symlink (opened itself, where the lookup opened it) and its target.
    Link(Option<Opened>, Vec<u8>),
    Other(Opened),
    Missing,
}

/// A lookup's entry left for later: the directory, walked again by the kernel's confined
/// lookup from the same base when a call needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LaterEntry {
    base: Opened,
    dir: Vec<u8>,
    name: Vec<u8>,
    resolve: u64,
}

impl LaterEntry {
    fn open_dir(&self) -> Option<Opened> {
        openat2(&self.base, &self.dir, libc::O_PATH | libc::O_DIRECTORY, self.resolve).ok()
    }

    pub(crate) fn open(&self) -> Option<(Opened, Vec<u8>)> {
        Some((self.open_dir()?, self.name.clone()))
    }
}

/// What the kernel-assisted shortcut found.
enum Fast {
    Done(Resolved),
    /// The path's directory, and the target of the symlink its last name is.
    Link(Start, Vec<u8>),
    /// Nothing the walker can use.
    No,
}

/// The directories of a walk so far: `dirs[i]` is the one at guest path `cur[..i]`, opened
/// when the walk came through it (or later, from the root, when `..` climbs above where it
/// started). Each step opens the next name relative to the descriptor it came from, so a
/// rename or symlink swap on the way cannot take the walk anywhere the guest could not go.
struct Dirs(Vec<Option<Opened>>, Vec<bool>);

impl Walk<'_> {
    /// Resolves `path` starting from guest directory `start` (used for relative paths).
    pub fn resolve(&self, start: Start, path: &[u8], follow_last: bool) -> Result<Resolved, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= crate::PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if self.beneath && path[0] == b'/' {
            return Err(Errno::EXDEV);
        }
        // The kernel's walk, as long as it meets no symlink but a final one, which is spliced in
        // (named from the root) for the next try; the walker takes over where it cannot go.
        let (mut start, mut path, mut links) = (start, path.to_vec(), 0);
        loop {
            let (from, target) = match self.fast(&start, &path, follow_last) {
                Fast::Done(r) => return Ok(r),
                Fast::No => break,
                Fast::Link(from, target) => (from, target),
            };
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(Errno::ELOOP);
            }
            let spliced = if target.first() == Some(&b'/') {
                target.clone()
            } else {
                let mut p = join(&from.comps);
                p.push(b'/');
                p.extend_from_slice(&target);
                p
            };
            if target.is_empty() || spliced.len() >= crate::PATH_MAX || ends_as_dir(&target) {
                // The walker's errors and trailing-slash rules.
                (start, path) = (from, target);
                break;
            }
            (start, path) = (Start::default(), spliced);
        }
        let path = path.as_slice();
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let (mut cur, mut dirs) = if path[0] == b'/' {
            (self.root.clone(), Dirs::unopened(self.root.len() + 1))
        } else {
            let mut dirs = Dirs::unopened(start.comps.len());
            dirs.push(start.fd, false);
            (start.comps, dirs)
        };
        let mut pending: Vec<Vec<u8>> = split(path);
        pending.reverse(); // popped from the end
        let mut must_be_dir = ends_as_dir(path);
        let mut exists = true;
        let mut object: Option<Opened> = None;
        let mut host_override: Option<PathBuf> = None;

        while let Some(c) = pending.pop() {
            if c == b".." {
                if cur.len() > self.root.len() {
                    cur.pop();
                    dirs.pop();
                } else if self.beneath {
                    return Err(Errno::EXDEV);
                }
                object = None;
                continue;
            }
            if c.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            let last = pending.is_empty();
            // Below a glue directory, what is not a mount is glue too.
            let under_glue = dirs.in_glue();
            cur.push(c);
            object = None;
            let link = match self.proc_entry(&cur) {
                ProcEntry::Denied => return Err(Errno::ENOENT),
                ProcEntry::Host(p) => {
                    if last {
                        // The magic link followed: the pipe, socket or deleted file itself.
                        object = Some(open_at_path(&p, libc::O_PATH)?);
                        host_override = Some(p);
                        dirs.push(None, false);
                        break;
                    }
                    // A deleted directory on the way (/proc/self/fd/N/..): nothing is in it,
                    // but `..` leads to its parent, which has a name again.
                    let dir = open_at_path(&p, libc::O_PATH | libc::O_DIRECTORY).map_err(|_| Errno::ENOTDIR)?;
                    if pending.last().map(Vec::as_slice) != Some(b"..".as_slice()) {
                        return Err(Errno::ENOENT);
                    }
                    pending.pop();
                    let parent = open_at(&dir, b"..", libc::O_PATH | libc::O_DIRECTORY)?;
                    let guest = self.vfs.guest_of_dir(&parent).ok_or(Errno::ENOENT)?;
                    cur = crate::comps(&guest);
                    if !cur.starts_with(&self.root) {
                        return Err(Errno::ENOENT);
                    }
                    dirs = Dirs::unopened(cur.len());
                    dirs.push(Some(parent), false);
                    continue;
                }
                ProcEntry::Link(target) => Some((None, target)),
                ProcEntry::Plain => match self.lookup(&cur, &mut dirs, last)? {
                    Found::Link(fd, target) => Some((fd, target)),
                    found @ (Found::Dir(_) | Found::Glue(_)) => {
                        let glue =
                            matches!(found, Found::Glue(_)) || (under_glue && self.vfs.mount_root(&cur).is_none());
                        let (Found::Dir(fd) | Found::Glue(fd)) = found else {
                            return Err(Errno::ENOENT);
                        };
                        object = Some(fd.clone());
                        dirs.push(Some(fd), glue);
                        None
                    }
                    Found::Other(fd) => {
                        if !last {
                            return Err(Errno::ENOTDIR);
                        }
                        object = Some(fd);
                        dirs.push(None, false);
                        None
                    }
                    Found::Missing if last => {
                        exists = false;
                        dirs.push(None, false);
                        None
                    }
                    Found::Missing => return Err(Errno::ENOENT),
                },
            };
            if let Some((link_fd, target)) = link {
                if last && (self.entry_only || (!follow_last && !must_be_dir)) {
                    object = link_fd;
                    if object.is_none() {
                        // /proc's own links (self, PID/cwd, ...): the host's entry, not followed.
                        object = self.lookup_plain(&cur, &mut dirs).ok().flatten().map(|(o, _)| o);
                    }
                    dirs.push(None, false);
                    break;
                }
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                cur.pop();
                if target[0] == b'/' {
                    if self.beneath {
                        return Err(Errno::EXDEV);
                    }
                    cur = self.root.clone();
                    dirs.truncate(self.root.len() + 1);
                }
                if last {
                    must_be_dir |= ends_as_dir(&target);
                }
                pending.extend(split(&target).into_iter().rev());
                // What is left may well have no symlink (merged /usr's /lib, /bin): the kernel's
                // confined walk does it in one call, or says it cannot.
                if self.root.is_empty() && !self.beneath && !must_be_dir {
                    let mut rest = Vec::new();
                    for c in cur.iter().chain(pending.iter().rev()) {
                        rest.push(b'/');
                        rest.extend_from_slice(c);
                    }
                    if !rest.is_empty() {
                        if let Fast::Done(r) = self.fast(&Start::default(), &rest, follow_last) {
                            return Ok(r);
                        }
                    }
                }
            }
        }

        // The walk ended on a directory it had already (`.`, `..`, `/`): that one, whose entry
        // is its own `.` (it may be deleted, or a mount's root, and have no name).
        let ended_on_dir = object.is_none() && exists && host_override.is_none();
        if ended_on_dir {
            object = Some(dirs.at(self, &cur)?);
        }
        if must_be_dir && exists && !self.entry_only {
            if let Some(o) = &object {
                if !o.metadata().is_ok_and(|m| m.is_dir()) {
                    return Err(Errno::ENOTDIR);
                }
            }
        }
        let magic = host_override.is_some();
        let glue = exists && dirs.in_glue();
        let host = match host_override {
            Some(h) => h,
            None if glue => self.vfs.glue_path(&cur),
            None => self.vfs.mounts.host_of(&cur),
        };
        // A glue directory is no name in the directory before it either: like a mount's root.
        let mount_root = cur.len() == self.root.len() || self.vfs.mount_root(&cur).is_some() || glue;
        let entry = if magic {
            None
        } else if mount_root || ended_on_dir {
            // A directory's own `.`; a file mount has no entry of its own.
            object
                .as_ref()
                .filter(|o| o.metadata().is_ok_and(|m| m.is_dir()))
                .map(|o| (o.clone(), b".".to_vec()))
        } else {
            let mut name = cur.last().cloned().unwrap_or_default();
            // The kernel sees the trailing slash too.
            if path.ends_with(b"/") {
                name.push(b'/');
            }
            let n = cur.len();
            Some((dirs.at(self, &cur[..n - 1])?, name))
        };
        let (mount, depth) = self.vfs.mounts.find(&cur);
        let special = if mount.kind == MountKind::Proc {
            proc_special(&cur[depth..], self.guests)
        } else {
            None
        };
        // The kernel's knobs are not the guest's to turn: /proc/sys and /proc/sysrq-trigger
        // are read-only, as in a container.
        let knobs = mount.kind == MountKind::Proc
            && matches!(cur[depth..].first().map(Vec::as_slice), Some(b"sys" | b"sysrq-trigger"));
        Ok(Resolved {
            guest: join(&cur),
            host,
            exists,
            readonly: mount.readonly || knobs,
            special,
            opened: object.filter(|_| exists),
            entry,
            later: None,
            mount_root,
        })
    }

    /// Looks up the last component of `cur` in the directory before it: a mount's root where
    /// one is mounted there, else the name opened (O_PATH, not followed) in its directory's
    /// descriptor; a missing name that leads to a mount point is a glue directory.
    /// A name on the way (not `last`) costs one call when it is a directory: opened with
    /// O_DIRECTORY, a symlink or a file fails with ENOTDIR and only then is its target read.
    fn lookup(&self, cur: &[Vec<u8>], dirs: &mut Dirs, last: bool) -> Result<Found, Errno> {
        let n = cur.len();
        if !last && self.vfs.mount_root(cur).is_none() {
            let parent = dirs.at(self, &cur[..n - 1])?;
            let name = &cur[n - 1];
            match open_at(&parent, name, libc::O_PATH | libc::O_NOFOLLOW | libc::O_DIRECTORY) {
                Ok(fd) => return Ok(Found::Dir(fd)),
                Err(Errno::ENOTDIR) => {
                    return match read_link_at(&parent, name) {
                        Ok(target) => Ok(Found::Link(None, target)),
                        // Not a symlink (or no longer one): no directory either.
                        Err(_) => Err(Errno::ENOTDIR),
                    };
                }
                Err(Errno::ENOENT) if !self.vfs.mounts.has_mount_below(cur) => return Ok(Found::Missing),
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        match self.lookup_plain(cur, dirs)? {
            None => Ok(Found::Missing),
            Some((fd, true)) => Ok(Found::Glue(fd)),
            Some((fd, false)) => classify(fd),
        }
    }

    /// The name's object, and whether it is lxrun's glue (the tree lacks the name).
    fn lookup_plain(&self, cur: &[Vec<u8>], dirs: &mut Dirs) -> Result<Option<(Opened, bool)>, Errno> {
        if let Some(root) = self.vfs.mount_root(cur) {
            return Ok(root.map(|r| (r, false)));
        }
        let n = cur.len();
        let parent = dirs.at(self, &cur[..n - 1])?;
        match open_at(&parent, &cur[n - 1], libc::O_PATH | libc::O_NOFOLLOW) {
            Ok(fd) => Ok(Some((fd, false))),
            Err(Errno::ENOENT) if self.vfs.mounts.has_mount_below(cur) => self.vfs.glue(cur).map(|g| Some((g, true))),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The directory at canonical guest path `comps` (no symlinks, no `..`), opened from the
    /// root of the mount holding it, one component at a time, following nothing.
    pub fn open_canonical(&self, comps: &[Vec<u8>]) -> Result<Opened, Errno> {
        let (_, depth) = self.vfs.mounts.find(comps);
        let mut fd = self.vfs.mount_root(&comps[..depth]).flatten().ok_or(Errno::ENOENT)?;
        for i in depth..comps.len() {
            let here = &comps[..=i];
            fd = match self.vfs.mount_root(here) {
                Some(root) => root.ok_or(Errno::ENOENT)?,
                None => match open_at(&fd, &comps[i], libc::O_PATH | libc::O_NOFOLLOW | libc::O_DIRECTORY) {
                    Err(Errno::ENOENT) if self.vfs.mounts.has_mount_below(here) => self.vfs.glue(here)?,
                    // A symlink met here was swapped in since the walk named the path.
                    Err(Errno::ELOOP) => return Err(Errno::ENOENT),
                    r => r?,
                },
            };
        }
        Ok(fd)
    }

    /// The common case in one host call instead of one per component: a path with no
    /// symlink on its way, inside the root mount, resolved by the kernel itself with
    /// `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)` on the root's directory (its parent
    /// directory, then the last name in it). Without symlinks (and every component checked by
    /// the kernel) `..` is lexical, so the guest path and its host path follow from the text.
    /// Any other failure (a symlink, a missing directory, a mount on the way) leaves the walk
    /// to `resolve`, which also finds the right errno.
    fn fast(&self, start: &Start, path: &[u8], follow_last: bool) -> Fast {
        match self.fast_walk(start, path, follow_last) {
            Some(f) => f,
            None => Fast::No,
        }
    }

    fn fast_walk(&self, start: &Start, path: &[u8], follow_last: bool) -> Option<Fast> {
        let root_fd = self.vfs.root_fd.as_ref()?;
        if path.is_empty() {
            return None;
        }
        // (Its kernel lookup clamps `..` at the root: not for a lookup beneath it.)
        if !self.root.is_empty() || ends_as_dir(path) || self.beneath {
            return None;
        }
        let mut comps: Components = if path[0] == b'/' {
            Vec::new()
        } else {
            start.comps.clone()
        };
        for c in split(path) {
            if c == b".." {
                comps.pop();
            } else if c.len() > NAME_MAX {
                return None;
            } else {
                comps.push(c);
            }
        }
        // Mounts (and /proc) need the walker.
        let walked = if path[0] == b'/' {
            comps.len()
        } else {
            split(path).len()
        };
        if walked == 0 || self.vfs.mounts.find(&comps).1 != 0 || self.vfs.mounts.has_mount_below(&comps) {
            return None;
        }
        // The kernel gets the directory's path as written, `..` included, so it checks that
        // every component on the way exists and is a directory; the result's name is lexical.
        // A relative path starts at the caller's directory when it has one.
        let (dir_text, name): (&[u8], &[u8]) = match path.iter().rposition(|&c| c == b'/') {
            Some(cut) => (&path[..cut], &path[cut + 1..]),
            None => (b".", path),
        };
        let (base, dir_text) = match (&start.fd, path[0] == b'/') {
            (_, true) => (root_fd, dir_text.to_vec()),
            (Some(fd), false) => (fd, dir_text.to_vec()),
            (None, false) => {
                let mut t = join(&start.comps)[1..].to_vec();
                t.push(b'/');
                t.extend_from_slice(dir_text);
                (root_fd, t)
            }
        };
        let in_root = std::ptr::eq(base, root_fd);
        let resolve = if in_root { RESOLVE_IN_ROOT } else { RESOLVE_BENEATH } | RESOLVE_NO_SYMLINKS;
        let dir_text: &[u8] = if dir_text.is_empty() { b"/" } else { &dir_text };
        let mut full = dir_text.to_vec();
        full.push(b'/');
        full.extend_from_slice(name);
        // One call for the object (beneath a start directory, `..` may not climb out of it:
        // the walker handles that); its directory only when a call needs the entry.
        let nofollow = if follow_last { 0 } else { libc::O_NOFOLLOW };
        // Named canonically from the root (the kernel's walk below checks that the lexical
        // name is right): no `..` in it, which a rename anywhere makes EAGAIN.
        // Deeper than the kernel takes a path, it is named as written from the same base.
        let mut canonical = comps.clone();
        canonical.pop();
        let canonical = join(&canonical);
        let later = if canonical.len() < crate::PATH_MAX {
            LaterEntry {
                base: root_fd.clone(),
                dir: canonical,
                name: name.to_vec(),
                resolve: RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS,
            }
        } else {
            LaterEntry {
                base: base.clone(),
                dir: dir_text.to_vec(),
                name: name.to_vec(),
                resolve,
            }
        };
        // The directory as the path names it: every component checked by the kernel (where the
        // walk failed, the lexical name may not be the directory).
        let as_written = || openat2(base, dir_text, libc::O_PATH | libc::O_DIRECTORY, resolve).ok();
        let (exists, opened, entry) = match openat2(base, &full, libc::O_PATH | nofollow, resolve) {
            Ok(fd) => (true, Some(fd), None),
            // A symlink at the end (or on the way, which the walker then finds): the walker
            // goes on from the link's directory, whose guest path is known.
            Err(Errno::ELOOP) if follow_last => {
                let dir = as_written()?;
                let target = read_link_at(&dir, name).ok()?;
                comps.pop();
                return Some(Fast::Link(Start { comps, fd: Some(dir) }, target));
            }
            // A missing last component in a directory that exists (no symlink can give ENOENT:
            // the kernel refuses it first): a name a call may create.
            Err(Errno::ENOENT) => (false, None, Some((as_written()?, name.to_vec()))),
            Err(_) => return None,
        };
        let (mount, _) = self.vfs.mounts.find(&comps);
        Some(Fast::Done(Resolved {
            guest: join(&comps),
            host: self.vfs.mounts.host_of(&comps),
            exists,
            readonly: mount.readonly,
            special: None,
            opened,
            later: entry.is_none().then_some(later),
            entry,
            mount_root: false,
        }))
    }

    /// readlink's answer for a magic /proc link at `cur`, if it is one.
    pub fn proc_link(&self, cur: &[Vec<u8>]) -> Option<Vec<u8>> {
        match self.proc_entry(cur) {
            ProcEntry::Link(target) => Some(target),
            ProcEntry::Host(p) => std::fs::read_link(p)
                .ok()
                .map(|t| self.as_guest_sees(t.into_os_string().into_vec())),
            ProcEntry::Plain | ProcEntry::Denied => None,
        }
    }

    /// A host magic link's target as the guest's kernel would write it: a deleted file (an
    /// O_TMPFILE one is `DIR/#INO`) named from the guest's tree, ` (deleted)` kept; what is no
    /// path (`pipe:[N]`) or lies outside the guest's view, as it is.
    fn as_guest_sees(&self, host: Vec<u8>) -> Vec<u8> {
        const DELETED: &[u8] = b" (deleted)";
        if host.first() != Some(&b'/') {
            return host;
        }
        let (name, deleted) = match host.strip_suffix(DELETED) {
            Some(name) => (name, true),
            None => (host.as_slice(), false),
        };
        match self.vfs.guest_of(crate::path(name)) {
            Some(mut guest) => {
                if deleted {
                    guest.extend_from_slice(DELETED);
                }
                guest
            }
            None => host,
        }
    }

    /// /proc entries that must answer for the guest, not the host.
    fn proc_entry(&self, cur: &[Vec<u8>]) -> ProcEntry {
        let (mount, depth) = self.vfs.mounts.find(cur);
        if mount.kind != MountKind::Proc {
            return ProcEntry::Plain;
        }
        let rel: Vec<&[u8]> = cur[depth..].iter().map(Vec::as_slice).collect();
        let (tgid, tid) = self.guests.caller();
        match rel.as_slice() {
            [b"self"] => ProcEntry::Link(tgid.to_string().into_bytes()),
            [b"thread-self"] => ProcEntry::Link(format!("{tgid}/task/{tid}").into_bytes()),
            [pid, rest @ ..] => {
                let Some(pid) = parse_pid(pid) else {
                    return ProcEntry::Plain;
                };
                if pid == std::process::id() as i32 {
                    return ProcEntry::Denied;
                }
                // With a root of its own, the guest sees its own processes only.
                if !self.vfs.is_identity() && !self.guests.is_guest(pid) {
                    return ProcEntry::Denied;
                }
                let rest = match rest {
                    [b"task", t, more @ ..] if parse_pid(t).is_some() => more,
                    _ => rest,
                };
                if let [b"ns", _] = rest {
                    // Its namespaces' files (nsfs magic links): the host's, which name no path.
                    let rel: Vec<String> = rel.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
                    return ProcEntry::Host(PathBuf::from(format!("/proc/{}", rel.join("/"))));
                }
                let magic = matches!(
                    rest,
                    [b"root" | b"cwd" | b"exe" | b"mem" | b"map_files" | b"fd"] | [b"fd" | b"map_files", _]
                );
                if !magic {
                    return ProcEntry::Plain;
                }
                let Some(paths) = self.guests.process_paths(pid) else {
                    return ProcEntry::Denied;
                };
                match rest {
                    [b"root"] => ProcEntry::Link(paths.root),
                    [b"cwd"] => ProcEntry::Link(paths.cwd),
                    [b"exe"] => ProcEntry::Link(paths.exe),
                    [b"fd", n] => match std::str::from_utf8(n).ok().and_then(|n| n.parse::<i32>().ok()) {
                        Some(fd) => self.fd_entry(pid, fd),
                        None => ProcEntry::Plain,
                    },
                    [b"map_files", _] => ProcEntry::Denied,
                    _ => ProcEntry::Plain,
                }
            }
            _ => ProcEntry::Plain,
        }
    }

    /// `/proc/PID/fd/N` of a guest process: the guest path of the file when the guest can name
    /// it, else the host's magic link (pipes, sockets, deleted files, memfds).
    fn fd_entry(&self, pid: i32, fd: i32) -> ProcEntry {
        let magic = PathBuf::from(format!("/proc/{pid}/fd/{fd}"));
        match std::fs::read_link(&magic) {
            Ok(target) if target.is_absolute() && target.exists() => match self.vfs.mounts.guest_of(&target) {
                Some(guest) => ProcEntry::Link(guest),
                None => ProcEntry::Host(magic),
            },
            Ok(_) => ProcEntry::Host(magic),
            Err(_) => ProcEntry::Plain,
        }
    }
}

/// Files under /proc that lxrun writes itself because the host's would name host paths.
fn proc_special(rel: &[Vec<u8>], guests: &dyn Guests) -> Option<Special> {
    let rel: Vec<&[u8]> = rel.iter().map(Vec::as_slice).collect();
    let (pid, rest) = match rel.as_slice() {
        [b"mounts"] => return Some(Special::Mounts),
        [pid, rest @ ..] => (parse_pid(pid)?, rest),
        _ => return None,
    };
    guests.process_paths(pid)?;
    let (task, rest) = match rest {
        [b"task", t, more @ ..] => (parse_pid(t)?, more),
        _ => (pid, rest),
    };
    match rest {
        [b"maps"] => Some(Special::Maps(pid)),
        [b"status"] => Some(Special::Status(task)),
        [b"mounts"] => Some(Special::Mounts),
        [b"mountinfo"] => Some(Special::Mountinfo),
        _ => None,
    }
}

fn parse_pid(s: &[u8]) -> Option<i32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// `openat2(dir, path, flags | O_CLOEXEC, resolve)`: the kernel's own confined lookup.
fn openat2(dir: &Opened, path: &[u8], flags: i32, resolve: u64) -> Result<Opened, Errno> {
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let path = std::ffi::CString::new(path).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    // SAFETY: openat2 reads `path` and `how`.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.fd().as_raw_fd(),
            path.as_ptr(),
            &how,
            size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: openat2 returned a new descriptor, now ours.
    Ok(Opened::new(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
}

/// `openat(dir, name, flags | O_CLOEXEC)` of one component.
pub(crate) fn open_at(dir: &Opened, name: &[u8], flags: i32) -> Result<Opened, Errno> {
    let name = std::ffi::CString::new(name).map_err(|_| Errno::ENOENT)?;
    // SAFETY: a valid C string; the descriptor is owned right after.
    let fd = unsafe { libc::openat(dir.fd().as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: openat returned a new descriptor.
    Ok(Opened::new(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Opens lxrun's path `p` (a /proc magic link lxrun found for the guest).
fn open_at_path(p: &std::path::Path, flags: i32) -> Result<Opened, Errno> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags | libc::O_CLOEXEC)
        .open(p)
        .map(|f| Opened::new(f.into()))
        .map_err(|e| Errno::from_io(&e))
}

/// What an opened (not followed) name is; a symlink's target is read from its descriptor.
fn classify(fd: Opened) -> Result<Found, Errno> {
    let meta = fd.metadata().map_err(|e| Errno::from_io(&e))?;
    let t = meta.file_type();
    if t.is_symlink() {
        let target = read_link(&fd)?;
        return Ok(Found::Link(Some(fd), target));
    }
    Ok(if t.is_dir() { Found::Dir(fd) } else { Found::Other(fd) })
}

/// The target of the symlink open (O_PATH, not followed) as `fd`: `readlinkat(fd, "")`.
pub(crate) fn read_link(fd: &Opened) -> Result<Vec<u8>, Errno> {
    read_link_at(fd, b"")
}

/// The target of symlink `name` in directory `dir`.
fn read_link_at(dir: &Opened, name: &[u8]) -> Result<Vec<u8>, Errno> {
    let name = std::ffi::CString::new(name).map_err(|_| Errno::ENOENT)?;
    let mut buf = vec![0u8; crate::PATH_MAX];
    // SAFETY: readlinkat writes at most `buf.len()` bytes into `buf`.
    let n = unsafe { libc::readlinkat(dir.fd().as_raw_fd(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(Errno::last());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

impl Dirs {
    /// `n` directories not opened yet (none of them glue).
    fn unopened(n: usize) -> Dirs {
        Dirs(vec![None; n], vec![false; n])
    }

    /// The walk went down into `fd` (None: not a directory, or not opened); `glue`: one of
    /// lxrun's made-up directories.
    fn push(&mut self, fd: Option<Opened>, glue: bool) {
        self.0.push(fd);
        self.1.push(glue);
    }

    fn pop(&mut self) {
        self.0.pop();
        self.1.pop();
    }

    fn truncate(&mut self, n: usize) {
        self.0.truncate(n);
        self.1.truncate(n);
    }

    /// Whether the last directory of the walk is glue.
    fn in_glue(&self) -> bool {
        self.1.last().copied().unwrap_or(false)
    }

    /// The directory at guest path `comps` (one of this walk's, else opened from its mount).
    fn at(&mut self, walk: &Walk<'_>, comps: &[Vec<u8>]) -> Result<Opened, Errno> {
        let i = comps.len();
        if let Some(Some(fd)) = self.0.get(i) {
            return Ok(fd.clone());
        }
        let fd = walk.open_canonical(comps)?;
        if let Some(slot) = self.0.get_mut(i) {
            *slot = Some(fd.clone());
        }
        Ok(fd)
    }
}

fn split(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&c| c == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
        .collect()
}

/// A trailing `/`, `/.` or `/..` makes the final component a directory lookup.
fn ends_as_dir(path: &[u8]) -> bool {
    path.ends_with(b"/") || path.ends_with(b"/.") || path.ends_with(b"/..") || path == b"." || path == b".."
}
