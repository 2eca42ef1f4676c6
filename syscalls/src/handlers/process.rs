//! Calls that reach into another process: allowed between guest processes, refused towards
//! anything else (lxrun itself above all: its memory and descriptors are the way out).

use crate::context::SyscallCtx;
use crate::outcome::Outcome;
use crate::{Errno, SyscallArgs};

/// process_vm_readv / process_vm_writev: the target pid is argument 0, the flags argument 5
/// (checked first, as the kernel does). ESRCH for a pid that does not exist.
pub(crate) fn process_vm(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    if call.args[5] != 0 {
        return Err(Errno::EINVAL);
    }
    guest_target(ctx, call.args[0] as i32)?;
    Ok(Outcome::Continue)
}

/// pidfd_getfd: allowed when the pidfd (argument 0) stands for a guest process, and performed
/// by lxrun on its own copy of that pidfd (the guest may put another one at its number after
/// the check: a pidfd of lxrun would hand it lxrun's descriptors). Its process comes from the
/// descriptor's fdinfo; what is no pidfd is EBADF, as the kernel answers.
pub(crate) fn pidfd_getfd(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // The flags are an unsigned int: only the low half of the register counts.
    if call.args[2] as u32 != 0 {
        return Err(Errno::EINVAL);
    }
    let pidfd = crate::fds::borrow(ctx.tid, ctx.tgid, call.args[0] as i32).map_err(|_| Errno::EBADF)?;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd())).map_err(|_| Errno::EBADF)?;
    let pid: i32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|p| p.trim().parse().ok())
        .ok_or(Errno::EBADF)?;
    guest_target(ctx, pid)?;
    // SAFETY: a raw syscall; its new descriptor is owned at once.
    let got = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), call.args[1] as i32, 0) };
    if got < 0 {
        return Err(Errno::last());
    }
    // The kernel's pidfd_getfd gives a close-on-exec descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(got as i32) };
    Ok(Outcome::NewFd { fd, cloexec: true })
}

/// Whether `pid` (a process or thread id) is a guest's: one lxrun knows, or a descendant of
/// one (a fork lxrun has not met yet: in systrap mode a child is discovered at its first
/// trapped call, and the stub's fast path traps few). ESRCH where no such task exists, EPERM
/// for anything else: lxrun itself, its guardian, the host's processes.
fn guest_target(ctx: &SyscallCtx<'_>, pid: i32) -> Result<(), Errno> {
    use lxrun_vfs::Guests;
    if pid <= 0 || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return Err(Errno::ESRCH);
    }
    if ctx.is_guest(pid) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// umask: recorded (lxrun applies it to files it creates for the guest), then run natively.
pub(crate) fn umask(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    ctx.process.fs().umask = call.args[0] as u32 & 0o777;
    Ok(Outcome::Continue)
}

/// setuid and friends: noted (calls lxrun performs for the process must use its new
/// credentials), then run natively.
pub(crate) fn credentials(ctx: &mut SyscallCtx<'_>, _call: &SyscallArgs) -> Result<Outcome, Errno> {
    ctx.process.state().creds_changed = true;
    Ok(Outcome::Continue)
}
