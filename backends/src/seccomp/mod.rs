//! The seccomp user-notify backend's half: worker threads that receive trapped calls on the
//! listener fd, dispatch them like any other backend, and answer — performing translated calls
//! on the guest's behalf (see `perform`) instead of letting a rewritten path run, so the guest
//! cannot change a path after lxrun has read it.

mod accept;
pub(crate) mod fast_path;
mod open_path;
pub(crate) mod perform;
mod sendmsg;
pub(crate) mod systrap;

use lxrun_syscalls::memory::GuestMemory;
use lxrun_syscalls::world::{Handoff, World};
use lxrun_syscalls::{dispatch, After, Errno, NewArg, Outcome, SyscallArgs, SyscallCtx};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

/// How many threads serve notifications: one per CPU, at least two.
fn workers() -> usize {
    if let Some(n) = std::env::var("LXRUN_WORKERS").ok().and_then(|v| v.parse().ok()) {
        return n;
    }
    // The CPUs this process may run on (available_parallelism also reads cgroup quota files,
    // a dozen calls at every start).
    // SAFETY: sched_getaffinity fills the zeroed set; CPU_COUNT reads it.
    let cpus = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            libc::CPU_COUNT(&set) as usize
        } else {
            2
        }
    };
    cpus.max(2)
}

/// The worker threads, started before the guest so they are waiting when its first
/// notification comes (a thread created while the guest already runs can leave it waiting for
/// a scheduler tick). They live until lxrun exits (a worker blocked in NOTIF_RECV cannot be
/// woken once the last guest is gone, and need not be).
pub(crate) struct Pool {
    listeners: Vec<std::sync::mpsc::Sender<Arc<OwnedFd>>>,
}

impl Pool {
    pub(crate) fn start(world: &Arc<World>) -> Pool {
        let mut listeners = Vec::new();
        for i in 0..workers() {
            let (tx, rx) = std::sync::mpsc::channel::<Arc<OwnedFd>>();
            let world = world.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("lxrun-notify-{i}"))
                .spawn(move || {
                    if let Ok(fd) = rx.recv() {
                        worker(&fd, &world);
                    }
                });
            match spawned {
                Ok(_) => listeners.push(tx),
                Err(e) => tracing::warn!("cannot start a notification worker: {e}"),
            }
        }
        Pool { listeners }
    }

    /// Hands the guest's listener to the workers.
    pub(crate) fn serve(self, listener: OwnedFd) {
        // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (6.6): wake the worker on the guest's CPU.
        // SAFETY: an ioctl on our listener with a flag word.
        let sync = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS, 1u64) };
        tracing::debug!(
            "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: {}",
            if sync == 0 {
                "on".into()
            } else {
                Errno::last().to_string()
            }
        );
        // Files lxrun creates for the guest get the guest's umask, applied by hand.
        // SAFETY: umask has no preconditions.
        unsafe { libc::umask(0) };
        let listener = Arc::new(listener);
        for tx in self.listeners {
            let _ = tx.send(listener.clone());
        }
    }
}

fn worker(listener: &Arc<OwnedFd>, world: &Arc<World>) {
    let fd = listener.as_raw_fd();
    loop {
        // SAFETY: the kernel requires a zeroed request; it is plain data.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: RECV fills `req`.
        if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } < 0 {
            match Errno::last() {
                // The guest thread went away before its call was received; or, once no guest
                // process uses the filter any more, every RECV fails at once: stop then, or
                // the workers would spin and starve the tracer.
                Errno::ENOENT if orphaned(fd) => return,
                Errno::EINTR | Errno::ENOENT => continue,
                e => {
                    tracing::debug!("notification listener closed: {e}");
                    return;
                }
            }
        }
        // A bug in lxrun must not leave the guest waiting forever for its answer (nor take the
        // worker away): the call fails with EIO, and the panic's message is on stderr.
        let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle(world, listener, &req)));
        let answer = answer.unwrap_or_else(|_| {
            tracing::error!(tid = req.pid, nr = req.data.nr, "internal error answering a call: EIO");
            Some(libc::seccomp_notif_resp {
                id: req.id,
                val: 0,
                error: -libc::EIO,
                flags: 0,
            })
        });
        if let Some(resp) = answer {
            // SAFETY: SEND reads `resp`; ENOENT (the guest thread is gone) needs nothing.
            unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) };
        }
    }
}

