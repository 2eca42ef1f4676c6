//! Credentials for work done on a guest's behalf: a thread of lxrun takes a guest thread's
//! filesystem ids (or real ids) for one lookup or call, so the kernel checks the guest, not
//! lxrun, on every directory searched and every object touched.

use crate::Errno;

/// The calling worker thread takes a guest thread's filesystem credentials for one call, and
/// gets its own back when dropped. (setfsuid, setfsgid and setgroups as raw syscalls act on
/// the calling thread only; glibc's wrappers would change every thread of lxrun.)
pub struct AsGuest {
    uid: u32,
    gid: u32,
    groups: Vec<libc::gid_t>,
}

/// Which of a thread's ids a call on its behalf takes.
#[derive(Clone, Copy)]
pub enum Ids {
    /// The filesystem ids (what the kernel checks for almost every call).
    Fs,
    /// The real ids (what access(2) checks).
    Real,
}

/// What /proc/TID/status says of a thread's ids and capabilities.
pub struct Status {
    /// Real, effective, saved and filesystem ids.
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub groups: Vec<libc::gid_t>,
    /// The effective capabilities.
    cap_eff: u64,
}

impl Status {
    /// Thread `tid`'s (0: lxrun's own).
    pub fn of(tid: i32) -> Option<Status> {
        let path = if tid == 0 {
            "/proc/thread-self/status".to_string()
        } else {
            format!("/proc/{tid}/status")
        };
        let status = std::fs::read_to_string(path).ok()?;
        let field = |key: &str| status.lines().find_map(|l| l.strip_prefix(key));
        let ids = |key: &str| -> Option<[u32; 4]> {
            let mut ids = field(key)?.split_whitespace().map(|x| x.parse().ok());
            Some([ids.next()??, ids.next()??, ids.next()??, ids.next()??])
        };
        Some(Status {
            uid: ids("Uid:")?,
            gid: ids("Gid:")?,
            groups: field("Groups:")
                .map(|g| g.split_whitespace().filter_map(|x| x.parse().ok()).collect())
                .unwrap_or_default(),
            cap_eff: u64::from_str_radix(field("CapEff:")?.trim(), 16).ok()?,
        })
    }

    pub fn has_cap(&self, cap: u32) -> bool {
        self.cap_eff & (1u64 << cap) != 0
    }
}

/// The uid and gid of kind `ids`, and the groups, of thread `tid`.
fn guest_ids(tid: i32, ids: Ids) -> Option<(u32, u32, Vec<libc::gid_t>)> {
    let s = Status::of(tid)?;
    let index = match ids {
        Ids::Real => 0,
        Ids::Fs => 3,
    };
    Some((s.uid[index], s.gid[index], s.groups))
}

impl AsGuest {
    /// Takes thread `tid`'s ids of kind `ids` until dropped. Fails (ESRCH) when the thread is
    /// gone, and (EPERM) when the kernel refuses one of the changes: no call may then run with
    /// lxrun's own ids in place of the guest's.
    pub fn enter(tid: i32, ids: Ids) -> Result<AsGuest, Errno> {
        let (uid, gid, groups) = guest_ids(tid, ids).ok_or(Errno::ESRCH)?;
        // SAFETY: plain id queries and per-thread id changes, undone in Drop.
        unsafe {
            let mine = AsGuest {
                uid: libc::syscall(libc::SYS_setfsuid, -1i32) as u32,
                gid: libc::syscall(libc::SYS_setfsgid, -1i32) as u32,
                groups: {
                    let n = libc::getgroups(0, std::ptr::null_mut()).max(0) as usize;
                    let mut g = vec![0; n];
                    let n = libc::getgroups(n as i32, g.as_mut_ptr()).max(0) as usize;
                    g.truncate(n);
                    g
                },
            };
            let set = libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr());
            libc::syscall(libc::SYS_setfsgid, gid);
            libc::syscall(libc::SYS_setfsuid, uid);
            // setfsuid and setfsgid answer the previous id whatever happens: ask again.
            let took = libc::syscall(libc::SYS_setfsuid, -1i32) as u32 == uid
                && libc::syscall(libc::SYS_setfsgid, -1i32) as u32 == gid;
            if set != 0 || !took {
                drop(mine);
                return Err(Errno::EPERM);
            }
            Ok(mine)
        }
    }
}

impl Drop for AsGuest {
    fn drop(&mut self) {
        // SAFETY: restoring this thread's own ids.
        unsafe {
            libc::syscall(libc::SYS_setfsuid, self.uid);
            libc::syscall(libc::SYS_setfsgid, self.gid);
            libc::syscall(libc::SYS_setgroups, self.groups.len(), self.groups.as_ptr());
        }
    }
}
