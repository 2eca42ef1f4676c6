//! Systrap mode's O_PATH opens (`SYS_LXRUN_OPEN_PATH`): SECCOMP_IOCTL_NOTIF_ADDFD refuses O_PATH
//! files, but SCM_RIGHTS passes them. lxrun performs the open as it would answer the guest's
//! call, sends the descriptor over a socket pair and puts the receiving end into the guest; the
//! stub's handler receives the descriptor there and closes the socket.

use super::perform::{self, Done};
use lxrun_syscalls::{Errno, Outcome, SyscallArgs, SyscallCtx};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The answer to a SYS_LXRUN_OPEN_PATH: the number of the socket the descriptor waits on.
pub(super) fn serve(
    ctx: &mut SyscallCtx<'_>,
    call: &SyscallArgs,
    listener: i32,
    req: &libc::seccomp_notif,
) -> libc::seccomp_notif_resp {
    let mut resp = libc::seccomp_notif_resp {
        id: req.id,
        val: 0,
        error: 0,
        flags: 0,
    };
    match open_and_pass(ctx, call, listener, req.id) {
        Ok(sock) => resp.val = i64::from(sock),
        Err(e) => resp.error = -e.raw(),
    }
    resp
}

fn open_and_pass(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs, listener: i32, id: u64) -> Result<i32, Errno> {
    let (open, outcome) = lxrun_syscalls::open_path_for_stub(ctx, call)?;
    let rewrite = match outcome {
        Outcome::Rewrite(args) => args,
        // The host's own tree: the call as the guest made it.
        Outcome::Continue => Vec::new(),
        Outcome::Fail(e) => return Err(e),
        other => {
            tracing::warn!(tid = ctx.tid, ?other, "an open answered with no descriptor");
            return Err(Errno::ENOSYS);
        }
    };
    // What was read from the guest belongs to this very call of a still-living thread.
    // SAFETY: ID_VALID reads the id.
    if unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &id) } != 0 {
        return Err(Errno::last());
    }
    match perform::perform(ctx, &open, &rewrite)? {
        Done::NewFd { fd, .. } => pass(listener, id, &fd),
        Done::Value(_) => Err(Errno::ENOSYS),
    }
}

/// Sends `fd` over a new socket pair and puts the receiving end into the guest (close-on-exec:
/// the handler closes it at once); its number there.
fn pass(listener: i32, id: u64, fd: &OwnedFd) -> Result<i32, Errno> {
    let mut pair = [0i32; 2];
    // SAFETY: socketpair fills `pair`; both descriptors are owned right after.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
            pair.as_mut_ptr(),
        )
    } != 0
    {
        return Err(Errno::last());
    }
    // SAFETY: fresh descriptors from socketpair.
    let (tx, rx) = unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };
    send_fd(&tx, fd)?;
    // The message stays queued on the receiving end once lxrun closes both of its copies.
    super::add_fd(listener, id, rx.as_raw_fd(), 0, libc::O_CLOEXEC as u32, 0)
}

/// Sends one byte with `fd` in SCM_RIGHTS on `sock`.
fn send_fd(sock: &OwnedFd, fd: &OwnedFd) -> Result<(), Errno> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // CMSG_SPACE(sizeof(int)), 8-byte aligned as a cmsghdr must be.
    let mut control = [0u64; 3];
    // SAFETY: msghdr is plain data; zeroed is its empty value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: the control buffer holds one header and an int (CMSG_FIRSTHDR is not null for
    // it); sendmsg reads `msg` and what it points at, all alive.
    let sent = unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<i32>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<i32>(), fd.as_raw_fd());
        libc::sendmsg(sock.as_raw_fd(), &msg, 0)
    };
    if sent < 0 {
        return Err(Errno::last());
    }
    Ok(())
}