/// Whether the filter behind listener `fd` has no more users (POLLHUP).
fn orphaned(fd: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: polls one descriptor we own, without waiting.
    unsafe { libc::poll(&mut p, 1, 0) >= 0 && p.revents & (libc::POLLHUP | libc::POLLERR) != 0 }
}

/// The answer to one notification; None when it was already sent (ADDFD with SEND) or will be
/// by another thread.
fn handle(world: &Arc<World>, listener: &Arc<OwnedFd>, req: &libc::seccomp_notif) -> Option<libc::seccomp_notif_resp> {
    // For the trace below: how long lxrun took to decide (process discovery included).
    let started = std::time::Instant::now();
    let fd = listener.as_raw_fd();
    let mut resp = libc::seccomp_notif_resp {
        id: req.id,
        val: 0,
        error: 0,
        flags: 0,
    };
    let tid = req.pid as i32;
    let known = match (world.tgid_of(tid), world.process_of(tid)) {
        (Some(tgid), Some(process)) => Some((tgid, process)),
        _ if systrap::active(world) => systrap::discover(world, tid),
        _ => None,
    };
    let Some((tgid, process)) = known else {
        tracing::warn!(tid, nr = req.data.nr, "notification from a task lxrun does not know");
        resp.error = -libc::ENOSYS;
        return Some(resp);
    };
    let call = SyscallArgs {
        nr: req.data.nr as u64,
        args: req.data.args,
        arch: req.data.arch,
        sp: 0,
        ip: req.data.instruction_pointer,
    };
    // Files a handler gives the guest at once (the loader's), close-on-exec.
    let install_now = |src: BorrowedFd<'_>, at: Option<i32>| {
        let setfd = if at.is_some() {
            libc::SECCOMP_ADDFD_FLAG_SETFD as u32
        } else {
            0
        };
        add_fd(
            fd,
            req.id,
            src.as_raw_fd(),
            at.unwrap_or(0),
            libc::O_CLOEXEC as u32,
            setfd,
        )
    };
    let mut ctx = SyscallCtx {
        tid,
        tgid,
        process,
        mem: GuestMemory::new(tid),
        world,
        install_fd: Some(&install_now),
    };
    if call.nr == lxrun_loader::abi::SYS_LXRUN_OPEN_PATH && systrap::active(world) {
        return Some(open_path::serve(&mut ctx, &call, fd, req));
    }
    if call.nr == lxrun_loader::abi::SYS_LXRUN_TAKE_FD {
        // Only a call ptrace turned into this one finds a file waiting.
        return match world.take_handoff(tid) {
            Some(Handoff::Fd(file, cloexec)) => install(fd, req.id, file, cloexec, resp),
            // Handed off because it may wait (for a FIFO's other end, a peer's accept or room
            // in its queue), which a call this very pool must serve may bring.
            Some(Handoff::Call(call, args)) => {
                on_own_thread(world, listener, req, &ctx, move |ctx, fd, req| {
                    performed(ctx, &call, &args, fd, req)
                });
                None
            }
            None => {
                resp.error = -libc::ENOSYS;
                Some(resp)
            }
        };
    }
    let outcome = dispatch(&mut ctx, &call);
    tracing::trace!(
        tid,
        nr = call.nr,
        us = started.elapsed().as_micros() as u64,
        ?outcome,
        "notification"
    );
    match outcome {
        Outcome::Continue => resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
        Outcome::NewFd { fd: file, cloexec } => return install(fd, req.id, file, cloexec, resp),
        Outcome::Return(v) => resp.val = v,
        Outcome::Fail(e) => resp.error = -e.raw(),
        Outcome::Rewrite(args) if may_wait(&call, &args) => {
            // Opening a FIFO waits for its other end, and a send for room in its receiver's
            // queue, which may come from a call this very pool must serve.
            on_own_thread(world, listener, req, &ctx, move |ctx, fd, req| {
                performed(ctx, &call, &args, fd, req)
            });
            return None;
        }
        Outcome::Rewrite(args) => return performed(&ctx, &call, &args, fd, req),
        // No tracer sees the call's exit: lxrun accepts for the guest.
        Outcome::ContinueThen(after @ After::PeerName { .. }) if systrap::active(world) => {
            return accept::serve(world, listener, req, &ctx, &call, after)
        }
        Outcome::ContinueThen(_) => {
            // Only ptrace sees a call's exit (proxy::needs_ptrace sends such calls there): in
            // systrap mode the call runs, its result untranslated; elsewhere a table bug.
            if systrap::active(world) {
                tracing::debug!(tid, nr = call.nr, "no work at this call's exit without ptrace");
            } else {
                tracing::warn!(
                    tid,
                    nr = call.nr,
                    "a call with work for its exit arrived by notification"
                );
            }
            resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32;
        }
        Outcome::Exec(_) => {
            // execve is caught by ptrace in this backend; reaching here is a table bug.
            tracing::warn!(tid, "execve arrived by notification");
            resp.error = -libc::ENOSYS;
        }
    }
    Some(resp)
}

