//! What a handler gets: the calling thread, its process, its memory and the shared world.

use crate::memory::GuestMemory;
use crate::process::Process;
use crate::world::World;
use crate::Errno;
use lxrun_vfs::{Base, Guests, ProcPaths, Resolved, View};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::sync::Arc;

/// The context of one trapped syscall.
pub struct SyscallCtx<'a> {
    /// The calling thread's id (host pid namespace, which is the guest's too).
    pub tid: i32,
    /// Its thread group (process) id.
    pub tgid: i32,
    pub process: Arc<Process>,
    pub mem: GuestMemory,
    pub world: &'a World,
    /// Where the backend can put a file into the calling process at once (close-on-exec),
    /// returning its number there.
    pub install_fd: Option<&'a InstallFd<'a>>,
}

/// Puts a file into the calling process (close-on-exec), at the given number if any; its
/// number there.
pub type InstallFd<'a> = dyn Fn(std::os::fd::BorrowedFd<'_>, Option<i32>) -> Result<i32, Errno> + 'a;

impl SyscallCtx<'_> {
    /// The guest program's name for messages: its exe's file name.
    pub fn program(&self) -> String {
        let exe = self.process.state().exe.clone();
        let base = exe.rsplit(|&c| c == b'/').next().unwrap_or_default();
        String::from_utf8_lossy(base).into_owned()
    }
}

impl SyscallCtx<'_> {
    /// A fake root's identity of the calling process (None without a fake root).
    pub fn identity(&self) -> Option<crate::identity::Identity> {
        self.with_identity(|id| id.clone())
    }

    /// Runs `f` on the calling process's fake identity (None without a fake root).
    pub fn with_identity<R>(&self, f: impl FnOnce(&mut crate::identity::Identity) -> R) -> Option<R> {
        let fake = self.world.fake.as_ref()?;
        let mut state = self.process.state();
        Some(f(state.identity.get_or_insert_with(|| fake.start.clone())))
    }
}

