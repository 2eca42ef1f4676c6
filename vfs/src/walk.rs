//! The path walker: resolves a guest path component by component against the mount table,
//! following symlinks inside the guest (absolute targets start again at the guest's root),
//! never letting `..` climb above that root (or, for a lookup confined beneath it, failing
//! with EXDEV where it would leave it), and answering /proc's magic links for the guest.

use crate::mounts::{join, Components, MountKind};
use crate::{Errno, Guests, Resolved, Special, Vfs};

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
}

impl Walk<'_> {
    /// Resolves `path` starting from guest directory `start` (used for relative paths).
    pub fn resolve(&self, start: Components, path: &[u8], follow_last: bool) -> Result<Resolved, Errno> {
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
        let mut cur = if path[0] == b'/' { self.root.clone() } else { start };
        let mut pending: Vec<Vec<u8>> = split(path);
        pending.reverse(); // popped from the end
        let mut must_be_dir = ends_as_dir(path);
        let mut links = 0;
        let mut exists = true;
        let mut host_override: Option<PathBuf> = None;

        while let Some(c) = pending.pop() {
            if c == b".." {
                if cur.len() > self.root.len() {
                    cur.pop();
                } else if self.beneath {
                    return Err(Errno::EXDEV);
                }
                continue;
            }
            if c.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            let last = pending.is_empty();
            cur.push(c);
            let link = match self.proc_entry(&cur) {
                ProcEntry::Denied => return Err(Errno::ENOENT),
                ProcEntry::Host(p) => {
                    if last {
                        host_override = Some(p);
                        break;
                    }
                    return Err(Errno::ENOTDIR);
                }
                ProcEntry::Link(target) => Some(target),
                ProcEntry::Plain => {
                    let host = self.vfs.mounts.host_of(&cur);
                    match std::fs::symlink_metadata(&host) {
                        Ok(meta) if meta.file_type().is_symlink() => Some(
                            std::fs::read_link(&host)
                                .map_err(|e| Errno::from_io(&e))?
                                .into_os_string()
                                .into_vec(),
                        ),
                        Ok(meta) => {
                            if !last && !meta.is_dir() {
                                return Err(Errno::ENOTDIR);
                            }
                            None
                        }
                        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                            if self.vfs.mounts.has_mount_below(&cur) {
                                None // a glue directory leading to a mount point
                            } else if last {
                                exists = false;
                                None
                            } else {
                                return Err(Errno::ENOENT);
                            }
                        }
                        Err(e) => return Err(Errno::from_io(&e)),
                    }
                }
            };
            if let Some(target) = link {
                if last && !follow_last && !must_be_dir {
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
                }
                if last {
                    must_be_dir |= ends_as_dir(&target);
                }
                pending.extend(split(&target).into_iter().rev());
            }
        }

        let host = match host_override {
            Some(h) => h,
            None => {
                let h = self.vfs.mounts.host_of(&cur);
                if exists && self.vfs.mounts.has_mount_below(&cur) && std::fs::symlink_metadata(&h).is_err() {
                    self.vfs.glue(&cur)
                } else {
                    h
                }
            }
        };
        if must_be_dir && exists {
            match std::fs::metadata(&host) {
                Ok(m) if !m.is_dir() => return Err(Errno::ENOTDIR),
                _ => {}
            }
        }
        let (mount, depth) = self.vfs.mounts.find(&cur);
        let special = if mount.kind == MountKind::Proc {
            proc_special(&cur[depth..], self.guests)
        } else {
            None
        };
        Ok(Resolved {
            guest: join(&cur),
            host,
            exists,
            readonly: mount.readonly,
            special,
            opened: None,
        })
    }

    /// The common case in one host call instead of one `statx` per component: a path with no
    /// symlink on its way, inside the root mount, resolved by the kernel itself with
    /// `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)` on the root's directory. Without
    /// symlinks (and every component checked by the kernel) `..` is lexical, so the guest path
    /// and its host path follow from the text. A missing last component is answered too when
    /// its directory opens the same way. Any other failure (a symlink, a missing directory, a
    /// mount on the way) leaves the walk to `resolve`, which also finds the right errno.
    fn fast(&self, start: &[Vec<u8>], path: &[u8], follow_last: bool) -> Option<Resolved> {
        let root_fd = self.vfs.root_fd.as_ref()?;
        // (Its kernel lookup clamps `..` at the root: not for a lookup beneath it.)
        if !self.root.is_empty() || ends_as_dir(path) || self.beneath {
            return None;
        }
        let mut comps: Components = if path[0] == b'/' { Vec::new() } else { start.to_vec() };
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
        // The kernel gets the path as written (from the root), `..` included, so it checks that
        // every component on the way exists and is a directory; the result's name is lexical.
        let mut text = if path[0] == b'/' {
            Vec::new()
        } else {
            join(start)[1..].to_vec()
        };
        text.push(b'/');
        text.extend_from_slice(path);
        let nofollow = if follow_last { 0 } else { libc::O_NOFOLLOW };
        let opened = match open_in_root(root_fd, &text, libc::O_PATH | nofollow) {
            Ok(fd) => Some(fd),
            // A missing last component in a directory that exists (no symlink can give ENOENT:
            // the kernel refuses it first): a name a call may create.
            Err(Errno::ENOENT) => {
                let parent = &text[..text.iter().rposition(|&c| c == b'/')?];
                open_in_root(root_fd, parent, libc::O_PATH | libc::O_DIRECTORY).ok()?;
                None
            }
            Err(_) => return None,
        };
        let (mount, _) = self.vfs.mounts.find(&comps);
        Some(Resolved {
            guest: join(&comps),
            host: self.vfs.mounts.host_of(&comps),
            exists: opened.is_some(),
            readonly: mount.readonly,
            special: None,
            opened: opened.map(|fd| crate::Opened(std::sync::Arc::new(fd))),
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

/// `openat2(root, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)`: the
/// kernel's lookup of `path` with `root` as the root, failing on any symlink on the way.
fn open_in_root(root: &OwnedFd, path: &[u8], flags: i32) -> Result<OwnedFd, Errno> {
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    const RESOLVE_NO_SYMLINKS: u64 = 0x04;
    const RESOLVE_IN_ROOT: u64 = 0x10;
    let path = std::ffi::CString::new(path).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS,
    };
    // SAFETY: openat2 reads `path` and `how`.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            path.as_ptr(),
            &how,
            size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: openat2 returned a new descriptor, now ours.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
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
