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

mod deep;
pub mod kernel_mounts;
pub mod meta;
pub mod mounts;
pub mod procfs;
mod walk;

#[cfg(test)]
mod tests;

pub use lxrun_abi::Errno;
pub use mounts::{MountKind, MountTable};

use mounts::Components;
use std::ffi::OsStr;
use std::os::fd::AsRawFd;
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
    /// `/proc/PID/status` (of this task): a fake root's ids and capabilities in it, else the
    /// host's file as it is.
    Status(i32),
}

/// A guest path after resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Canonical absolute path as the guest names it.
    pub guest: Vec<u8>,
    /// Where that object lives (or would be created) on the host, as the mount table says:
    /// for messages, `--trace-host` and the ptrace backend's rewritten opens only. No call of
    /// lxrun's walks it: they act on `opened` or `entry`.
    pub host: PathBuf,
    /// False when the final component does not exist (its parent does).
    pub exists: bool,
    /// On a read-only mount.
    pub readonly: bool,
    /// A /proc file lxrun synthesizes.
    pub special: Option<Special>,
    /// The object itself (a final symlink not to be followed: the link), opened `O_PATH` by
    /// the lookup that found it, step by step from descriptors: the object the guest named at
    /// the time of the lookup, whatever is renamed later.
    pub opened: Option<Opened>,
    /// Its directory entry: the directory it is in, held open, and its name there (None for a
    /// mount whose root is a file, or /proc's magic links: only the object reaches those).
    /// Read it with [`Resolved::entry`]: the kernel-assisted lookup opens the directory only
    /// when a call asks for the entry (`later`).
    pub(crate) entry: Option<(Opened, Vec<u8>)>,
    pub(crate) later: Option<walk::LaterEntry>,
    /// The root of a mount (or of the process): its entry is no name in a directory of the
    /// mount, and it can be neither removed nor renamed (EBUSY).
    pub mount_root: bool,
}

/// How a call reaches a resolved object without walking its host path: the object by its
/// descriptor, or a name in a directory held by descriptor, which the kernel looks up without
/// following a symlink (the walker has decided every symlink already).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Through the descriptor's magic link (`/proc/self/fd/N`, followed: the object itself).
    Object(Opened),
    /// The entry `name` in directory `dir`; the call must not follow it.
    Entry(Opened, Vec<u8>),
}

impl Target {
    /// The path, for lxrun's own calls, that reaches the target: the descriptor's magic link,
    /// or the name below the directory's (NUL-terminated). The kernel jumps to the descriptor's
    /// file without a walk, so no rename or symlink swap can redirect it.
    pub fn proc_path(&self) -> Vec<u8> {
        use std::os::fd::AsRawFd;
        let mut p = match self {
            Target::Object(o) => format!("/proc/self/fd/{}", o.fd().as_raw_fd()).into_bytes(),
            Target::Entry(dir, name) => {
                let mut p = format!("/proc/self/fd/{}/", dir.fd().as_raw_fd()).into_bytes();
                p.extend_from_slice(name);
                p
            }
        };
        p.push(0);
        p
    }

    /// Whether the call must add its own "do not follow" flag (an entry).
    pub fn is_entry(&self) -> bool {
        matches!(self, Target::Entry(..))
    }
}

impl Resolved {
    /// How a call that `follows` a final symlink (or not) reaches this object: a following call
    /// acts on the object the walker reached; a call that does not follow, or one that creates
    /// the name, on the entry (a mount root that is a file has only its object).
    pub fn target(&self, follows: bool) -> Option<Target> {
        if let (Some(o), true) = (&self.opened, follows) {
            return Some(Target::Object(o.clone()));
        }
        match (&self.opened, self.entry()) {
            (_, Some((dir, name))) => Some(Target::Entry(dir, name)),
            (Some(o), None) => Some(Target::Object(o.clone())),
            (None, None) => None,
        }
    }

    /// Whether the path ended with a slash, which its entry keeps for the kernel to judge (a
    /// call must then act on the entry, not the object).
    pub fn trailing_slash(&self) -> bool {
        self.entry.as_ref().is_some_and(|(_, name)| name.ends_with(b"/"))
    }

    /// Its directory entry (see `entry`): opened now if the lookup left it for later, by the
    /// kernel's confined walk again (a rename since gives another object inside the guest's
    /// view, never one outside it).
    pub fn entry(&self) -> Option<(Opened, Vec<u8>)> {
        match (&self.entry, &self.later) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(later)) => later.open(),
            (None, None) => None,
        }
    }
}

