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
    /// A symlink (opened itself) and its target.
    Link(Opened, Vec<u8>),
    Other(Opened),
    Missing,
}

/// The directories of a walk so far: `dirs[i]` is the one at guest path `cur[..i]`, opened
/// when the walk came through it (or later, from the root, when `..` climbs above where it
/// started). Each step opens the next name relative to the descriptor it came from, so a
/// rename or symlink swap on the way cannot take the walk anywhere the guest could not go.
struct Dirs(Vec<Option<Opened>>);

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
        if let Some(r) = self.fast(&start, path, follow_last) {
            return Ok(r);
        }
        let (mut cur, mut dirs) = if path[0] == b'/' {
            (self.root.clone(), Dirs(vec![None; self.root.len() + 1]))
        } else {
            let mut dirs = Dirs(vec![None; start.comps.len()]);
            dirs.0.push(start.fd);
            (start.comps, dirs)
        };
        let mut pending: Vec<Vec<u8>> = split(path);
        pending.reverse(); // popped from the end
        let mut must_be_dir = ends_as_dir(path);
        let mut links = 0;
        let mut exists = true;
        let mut object: Option<Opened> = None;
        let mut host_override: Option<PathBuf> = None;
        let mut glue = false;

        while let Some(c) = pending.pop() {
            if c == b".." {
                if cur.len() > self.root.len() {
                    cur.pop();
                    dirs.0.pop();
                } else if self.beneath {
                    return Err(Errno::EXDEV);
                }
                object = None;
                glue = false;
                continue;
            }
            if c.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            let last = pending.is_empty();
            cur.push(c);
            object = None;
            glue = false;
            let link = match self.proc_entry(&cur) {
                ProcEntry::Denied => return Err(Errno::ENOENT),
                ProcEntry::Host(p) => {
                    if last {
                        // The magic link followed: the pipe, socket or deleted file itself.
                        object = Some(open_at_path(&p, libc::O_PATH)?);
                        host_override = Some(p);
                        dirs.0.push(None);
                        break;
                    }
                    return Err(Errno::ENOTDIR);
                }
                ProcEntry::Link(target) => Some((None, target)),
                ProcEntry::Plain => match self.lookup(&cur, &mut dirs)? {
                    Found::Link(fd, target) => Some((Some(fd), target)),
                    Found::Dir(fd) => {
                        glue = self.vfs.mount_root(&cur).is_none() && self.is_glue(&cur, &fd);
                        object = Some(fd.clone());
                        dirs.0.push(Some(fd));
                        None
                    }
                    Found::Other(fd) => {
                        if !last {
                            return Err(Errno::ENOTDIR);
                        }
                        object = Some(fd);
                        dirs.0.push(None);
                        None
                    }
                    Found::Missing if last => {
                        exists = false;
                        dirs.0.push(None);
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
                        object = self.lookup_plain(&cur, &mut dirs).ok().flatten();
                    }
                    dirs.0.push(None);
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
                    dirs.0.truncate(self.root.len() + 1);
                }
                if last {
                    must_be_dir |= ends_as_dir(&target);
                }
                pending.extend(split(&target).into_iter().rev());
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
            mount_root,
        })
    }

    /// Looks up the last component of `cur` in the directory before it: a mount's root where
    /// one is mounted there, else the name opened (O_PATH, not followed) in its directory's
    /// descriptor; a missing name that leads to a mount point is a glue directory.
    fn lookup(&self, cur: &[Vec<u8>], dirs: &mut Dirs) -> Result<Found, Errno> {
        match self.lookup_plain(cur, dirs)? {
            None => Ok(Found::Missing),
            Some(fd) => classify(fd),
        }
    }

    fn lookup_plain(&self, cur: &[Vec<u8>], dirs: &mut Dirs) -> Result<Option<Opened>, Errno> {
        if let Some(root) = self.vfs.mount_root(cur) {
            return Ok(root);
        }
        let n = cur.len();
        let parent = dirs.at(self, &cur[..n - 1])?;
        match open_at(&parent, &cur[n - 1], libc::O_PATH | libc::O_NOFOLLOW) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::ENOENT) if self.vfs.mounts.has_mount_below(cur) => self.vfs.glue(cur).map(Some),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether directory `fd` at `cur` is lxrun's glue (the tree lacks the name).
    fn is_glue(&self, cur: &[Vec<u8>], fd: &Opened) -> bool {
        use std::os::unix::fs::MetadataExt;
        if !self.vfs.mounts.has_mount_below(cur) {
            return false;
        }
        let glue = std::fs::symlink_metadata(self.vfs.glue_path(cur));
        match (glue, fd.metadata()) {
            (Ok(g), Ok(m)) => g.dev() == m.dev() && g.ino() == m.ino(),
            _ => false,
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
    fn fast(&self, start: &Start, path: &[u8], follow_last: bool) -> Option<Resolved> {
        let root_fd = self.vfs.root_fd.as_ref()?;
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
        // Walking one or two components costs no more (the start directory is never walked
        // again); mounts (and /proc) need the walker.
        let walked = if path[0] == b'/' {
            comps.len()
        } else {
            split(path).len()
        };
        if walked < 3 || self.vfs.mounts.find(&comps).1 != 0 || self.vfs.mounts.has_mount_below(&comps) {
            return None;
        }
        // The kernel gets the directory's path as written, `..` included, so it checks that
        // every component on the way exists and is a directory; the result's name is lexical.
        // A relative path starts at the caller's directory when it has one.
        let cut = path.iter().rposition(|&c| c == b'/')?;
        let (dir_text, name) = (&path[..cut], &path[cut + 1..]);
        let (base, text) = match (&start.fd, path[0] == b'/') {
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
        let resolve = if in_root { RESOLVE_IN_ROOT } else { RESOLVE_BENEATH };
        let text: &[u8] = if text.is_empty() { b"/" } else { &text };
        // Beneath a start directory, `..` may not climb out of it: the walker handles that.
        let dir = openat2(
            base,
            text,
            libc::O_PATH | libc::O_DIRECTORY,
            resolve | RESOLVE_NO_SYMLINKS,
        )
        .ok()?;
        let (exists, opened) = match open_at(&dir, name, libc::O_PATH | libc::O_NOFOLLOW) {
            Ok(fd) => match classify(fd).ok()? {
                Found::Link(..) if follow_last => return None,
                Found::Link(fd, _) | Found::Dir(fd) | Found::Other(fd) => (true, Some(fd)),
                Found::Missing => (false, None),
            },
            Err(Errno::ENOENT) => (false, None),
            Err(_) => return None,
        };
        let (mount, _) = self.vfs.mounts.find(&comps);
        Some(Resolved {
            guest: join(&comps),
            host: self.vfs.mounts.host_of(&comps),
            exists,
            readonly: mount.readonly,
            special: None,
            opened,
            entry: Some((dir, name.to_vec())),
            mount_root: false,
        })
    }

    /// readlink's answer for a magic /proc link at `cur`, if it is one.
    pub fn proc_link(&self, cur: &[Vec<u8>]) -> Option<Vec<u8>> {
        match self.proc_entry(cur) {
            ProcEntry::Link(target) => Some(target),
            ProcEntry::Host(p) => std::fs::read_link(p).ok().map(|t| t.into_os_string().into_vec()),
            ProcEntry::Plain | ProcEntry::Denied => None,
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
    let rest = match rest {
        [b"task", t, more @ ..] if parse_pid(t).is_some() => more,
        _ => rest,
    };
    match rest {
        [b"maps"] => Some(Special::Maps(pid)),
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
        return Ok(Found::Link(fd, target));
    }
    Ok(if t.is_dir() { Found::Dir(fd) } else { Found::Other(fd) })
}

/// The target of the symlink open (O_PATH, not followed) as `fd`: `readlinkat(fd, "")`.
pub(crate) fn read_link(fd: &Opened) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; crate::PATH_MAX];
    // SAFETY: readlinkat writes at most `buf.len()` bytes into `buf`.
    let n = unsafe { libc::readlinkat(fd.fd().as_raw_fd(), c"".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(Errno::last());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

impl Dirs {
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