/// Answers notification `req` from a thread of its own with what `work` returns (None: it
/// answered already): for a call that may wait for another guest call, which may be one this
/// very pool must serve. `work` gets the listener's fd.
fn on_own_thread<F>(
    world: &Arc<World>,
    listener: &Arc<OwnedFd>,
    req: &libc::seccomp_notif,
    ctx: &SyscallCtx<'_>,
    work: F,
) where
    F: FnOnce(&SyscallCtx<'_>, i32, &libc::seccomp_notif) -> Option<libc::seccomp_notif_resp> + Send + 'static,
{
    let (world, listener, req) = (world.clone(), listener.clone(), *req);
    let (tid, tgid, process) = (ctx.tid, ctx.tgid, ctx.process.clone());
    std::thread::spawn(move || {
        let ctx = SyscallCtx {
            tid,
            tgid,
            process,
            mem: GuestMemory::new(tid),
            world: &world,
            install_fd: None,
        };
        if let Some(resp) = work(&ctx, listener.as_raw_fd(), &req) {
            // SAFETY: SEND reads `resp`.
            unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) };
        }
    });
}

/// Performs a rewritten call for the guest and answers it (None: answered already by ADDFD).
fn performed(
    ctx: &SyscallCtx<'_>,
    call: &SyscallArgs,
    args: &[(usize, NewArg)],
    fd: i32,
    req: &libc::seccomp_notif,
) -> Option<libc::seccomp_notif_resp> {
    let mut resp = libc::seccomp_notif_resp {
        id: req.id,
        val: 0,
        error: 0,
        flags: 0,
    };
    // What was read from the guest belongs to this very call of a still-living thread: checked
    // before any effect but the answer itself.
    let only_answers =
        lxrun_syscalls::table::lookup(call.nr).is_some_and(|e| lxrun_syscalls::proxy::only_answers(e.name));
    // SAFETY: ID_VALID reads the id.
    if !only_answers && unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) } != 0 {
        return None;
    }
    match perform::perform(ctx, call, args) {
        Ok(perform::Done::Value(v)) => resp.val = v,
        Ok(perform::Done::NewFd { fd: host, cloexec }) => return install(fd, req.id, host, cloexec, resp),
        Err(e) => resp.error = -e.raw(),
    }
    Some(resp)
}