/// An `O_PATH` descriptor of a resolved object, shared by the copies of its [`Resolved`].
#[derive(Clone, Debug)]
pub struct Opened(std::sync::Arc<std::os::fd::OwnedFd>);

impl Opened {
    pub fn new(fd: std::os::fd::OwnedFd) -> Opened {
        Opened(std::sync::Arc::new(fd))
    }

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

    /// Reopens the object with `flags` (through its magic link: the same inode, whatever its
    /// name is now).
    pub fn reopen(&self, flags: i32) -> std::io::Result<std::fs::File> {
        use std::os::fd::AsRawFd;
        std::fs::OpenOptions::new()
            .read(flags & libc::O_ACCMODE != libc::O_WRONLY)
            .write(flags & libc::O_ACCMODE != libc::O_RDONLY)
            .custom_flags(flags & !libc::O_ACCMODE)
            .open(format!("/proc/self/fd/{}", self.0.as_raw_fd()))
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
    /// Whether `pid` is one of the guest's processes or threads (as a pid namespace of its own
    /// would show): /proc shows nothing of any other.
    fn is_guest(&self, pid: i32) -> bool {
        self.process_paths(pid).is_some()
    }
    /// The calling thread's current directory (None) or its descriptor `fd`, as a descriptor
    /// of lxrun's for the same file: where a relative lookup starts, what AT_EMPTY_PATH names.
    /// None when lxrun cannot reach the thread (tests, tools): lookups then start from the
    /// view's guest paths.
    fn borrow(&self, _fd: Option<i32>) -> Option<Result<std::os::fd::OwnedFd, Errno>> {
        None
    }
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
    root_fd: Option<Opened>,
    /// Each mount's root (`mounts.mounts()`'s order), opened once: every lookup starts from
    /// one of these and walks on from descriptors. None where the host lacks it.
    mount_fds: Vec<Option<Opened>>,
    /// Translate every path call even where the tree is the host's (a fake root's calls need
    /// lxrun: its chroot, its owners, its /proc files).
    translate_all: bool,
    /// Where the guests' own mount calls are the kernel's (lxrun may mount).
    kernel_mounts: Option<kernel_mounts::KernelMounts>,
}

/// An O_PATH descriptor of `host` (following it: a mount's host path is canonical).
fn open_path(host: &Path) -> Option<Opened> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(host)
        .ok()
        .map(|f| Opened::new(f.into()))
}

pub(crate) fn comps(path: &[u8]) -> Components {
    mounts::components(path)
        .filter(|c| *c != b"..")
        .map(<[u8]>::to_vec)
        .collect()
}

impl Vfs {
    /// A VFS over `mounts`; `glue_dir` is an empty directory lxrun owns.
    pub fn new(mounts: MountTable, glue_dir: PathBuf) -> Vfs {
        let mount_fds: Vec<Option<Opened>> = mounts.mounts().iter().map(|m| open_path(&m.host)).collect();
        let root_fd = mounts
            .mounts()
            .iter()
            .position(|m| m.guest.is_empty())
            .and_then(|i| mount_fds[i].clone())
            .filter(|o| o.metadata().is_ok_and(|m| m.is_dir()));
        Vfs {
            mounts,
            glue_dir,
            root_fd,
            mount_fds,
            translate_all: false,
            kernel_mounts: None,
        }
    }

    /// The root of the mount at exactly guest path `at`, if one is there: (its descriptor,
    /// None when the host lacks it).
    pub(crate) fn mount_root(&self, at: &[Vec<u8>]) -> Option<Option<Opened>> {
        let i = self.mounts.mounts().iter().position(|m| m.guest == at)?;
        Some(self.mount_fds[i].clone())
    }

