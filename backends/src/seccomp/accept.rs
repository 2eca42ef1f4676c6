//! Systrap mode's accept/accept4 of an AF_UNIX socket whose peer's name the guest asked for
//! (where the handler wants the call's exit, which no tracer sees here): lxrun accepts on its
//! copy of the guest's socket, writes the peer's name as the guest knows it, and installs the
//! new socket as the call's result. A blocking accept waits on a thread of its own.
//!
//! A connection lxrun has accepted is lost if the guest stops waiting before it is installed
//! (a signal, or the thread killed): the wait checks for that, leaving only the moment between
//! the check and the answer. Unlike the kernel, which takes the descriptor number first, a
//! guest out of descriptors fails with EMFILE after the connection was taken.

use lxrun_syscalls::{After, Errno, SyscallArgs, SyscallCtx};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

/// How long a blocking accept waits between checks that the guest still awaits it.
const RECHECK_MS: i32 = 200;

/// What accept is asked to do: lxrun's copy of the guest's socket, accept4's flags and where
/// the peer's name goes.
struct Accept {
    sock: OwnedFd,
    flags: i32,
    after: After,
}

/// Answers the accept (None: answered already, or by the thread it waits on).
pub(super) fn serve(
    world: &Arc<lxrun_syscalls::world::World>,
    listener: &Arc<OwnedFd>,
    req: &libc::seccomp_notif,
    ctx: &SyscallCtx<'_>,
    call: &SyscallArgs,
    after: After,
) -> Option<libc::seccomp_notif_resp> {
    let flags = if call.nr == libc::SYS_accept4 as u64 {
        call.args[3] as i32
    } else {
        0
    };
    let sock = match lxrun_syscalls::fds::borrow(ctx.tid, ctx.tgid, call.args[0] as i32) {
        Ok(sock) => sock,
        Err(e) => return Some(failed(req.id, e)),
    };
    let accept = Accept { sock, flags, after };
    // Only a listening socket whose file is blocking can wait (any other fails or returns
    // at once).
    if !accept.may_wait() {
        return accept.run(ctx, listener.as_raw_fd(), req);
    }
    super::on_own_thread(world, listener, req, ctx, move |ctx, fd, req| {
        if !accept.connection_or_gone(fd, req.id) {
            return None;
        }
        accept.run(ctx, fd, req)
    });
    None
}

impl Accept {
    fn may_wait(&self) -> bool {
        let fd = self.sock.as_raw_fd();
        // SAFETY: F_GETFL on a descriptor we own.
        let status = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        let mut listening: libc::c_int = 0;
        let mut size = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `listening` and `size` describe a local int.
        let got = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ACCEPTCONN,
                (&mut listening as *mut libc::c_int).cast(),
                &mut size,
            )
        };
        status >= 0 && status & libc::O_NONBLOCK == 0 && got == 0 && listening != 0
    }

    /// Waits until a connection is there to accept (true), or notification `id` is no longer
    /// awaited (false): a guest thread interrupted by a signal stops waiting, and may come
    /// again with a new notification; a connection taken for the old one would be lost.
    fn connection_or_gone(&self, listener: i32, id: u64) -> bool {
        loop {
            let mut p = libc::pollfd {
                fd: self.sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: polls one descriptor we own.
            let n = unsafe { libc::poll(&mut p, 1, RECHECK_MS) };
            if !awaited(listener, id) {
                return false;
            }
            // Ready, or an error accept will report.
            if n > 0 || (n < 0 && Errno::last() != Errno::EINTR) {
                return true;
            }
        }
    }

    /// Accepts, writes the peer's name for the guest and installs the new socket (None: the
    /// answer went with it, or the guest no longer waits).
    fn run(&self, ctx: &SyscallCtx<'_>, listener: i32, req: &libc::seccomp_notif) -> Option<libc::seccomp_notif_resp> {
        // SOCK_NONBLOCK is the new file's status, which it keeps when installed; close-on-exec
        // is the guest's descriptor's, given by ADDFD.
        let mut sa = [0u8; size_of::<libc::sockaddr_storage>()];
        let mut len = sa.len() as libc::socklen_t;
        // SAFETY: `sa` and `len` describe a local buffer.
        let fd = unsafe {
            libc::accept4(
                self.sock.as_raw_fd(),
                sa.as_mut_ptr().cast(),
                &mut len,
                self.flags | libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            return Some(failed(req.id, Errno::last()));
        }
        // SAFETY: a fresh descriptor from accept4.
        let new = unsafe { OwnedFd::from_raw_fd(fd) };
        // Guest memory is written only for a thread still waiting (its id may be another's).
        if !awaited(listener, req.id) {
            return None;
        }
        let reported = &sa[..(len as usize).min(sa.len())];
        // The kernel's order: the name, then the descriptor (a fault fails the call).
        if let Err(e) = lxrun_syscalls::write_accepted_peer(ctx, self.after, &new, reported) {
            return Some(failed(req.id, e));
        }
        let cloexec = self.flags & libc::SOCK_CLOEXEC != 0;
        super::install(listener, req.id, new, cloexec, answer(req.id))
    }
}

/// Whether notification `id` still waits for its answer.
fn awaited(listener: i32, id: u64) -> bool {
    // SAFETY: ID_VALID reads the id.
    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 }
}

fn answer(id: u64) -> libc::seccomp_notif_resp {
    libc::seccomp_notif_resp {
        id,
        val: 0,
        error: 0,
        flags: 0,
    }
}

fn failed(id: u64, e: Errno) -> libc::seccomp_notif_resp {
    libc::seccomp_notif_resp {
        error: -e.raw(),
        ..answer(id)
    }
}