/// Whether a performed call may wait for another guest call: an open (of any kind) whose
/// translated path is a FIFO, and not O_NONBLOCK; a send to a named AF_UNIX socket (the only
/// one performed) without MSG_DONTWAIT (a non-blocking socket's gets a thread too, needlessly:
/// telling would take borrowing the socket first).
pub(crate) fn may_wait(call: &SyscallArgs, args: &[(usize, NewArg)]) -> bool {
    let (path_arg, flags) = match lxrun_syscalls::table::name_of(call.nr).as_str() {
        "sendto" => return call.args[3] as i32 & libc::MSG_DONTWAIT == 0,
        "sendmsg" => return call.args[2] as i32 & libc::MSG_DONTWAIT == 0,
        name => match open_flags(call, args) {
            Some(flags) => (if name == "open" { 0 } else { 1 }, flags),
            None => return false,
        },
    };
    if flags as i32 & libc::O_NONBLOCK != 0 {
        return false;
    }
    let meta = match args.iter().find(|(i, _)| *i == path_arg) {
        // The object the lookup holds open, or its entry: no second walk.
        Some((_, NewArg::Path { target, .. })) => match target {
            lxrun_vfs::Target::Object(object) => object.metadata(),
            lxrun_vfs::Target::Entry(dir, name) => return entry_is_fifo(dir, name),
        },
        Some((_, NewArg::Bytes(path))) => std::fs::metadata(lxrun_vfs::path(path.strip_suffix(b"\0").unwrap_or(path))),
        _ => return false,
    };
    meta.map(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()))
        .unwrap_or(false)
}

/// Whether `name` in directory `dir` (not followed) is a FIFO: fstatat on the descriptor, no
/// walk.
fn entry_is_fifo(dir: &lxrun_vfs::Opened, name: &[u8]) -> bool {
    let Ok(name) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: fstatat fills the zeroed stat of a valid C string's entry.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::fstatat(dir.fd().as_raw_fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    rc == 0 && st.st_mode & libc::S_IFMT == libc::S_IFIFO
}

/// The flags of an open, openat or openat2 (from lxrun's copy of its open_how, whose first
/// field they are); None for any other call.
pub(crate) fn open_flags(call: &SyscallArgs, args: &[(usize, NewArg)]) -> Option<u64> {
    match lxrun_syscalls::table::name_of(call.nr).as_str() {
        "open" => Some(call.args[1]),
        "openat" => Some(call.args[2]),
        "openat2" => match args.iter().find(|(i, _)| *i == 2) {
            Some((_, NewArg::Bytes(how))) => Some(u64::from_le_bytes(how.get(..8)?.try_into().ok()?)),
            _ => None,
        },
        _ => None,
    }
}

/// Installs `host` in the guest as the call's result. lxrun's copy is closed before the guest
/// runs on: a guest that closes the file and then unmounts, execs what it wrote, unlinks and
/// opens by handle, or waits for a peer's EOF must find no reference of lxrun's left (with
/// ADDFD's SEND flag the guest would run while lxrun still held it). Where a received call
/// cannot be interrupted (WAIT_KILLABLE_RECV) the file goes in first and the answer follows;
/// elsewhere SEND's single step is kept, or an interrupted call would leave the file behind.
fn install(
    fd: i32,
    id: u64,
    host: OwnedFd,
    cloexec: bool,
    mut resp: libc::seccomp_notif_resp,
) -> Option<libc::seccomp_notif_resp> {
    let newfd_flags = if cloexec { libc::O_CLOEXEC as u32 } else { 0 };
    let send = if crate::kernel_version() >= (5, 19) {
        0
    } else {
        libc::SECCOMP_ADDFD_FLAG_SEND as u32
    };
    let added = add_fd(fd, id, host.as_raw_fd(), 0, newfd_flags, send);
    drop(host);
    match added {
        // With SEND, success means the response has gone, carrying the new fd.
        Ok(_) if send != 0 => None,
        Ok(n) => {
            resp.val = i64::from(n);
            Some(resp)
        }
        Err(e) => {
            resp.error = -e.raw();
            Some(resp)
        }
    }
}

/// SECCOMP_IOCTL_NOTIF_ADDFD: copies `src` into the process behind notification `id`.
fn add_fd(listener: i32, id: u64, src: i32, newfd: i32, newfd_flags: u32, flags: u32) -> Result<i32, Errno> {
    let add = libc::seccomp_notif_addfd {
        id,
        flags,
        srcfd: src as u32,
        newfd: newfd as u32,
        newfd_flags,
    };
    // SAFETY: ADDFD reads `add`.
    let n = unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ADDFD, &add) };
    if n < 0 {
        return Err(Errno::last());
    }
    Ok(n)
}
