//! lxrun's virtual filesystem: how a guest path, seen from a guest thread, becomes a host path.
//!
//! - [`mounts::MountTable`]: the guest root (`--root`, default the host's `/`), `--bind`
//!   mounts (files or directories, read-only with `:ro`), `--tmpfs` and the default mounts.
//! - the walker ([`walk`]): component by component from the thread's root and cwd (or a dirfd),
//!   following symlinks inside the guest, `..` never above the guest's root, ELOOP after 40
//!   links, mount crossings both ways, glue directories for mount points the root lacks.
//! - reverse translation ([`Vfs::guest_of`]): host paths back to the names the guest knows.
//! - /proc: the magic links (`self`, `PID/{root,cwd,exe,fd/N}`) answered for the guest, the
//!   supervisor's own entry hidden, and [`procfs`] for the files lxrun writes itself.

pub mod mounts;
pub mod procfs;
mod walk;

#[cfg(test)]
mod tests;

pub use lxrun_abi::Errno;
pub use mounts::{MountKind, MountTable};

use mounts::Components;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Linux's PATH_MAX, counting the NUL.
pub const PATH_MAX: usize = 4096;

/// Where a relative guest path starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// The thread's current directory (AT_FDCWD).
    Cwd,
    /// A directory file descriptor of the guest thread.
    Fd(i32),
}

/// A /proc file whose content lxrun writes for the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    /// `/proc/PID/maps` with guest pathnames.
    Maps(i32),
    /// `/proc/mounts`, `/proc/PID/mounts`: the guest's mount table.
    Mounts,
    /// `/proc/PID/mountinfo`.
    Mountinfo,
}

/// A guest path after resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Canonical absolute path as the guest names it.
    pub guest: Vec<u8>,
    /// Where that object lives (or would be created) on the host.
    pub host: PathBuf,
    /// False when the final component does not exist (its parent does).
    pub exists: bool,
    /// On a read-only mount.
    pub readonly: bool,
    /// A /proc file lxrun synthesizes.
    pub special: Option<Special>,
    /// The object itself (a final symlink not to be followed: the link), opened `O_PATH` by
    /// the lookup that found it when that lookup was the kernel's: a call can act on it
    /// without walking `host` again.
    pub opened: Option<Opened>,
}

/// An `O_PATH` descriptor of a resolved object, shared by the copies of its [`Resolved`].
#[derive(Clone, Debug)]
pub struct Opened(std::sync::Arc<std::os::fd::OwnedFd>);

impl Opened {
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&*self.0)
    }

    /// The object's metadata, from the descriptor.
    pub fn metadata(&self) -> std::io::Result<std::fs::Metadata> {
        use std::os::fd::{AsRawFd, FromRawFd};
        // SAFETY: a File over our descriptor that is never dropped, so never closes it.
        let file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(self.0.as_raw_fd()) });
        file.metadata()
    }
}

/// Two are equal when they are the same descriptor.
impl PartialEq for Opened {
    fn eq(&self, other: &Opened) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Opened {}

/// The guest paths lxrun keeps for one guest process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcPaths {
    pub root: Vec<u8>,
    pub cwd: Vec<u8>,
    pub exe: Vec<u8>,
}

/// What the walker needs to know about the guest's processes.
pub trait Guests {
    /// The calling thread: (thread group id, thread id).
    fn caller(&self) -> (i32, i32);
    /// The paths of guest process (or thread) `pid`; None when lxrun does not run it.
    fn process_paths(&self, pid: i32) -> Option<ProcPaths>;
}

/// For lookups made outside any guest process (before the first one starts, or by tools): no
/// process to ask about, so /proc's per-process entries are not resolved.
pub struct NoGuests;

impl Guests for NoGuests {
    fn caller(&self) -> (i32, i32) {
        (0, 0)
    }
    fn process_paths(&self, _: i32) -> Option<ProcPaths> {
        None
    }
}

/// A guest thread's view of the filesystem for one lookup.
pub struct View<'a> {
    /// The process's root (a guest path: `/` unless it called chroot).
    pub root: &'a [u8],
    /// The process's current directory (a guest path).
    pub cwd: &'a [u8],
    pub guests: &'a dyn Guests,
}

/// The guest's view of the filesystem.
#[derive(Debug)]
pub struct Vfs {
    mounts: MountTable,
    /// Where lxrun makes the directories the guest sees on the way to mount points its tree
    /// lacks (`glue`), only when one is needed (most runs need none).
    glue_dir: PathBuf,
    /// The root mount's host directory, for the kernel's confined lookups (walk::fast).
    root_fd: Option<std::os::fd::OwnedFd>,
}

/// An O_PATH descriptor of the directory the root mount stands on.
fn open_root(mounts: &MountTable) -> Option<std::os::fd::OwnedFd> {
    let host = &mounts.find(&[]).0.host;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(host)
        .ok()
        .map(std::os::fd::OwnedFd::from)
}

fn comps(path: &[u8]) -> Components {
    mounts::components(path)
        .filter(|c| *c != b"..")
        .map(<[u8]>::to_vec)
        .collect()
}

impl Vfs {
    /// A VFS over `mounts`; `glue_dir` is an empty directory lxrun owns.
    pub fn new(mounts: MountTable, glue_dir: PathBuf) -> Vfs {
        let root_fd = open_root(&mounts);
        Vfs {
            mounts,
            glue_dir,
            root_fd,
        }
    }