impl SyscallCtx<'_> {
    /// Whether the guest set no_new_privs in this process (a fake root's ids keep it).
    pub fn no_new_privs(&self) -> bool {
        self.with_identity(|id| id.no_new_privs)
            .unwrap_or_else(|| self.process.state().no_new_privs)
    }

    /// The guest sets no_new_privs in this process (for good, as the kernel's).
    pub fn set_no_new_privs(&self) {
        if self.with_identity(|id| id.no_new_privs = true).is_none() {
            self.process.state().no_new_privs = true;
        }
    }

    /// Resolves a guest path as this thread sees it (its root, its cwd or `base`).
    pub fn resolve(&self, base: Base, path: &[u8], follow_last: bool) -> Result<Resolved, Errno> {
        self.in_view(|view| self.world.vfs.resolve(view, base, path, follow_last))
    }

    /// Resolves `path` for a call that creates, removes or renames its final name
    /// ([`lxrun_vfs::Vfs::resolve_entry`]).
    pub fn resolve_entry(&self, base: Base, path: &[u8]) -> Result<Resolved, Errno> {
        self.in_view(|view| self.world.vfs.resolve_entry(view, base, path))
    }

    /// Runs a lookup in this thread's view (its root and cwd), with its credentials.
    fn in_view(&self, lookup: impl FnOnce(&View<'_>) -> Result<Resolved, Errno>) -> Result<Resolved, Errno> {
        let _as_guest = self.as_guest()?;
        let (root, cwd) = self.dirs();
        let r = lookup(&View {
            root: &root,
            cwd: &cwd,
            guests: self,
        })?;
        self.fake_search(&r)?;
        Ok(r)
    }

    /// A fake identity without CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH may reach only what it
    /// may search its way to: each directory above the object, by the recorded modes (EACCES).
    /// The host user, who owns them all, passes every such check on the host. (Checked on the
    /// object's canonical path: a relative lookup below a directory the caller cannot search
    /// from above is refused here where Linux allows it.)
    fn fake_search(&self, r: &Resolved) -> Result<(), Errno> {
        use crate::identity::{CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH};
        let (Some(fake), Some(id)) = (self.world.fake.as_ref(), self.identity()) else {
            return Ok(());
        };
        if id.capable(CAP_DAC_OVERRIDE) || id.capable(CAP_DAC_READ_SEARCH) {
            return Ok(());
        }
        let view = View {
            root: b"/",
            cwd: b"/",
            guests: &lxrun_vfs::NoGuests,
        };
        let ends = r.guest.iter().enumerate().filter(|&(_, &c)| c == b'/').map(|(i, _)| i);
        for end in ends {
            let dir = if end == 0 { &b"/"[..] } else { &r.guest[..end] };
            let Ok(d) = self.world.vfs.resolve(&view, Base::Cwd, dir, true) else {
                continue;
            };
            let Some(o) = d.opened.as_ref() else { continue };
            let (_, m) = crate::handlers::owner::seen(fake, o)?;
            if !crate::handlers::owner::permitted(&id, &m, 1) {
                return Err(Errno::EACCES);
            }
        }
        Ok(())
    }

    /// Resolves `path` confined to guest directory `root`, both the root and the start of the
    /// lookup: as openat2's RESOLVE_IN_ROOT (absolute names and `..` stay inside), or with
    /// `beneath` as its RESOLVE_BENEATH (EXDEV where the lookup would leave `root`).
    pub fn resolve_within(
        &self,
        root: &[u8],
        path: &[u8],
        follow_last: bool,
        beneath: bool,
    ) -> Result<Resolved, Errno> {
        let _as_guest = self.as_guest()?;
        let view = View {
            root,
            cwd: root,
            guests: self,
        };
        self.world.vfs.resolve_within(&view, path, follow_last, beneath)
    }

    /// Once the guest has changed its credentials, lookups run with its filesystem ids, so the
    /// kernel checks search permission on every directory of the walk for the guest.
    pub(crate) fn as_guest(&self) -> Result<Option<crate::creds::AsGuest>, Errno> {
        if !self.process.state().creds_changed {
            return Ok(None);
        }
        crate::creds::AsGuest::enter(self.tid, crate::creds::Ids::Fs).map(Some)
    }

    /// The process's root and cwd as guest paths. With the host's own tree, chdir is not
    /// trapped, so the kernel's cwd is the truth.
    pub fn dirs(&self) -> (Vec<u8>, Vec<u8>) {
        if self.world.vfs.is_identity() {
            let cwd = std::fs::read_link(format!("/proc/{}/cwd", self.tid))
                .map(|p| p.into_os_string().into_vec())
                .unwrap_or_else(|_| b"/".to_vec());
            return (b"/".to_vec(), cwd);
        }
        let fs = self.process.fs();
        (fs.root.clone(), fs.cwd.clone())
    }

    /// The guest path of the thread's current directory, from the kernel's cwd (the recorded
    /// one where the kernel cannot name it: longer than a page).
    pub fn guest_cwd(&self) -> Result<Vec<u8>, Errno> {
        match std::fs::read_link(format!("/proc/{}/cwd", self.tid)) {
            Ok(host) => {
                let host = host.into_os_string().into_vec();
                if host.ends_with(b" (deleted)")
                    && std::fs::metadata(format!("/proc/{}/cwd", self.tid)).is_ok_and(|m| m.nlink() == 0)
                {
                    return Err(Errno::ENOENT);
                }
                self.world.vfs.guest_of(lxrun_vfs::path(&host)).ok_or(Errno::ENOENT)
            }
            Err(e) if e.raw_os_error() == Some(libc::ENAMETOOLONG) => Ok(self.process.fs().cwd.clone()),
            Err(e) => Err(Errno::from_io(&e)),
        }
    }

    /// The object open as `fd` in this thread (for AT_EMPTY_PATH).
    pub fn resolve_fd(&self, fd: i32) -> Result<Resolved, Errno> {
        let view = View {
            root: b"/",
            cwd: b"/",
            guests: self,
        };
        self.world.vfs.resolve_fd(&view, fd)
    }
}

impl Guests for SyscallCtx<'_> {
    fn caller(&self) -> (i32, i32) {
        (self.tgid, self.tid)
    }

    fn borrow(&self, fd: Option<i32>) -> Option<Result<std::os::fd::OwnedFd, Errno>> {
        Some(match fd {
            None => std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(format!("/proc/{}/cwd", self.tid))
                .map(std::os::fd::OwnedFd::from)
                .map_err(|e| Errno::from_io(&e)),
            Some(fd) => {
                crate::fds::borrow(self.tid, self.tgid, fd)
                    .map_err(|e| if e == Errno::EBADF { e } else { Errno::EBADF })
            }
        })
    }

    fn is_guest(&self, pid: i32) -> bool {
        // A process lxrun has not met yet (systrap mode meets them at their first trapped
        // call) is a guest when its parent line reaches one.
        let mut pid = pid;
        for _ in 0..64 {
            if self.world.process_of(pid).is_some() {
                return true;
            }
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let Some(ppid) = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok())
            else {
                return false;
            };
            if ppid <= 1 {
                return false;
            }
            pid = ppid;
        }
        false
    }

    fn process_paths(&self, pid: i32) -> Option<ProcPaths> {
        let p = self.world.process_of(pid)?;
        let exe = p.state().exe.clone();
        let fs = p.fs();
        Some(ProcPaths {
            root: fs.root.clone(),
            cwd: fs.cwd.clone(),
            exe,
        })
    }
}
