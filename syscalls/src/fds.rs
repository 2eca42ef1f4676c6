//! Descriptors of guest processes, borrowed into lxrun.

use crate::Errno;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A duplicate of descriptor `fd` of process (or thread) `pid`, for lxrun to use: the same open
/// file description (pidfd_open + pidfd_getfd, Linux 5.6).
pub fn borrow(pid: i32, fd: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: raw syscalls; each descriptor is owned as soon as it exists.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as i32;
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