    /// The directory standing for guest directory `at`, which leads to a mount point but which
    /// the tree under it lacks: `GLUE/t/<at>`, made on first use with an entry for each name
    /// below it that leads on, so that listing it shows them as a real mount's parents would.
    fn glue(&self, at: &[Vec<u8>]) -> PathBuf {
        let under = |guest: &[Vec<u8>]| {
            let mut host = self.glue_dir.join("t");
            host.extend(guest.iter().map(|c| path(c)));
            host
        };
        let host = under(at);
        if std::fs::symlink_metadata(&host).is_err() {
            // Every path down to every mount point below, at once: the glue is one tree.
            // A failure shows as the directory's absence (ENOENT) to the call that needed it.
            let _ = std::fs::create_dir_all(&host);
            for m in self
                .mounts
                .mounts()
                .iter()
                .filter(|m| m.guest.len() > at.len() && m.guest.starts_with(at))
            {
                let _ = std::fs::create_dir_all(under(&m.guest));
            }
        }
        host
    }

    /// The host's `/` is the guest's `/`, with the guest's own /proc view.
    pub fn host_root() -> Vfs {
        let mut mounts = MountTable::new("/".into());
        mounts.add(b"/proc", "/proc".into(), false, MountKind::Proc, "proc");
        Vfs::new(mounts, "/".into())
    }

    /// The same view, resolving every path with the walker alone (to test the fast path).
    #[cfg(test)]
    pub(crate) fn without_fast_path(mut self) -> Vfs {
        self.root_fd = None;
        self
    }

    pub fn mounts(&self) -> &MountTable {
        &self.mounts
    }

    /// Paths need no translation: the guest sees the host's tree.
    pub fn is_identity(&self) -> bool {
        self.mounts.is_identity()
    }

    /// Resolves `path` as the thread in `view` sees it. With `follow_last` false a final
    /// symlink is returned itself. A missing final component is not an error (`exists` is
    /// false), so creating calls can use the result; a missing directory on the way is ENOENT.
    pub fn resolve(&self, view: &View<'_>, base: Base, path: &[u8], follow_last: bool) -> Result<Resolved, Errno> {
        let start = if path.first() == Some(&b'/') {
            Vec::new()
        } else {
            match base {
                Base::Cwd => comps(view.cwd),
                Base::Fd(fd) => comps(&self.dir_of_fd(view, fd)?),
            }
        };
        self.walker(view, false).resolve(start, path, follow_last)
    }

    /// Resolves `path` from `view.cwd`, confined beneath `view.root` as openat2's
    /// RESOLVE_BENEATH does: EXDEV where the lookup would leave it (an absolute path or
    /// symlink, a `..` at the root).
    pub fn resolve_beneath(&self, view: &View<'_>, path: &[u8], follow_last: bool) -> Result<Resolved, Errno> {
        self.walker(view, true).resolve(comps(view.cwd), path, follow_last)
    }

    fn walker<'a>(&'a self, view: &View<'a>, beneath: bool) -> walk::Walk<'a> {
        walk::Walk {
            vfs: self,
            guests: view.guests,
            root: comps(view.root),
            beneath,
        }
    }

    /// What `readlink` of canonical guest path `guest` says when it is one of /proc's magic
    /// links (`/proc/self`, `/proc/PID/{root,cwd,exe,fd/N}`): the guest's answer, not the
    /// host's. None for any other path.
    pub fn proc_link(&self, view: &View<'_>, guest: &[u8]) -> Option<Vec<u8>> {
        self.walker(view, false).proc_link(&comps(guest))
    }

    /// The object open as `fd` in the calling thread (for `AT_EMPTY_PATH`).
    pub fn resolve_fd(&self, view: &View<'_>, fd: i32) -> Result<Resolved, Errno> {
        let (_, tid) = view.guests.caller();
        let magic = PathBuf::from(format!("/proc/{tid}/fd/{fd}"));
        let host = std::fs::read_link(&magic).map_err(|_| Errno::EBADF)?;
        let guest = self.guest_of(&host);
        Ok(Resolved {
            guest: guest.unwrap_or_else(|| host.as_os_str().as_bytes().to_vec()),
            host: if host.is_absolute() && host.exists() {
                host
            } else {
                magic
            },
            exists: true,
            readonly: false,
            special: None,
            opened: None,
        })
    }

    /// The guest path of directory fd `fd` of the calling thread.
    fn dir_of_fd(&self, view: &View<'_>, fd: i32) -> Result<Vec<u8>, Errno> {
        let (_, tid) = view.guests.caller();
        let host = std::fs::read_link(format!("/proc/{tid}/fd/{fd}")).map_err(|_| Errno::EBADF)?;
        // A pipe or socket is no directory; a file that is not one fails the walk with ENOTDIR.
        if !host.is_absolute() {
            return Err(Errno::ENOTDIR);
        }
        self.guest_of(&host).ok_or(Errno::ENOENT)
    }

    /// The host path a guest path names, for display only (`lxrun --trace-host`): lexical
    /// (`..` and symlinks are not followed, the filesystem is not touched), relative paths shown
    /// as they are.
    pub fn host_path_hint(&self, _tid: i32, path: &[u8]) -> Vec<u8> {
        if path.first() != Some(&b'/') || self.is_identity() {
            return path.to_vec();
        }
        self.host_of_canonical(path).as_os_str().as_bytes().to_vec()
    }

    /// Reverse translation: the guest's name for host path `host`.
    pub fn guest_of(&self, host: &Path) -> Option<Vec<u8>> {
        if let Ok(rest) = host.strip_prefix(self.glue_dir.join("t")) {
            let mut guest = b"/".to_vec();
            guest.extend_from_slice(rest.as_os_str().as_bytes());
            return (!self.is_identity()).then_some(guest);
        }
        self.mounts.guest_of(host)
    }

    /// Host path of a guest path that is already canonical (no symlinks, no `..`).
    pub fn host_of_canonical(&self, guest: &[u8]) -> PathBuf {
        self.mounts.host_of(&comps(guest))
    }
}

/// `Path` of raw bytes.
pub fn path(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}