    /// The directory standing for guest directory `at`, which leads to a mount point but which
    /// the tree under it lacks: `GLUE/t/<at>`, made on first use with an entry for each name
    /// below it that leads on, so that listing it shows them as a real mount's parents would.
    /// Made and opened from descriptors, never following a symlink (the guest can write there).
    fn glue(&self, at: &[Vec<u8>]) -> Result<Opened, Errno> {
        let t = self.glue_dir.join("t");
        let _ = std::fs::create_dir_all(&t);
        let top = open_path(&t).ok_or(Errno::ENOENT)?;
        let make = |guest: &[Vec<u8>]| -> Result<Opened, Errno> {
            let mut dir = top.clone();
            for c in guest {
                let name = std::ffi::CString::new(c.as_slice()).map_err(|_| Errno::ENOENT)?;
                // SAFETY: a valid C string; an existing name is fine.
                unsafe { libc::mkdirat(dir.fd().as_raw_fd(), name.as_ptr(), 0o755) };
                dir = walk::open_at(&dir, c, libc::O_PATH | libc::O_NOFOLLOW | libc::O_DIRECTORY)?;
            }
            Ok(dir)
        };
        let here = make(at)?;
        // Every path down to every mount point below, at once: the glue is one tree.
        for m in self
            .mounts
            .mounts()
            .iter()
            .filter(|m| m.guest.len() > at.len() && m.guest.starts_with(at))
        {
            let _ = make(&m.guest);
        }
        Ok(here)
    }

