//! Descriptors of guest processes, borrowed into lxrun.

use crate::Errno;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// PIDFD_THREAD (Linux 6.9): a pidfd of one thread, not of its thread group.
const PIDFD_THREAD: i32 = libc::O_EXCL;

/// A duplicate of descriptor `fd` of thread `tid` (of process `tgid`), for lxrun to use: the
/// same open file description (pidfd_open + pidfd_getfd, Linux 5.6). The thread's own table
/// where the kernel can name a thread (6.9); else the process's, which its threads share
/// (a plain pidfd_open refuses a thread that is not its group's leader).
pub fn borrow(tid: i32, tgid: i32, fd: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: raw syscalls; each descriptor is owned as soon as it exists.
    unsafe {
        let mut pidfd = libc::syscall(libc::SYS_pidfd_open, tid, PIDFD_THREAD) as i32;
        if pidfd < 0 && Errno::last() == Errno::EINVAL {
            pidfd = libc::syscall(libc::SYS_pidfd_open, tgid, 0) as i32;
        }
        if pidfd < 0 {
            return Err(Errno::last());
        }
        let pidfd = OwnedFd::from_raw_fd(pidfd);
        let got = libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) as i32;
        if got < 0 {
            return Err(Errno::last());
        }
        Ok(OwnedFd::from_raw_fd(got))
    }
}

/// Whether descriptor `fd` of thread `tid` is close-on-exec (its fdinfo's flags show the
/// descriptor table's bit as O_CLOEXEC). None when the thread or the descriptor is gone.
pub fn close_on_exec(tid: i32, fd: i32) -> Option<bool> {
    let info = std::fs::read_to_string(format!("/proc/{tid}/fdinfo/{fd}")).ok()?;
    let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?;
    let flags = u32::from_str_radix(flags.trim(), 8).ok()?;
    Some(flags & libc::O_CLOEXEC as u32 != 0)
}