    /// The host path of the glue directory for `at` (for messages and reverse translation).
    fn glue_path(&self, at: &[Vec<u8>]) -> PathBuf {
        let mut host = self.glue_dir.join("t");
        host.extend(at.iter().map(|c| path(c)));
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

    /// Which mount holds canonical guest path `guest` (an index into `mounts().mounts()`): two
    /// paths on different mounts cannot be linked or renamed into each other (EXDEV).
    pub fn mount_of(&self, guest: &[u8]) -> usize {
        let (m, _) = self.mounts.find(&comps(guest));
        self.mounts.mounts().iter().position(|x| x == m).unwrap_or(usize::MAX)
    }

    /// Paths need no translation: the guest sees the host's tree.
    pub fn is_identity(&self) -> bool {
        !self.translate_all && self.mounts.is_identity()
    }

    /// The guests' mount calls are made by the kernel, in lxrun's private mount namespace.
    pub fn set_kernel_mounts(&mut self, km: kernel_mounts::KernelMounts) {
        self.kernel_mounts = Some(km);
    }

    pub fn kernel_mounts(&self) -> Option<&kernel_mounts::KernelMounts> {
        self.kernel_mounts.as_ref()
    }

    /// Makes every path call lxrun's, as in a foreign root, even with the host's tree.
    pub fn translate_all(&mut self) {
        self.translate_all = true;
    }

    /// Resolves `path` as the thread in `view` sees it. With `follow_last` false a final
    /// symlink is returned itself. A missing final component is not an error (`exists` is
    /// false), so creating calls can use the result; a missing directory on the way is ENOENT.
    pub fn resolve(&self, view: &View<'_>, base: Base, path: &[u8], follow_last: bool) -> Result<Resolved, Errno> {
        self.resolve_from(view, base, path, follow_last, false)
    }

    /// Resolves `path` for a call that acts on its final name itself (creates, removes or
    /// renames it): as `resolve` without following a final symlink, even before a trailing
    /// slash, which stays on the entry's name for the kernel to judge.
    pub fn resolve_entry(&self, view: &View<'_>, base: Base, path: &[u8]) -> Result<Resolved, Errno> {
        self.resolve_from(view, base, path, false, true)
    }

    fn resolve_from(
        &self,
        view: &View<'_>,
        base: Base,
        path: &[u8],
        follow_last: bool,
        entry_only: bool,
    ) -> Result<Resolved, Errno> {
        let start = if path.first() == Some(&b'/') {
            walk::Start::default()
        } else {
            match base {
                Base::Cwd => self.start_of(view, None)?,
                Base::Fd(fd) => self.start_of(view, Some(fd))?,
            }
        };
        walk::Walk {
            entry_only,
            ..self.walker(view, false)
        }
        .resolve(start, path, follow_last)
    }

    /// Resolves `path` from `view.cwd` (a guest path, whatever the thread's own cwd is),
    /// confined to `view.root` as openat2's RESOLVE_IN_ROOT does, or with `beneath` as its
    /// RESOLVE_BENEATH: EXDEV where the lookup would leave it (an absolute path or symlink, a
    /// `..` at the root).
    pub fn resolve_within(
        &self,
        view: &View<'_>,
        path: &[u8],
        follow_last: bool,
        beneath: bool,
    ) -> Result<Resolved, Errno> {
        let start = walk::Start {
            comps: comps(view.cwd),
            fd: None,
        };
        self.walker(view, beneath).resolve(start, path, follow_last)
    }

    /// [`Vfs::resolve_within`] with RESOLVE_BENEATH.
    pub fn resolve_beneath(&self, view: &View<'_>, path: &[u8], follow_last: bool) -> Result<Resolved, Errno> {
        self.resolve_within(view, path, follow_last, true)
    }

    /// Where a relative lookup starts: the calling thread's real directory (its cwd, or its
    /// descriptor `fd`) when lxrun can reach it, named by reverse translation; else the view's
    /// guest cwd (or the guest path of `fd`).
    fn start_of(&self, view: &View<'_>, fd: Option<i32>) -> Result<walk::Start, Errno> {
        let Some(dir) = view.guests.borrow(fd) else {
            let comps = match fd {
                None => comps(view.cwd),
                Some(fd) => comps(&self.dir_of_fd(view, fd)?),
            };
            return Ok(walk::Start { comps, fd: None });
        };
        let dir = Opened::new(dir?);
        let meta = dir.metadata().map_err(|e| Errno::from_io(&e))?;
        if !meta.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        // Its name now (a cwd renamed since is named as it is now); a deleted directory keeps
        // the name it had, for `..`.
        // Deeper than PATH_MAX, it is named by climbing to an ancestor the kernel names.
        let guest = self.guest_of_dir(&dir);
        let comps = match (guest, fd) {
            (Some(g), _) => comps(&g),
            // Too long a name for the kernel to give (the guest's own record has it), or not in
            // the guest's view at all: no descriptor to start from outside it.
            (None, None) if self.cwd_matches(view, &meta) => comps(view.cwd),
            (None, _) => return Err(Errno::ENOENT),
        };
        Ok(walk::Start { comps, fd: Some(dir) })
    }

    /// Whether the view's guest cwd still names the directory `meta` describes.
    fn cwd_matches(&self, view: &View<'_>, meta: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        self.walker(view, false)
            .open_canonical(&comps(view.cwd))
            .and_then(|o| o.metadata().map_err(|e| Errno::from_io(&e)))
            .is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
    }

    fn walker<'a>(&'a self, view: &View<'a>, beneath: bool) -> walk::Walk<'a> {
        walk::Walk {
            vfs: self,
            guests: view.guests,
            root: comps(view.root),
            beneath,
            entry_only: false,
        }
    }

    /// What `readlink` of canonical guest path `guest` says when it is one of /proc's magic
    /// links (`/proc/self`, `/proc/PID/{root,cwd,exe,fd/N}`): the guest's answer, not the
    /// host's. None for any other path.
    pub fn proc_link(&self, view: &View<'_>, guest: &[u8]) -> Option<Vec<u8>> {
        self.walker(view, false).proc_link(&comps(guest))
    }

    /// The object open as `fd` in the calling thread (for `AT_EMPTY_PATH` and the calls that
    /// act on a descriptor): the file itself when lxrun can borrow it, named by reverse
    /// translation, with the read-only flag of the mount it is on.
    pub fn resolve_fd(&self, view: &View<'_>, fd: i32) -> Result<Resolved, Errno> {
        let (_, tid) = view.guests.caller();
        let magic = PathBuf::from(format!("/proc/{tid}/fd/{fd}"));
        let opened = match view.guests.borrow(Some(fd)) {
            Some(file) => Some(Opened::new(file?)),
            None => None,
        };
        let link = match &opened {
            Some(o) => PathBuf::from(format!("/proc/self/fd/{}", o.fd().as_raw_fd())),
            None => magic.clone(),
        };
        let host = match std::fs::read_link(&link) {
            Ok(host) => host,
            // Deeper than the kernel names (a page): held, but nameless (an empty guest path).
            Err(e) if opened.is_some() && e.raw_os_error() == Some(libc::ENAMETOOLONG) => PathBuf::new(),
            Err(_) => return Err(Errno::EBADF),
        };
        let guest = if host.as_os_str().is_empty() {
            Some(Vec::new())
        } else {
            self.guest_of(&host)
        };
        let readonly = guest.as_deref().is_some_and(|g| self.mounts.find(&comps(g)).0.readonly);
        Ok(Resolved {
            guest: guest.unwrap_or_else(|| host.as_os_str().as_bytes().to_vec()),
            host: if host.is_absolute() && host.exists() {
                host
            } else {
                magic
            },
            exists: true,
            readonly,
            special: None,
            opened,
            entry: None,
            later: None,
            mount_root: false,
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

    /// The guest's name for directory `dir`, at any depth (`deep::host_path`).
    pub(crate) fn guest_of_dir(&self, dir: &Opened) -> Option<Vec<u8>> {
        deep::host_path(dir).and_then(|host| self.guest_of(path(&host)))
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
