//! The ptrace backend: a number-only seccomp filter sends the calls lxrun translates to a
//! SECCOMP_RET_TRACE stop (never PTRACE_SYSCALL on every call); one event loop serves every
//! thread and process of the guest, which are auto-attached on clone, fork and vfork.
//!
//! An observed run (`--trace`, `--stats`) is the one exception: its filter stops every call,
//! and each stop is resumed with PTRACE_SYSCALL to get that call's exit, then with
//! PTRACE_CONT again. Entries, exits, signals and task ends go to the world's observer.

mod guest;
mod scratch;
mod sys;

use crate::launch::{spawn, Launch};
use crate::{signals, GuestExit, RunOutcome, SupervisorError};
use lxrun_syscalls::filter::{self, ptrace_verdict, seccomp_verdict, SECCOMP_RET_TRACE, SECCOMP_RET_USER_NOTIF};
use lxrun_syscalls::memory::{GuestMemory, GuestPtr};
use lxrun_syscalls::process::Process;
use lxrun_syscalls::stats::Mechanism;
use lxrun_syscalls::world::{Handoff, World};
use lxrun_syscalls::{after_exit, dispatch, After, Errno, NewArg, Outcome, SyscallCtx};
use nix::errno::Errno as HostErrno;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;
use sys::*;

/// PTRACE_O_TRACESYSGOOD tells a call's exit stop from a SIGTRAP: outside observed runs only a
/// call whose handler left work for its exit (`Outcome::ContinueThen`) is resumed to one.
/// No PTRACE_O_TRACEEXEC outside observed runs: an exec needs nothing from the tracer once
/// it is rewritten (the stub's plan call says the program got past it), and a stop per exec
/// costs a round trip. (A thread that execs from a non-leader loses its old tid silently;
/// the stale entry is overwritten if the number comes back.)
const OPTIONS: i32 = libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_EXITKILL
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK;

/// A traced thread.
struct Task {
    tgid: i32,
    process: Arc<Process>,
    /// Observed runs: between a call's seccomp stop and its exit stop.
    in_syscall: bool,
    /// What the handler of the call the task is in left for the call's exit.
    after: Option<After>,
    /// A guest tracer traces this task (`guest`).
    guest: Option<guest::Traced>,
    /// This task of a guest tracer waits in the kernel (`guest`).
    waiting: Option<guest::Waiting>,
}

impl Task {
    fn new(tgid: i32, process: Arc<Process>) -> Task {
        Task {
            tgid,
            process,
            in_syscall: false,
            after: None,
            guest: None,
            waiting: None,
        }
    }
}

impl Task {
    /// The context for handling a call of this task, thread `pid`.
    fn ctx<'w>(&self, pid: i32, world: &'w World) -> SyscallCtx<'w> {
        SyscallCtx {
            install_fd: None,
            tid: pid,
            tgid: self.tgid,
            process: self.process.clone(),
            mem: GuestMemory::new(pid),
            world,
        }
    }
}

struct Tracer<'w> {
    world: &'w World,
    tasks: HashMap<i32, Task>,
    /// New threads whose first stop came before their parent's clone event.
    early: HashSet<i32>,
    main: i32,
    main_exit: Option<GuestExit>,
    /// `--trace` or `--stats`: every call stops, and its exit too.
    observed: bool,
    /// A user-notification pool serves the guest beside this loop (seccomp-ptrace mode, or the
    /// ptrace backend's SYS_LXRUN_TAKE_FD).
    notify: bool,
    /// Exits of guest tracees for guest tracers that are not their parents.
    exits: Vec<guest::Exit>,
    /// The PTRACE_O_* lxrun seized the guest with.
    options: i32,
    /// Reports to guest tracers so far: their order, which a wait follows.
    reports: u64,
}

/// Runs the guest. With `notify`, the calls the seccomp backend can serve by user notification
/// go there (served by worker threads); ptrace still follows every task and carries execve.
/// An observed run (`--trace`, `--stats`) stops every call with ptrace, whatever the backend.
///
/// The ptrace backend itself takes a listener too where the kernel has one (5.14), for one
/// private call only: an open lxrun performed (on its descriptors) hands its descriptor to the
/// guest through SYS_LXRUN_TAKE_FD, instead of letting the guest's call walk a path written
/// into memory another guest thread could change.
pub(crate) fn run(world: &Arc<World>, launch: &Launch, notify: bool) -> Result<RunOutcome, SupervisorError> {
    let shape = lxrun_syscalls::table::Shape::of(world);
    let observed = world.observer.enabled();
    let notify = notify && !observed;
    // Observed runs hand off too: tracing must not reopen the races it would show.
    let handoff = !notify && crate::seccomp_support().is_ok();
    tracing::info!(
        "{}",
        match (observed, notify) {
            (true, _) => "observed run: every call stops for ptrace",
            (false, true) => "seccomp with ptrace: translated calls by user notification, execve and tasks by ptrace",
            (false, false) => "ptrace: every translated call stops for ptrace",
        }
    );
    let trace_all = observed.then(|| filter::build(|_| SECCOMP_RET_TRACE, SECCOMP_RET_TRACE));
    let (prog, options) = if observed && handoff {
        // The handing-over filter first (every call allowed but SYS_LXRUN_TAKE_FD); the
        // tracing one after it, once the child has given its listener away.
        (
            filter::with_handoff(filter::build(|_| filter::SECCOMP_RET_ALLOW, filter::SECCOMP_RET_ALLOW)),
            OPTIONS | libc::PTRACE_O_TRACEEXEC,
        )
    } else if observed {
        (
            trace_all.clone().unwrap_or_default(),
            OPTIONS | libc::PTRACE_O_TRACEEXEC,
        )
    } else if notify {
        // The in-process fast path pays off only without ptrace (systrap mode): every SIGSYS
        // would be a signal-delivery-stop here.
        let verdict = filter::tracing_guests(seccomp_verdict(shape));
        (
            filter::with_entry_stop(filter::build(verdict, SECCOMP_RET_USER_NOTIF)),
            OPTIONS,
        )
    } else if handoff {
        let verdict = filter::tracing_guests(ptrace_verdict(shape));
        (filter::with_handoff(filter::build(verdict, SECCOMP_RET_TRACE)), OPTIONS)
    } else {
        let verdict = filter::tracing_guests(ptrace_verdict(shape));
        (filter::build(verdict, SECCOMP_RET_TRACE), OPTIONS)
    };
    // Before the workers start: they set lxrun's umask to 0.
    let process = Arc::new(crate::launch::first_process(launch));
    let listens = notify || handoff;
    world.guest_calls.store(!listens, std::sync::atomic::Ordering::Relaxed);
    let pool = listens.then(|| crate::seccomp::Pool::start(world));
    let filters = crate::launch::Filters {
        first: &prog,
        then: trace_all.as_deref().filter(|_| handoff),
    };
    let spawned = spawn(launch, filters, listens, None, |pid, _| {
        seize(pid, options).map_err(|err| SupervisorError::Ptrace {
            what: "attaching to the guest",
            err,
        })?;
        Ok(0)
    })?;
    let main = spawned.pid;
    // Files lxrun creates for the guest get the guest's umask, applied by hand (as the pool
    // does for its workers): once the guest has inherited lxrun's own.
    // SAFETY: umask has no preconditions.
    unsafe { libc::umask(0) };
    if let (Some(pool), Some(listener)) = (pool, spawned.listener) {
        pool.serve(listener);
    }
    signals::forward_to(main);
    world.add_process(main, process.clone());
    world.add_thread(main, main);
    let mut tracer = Tracer {
        world,
        tasks: HashMap::new(),
        early: HashSet::new(),
        main,
        main_exit: None,
        observed,
        notify: listens,
        exits: Vec::new(),
        options,
        reports: 0,
    };
    tracer.tasks.insert(main, Task::new(main, process.clone()));
    if observed {
        world.observer.task_new(main);
    }
    tracer.event_loop()?;
    tracing::debug!("every guest process is gone");
    let exit = tracer.main_exit.unwrap_or(GuestExit::Code(0));
    // The first program got past its execve once its loader fetched the plan (which sets exe).
    let launch_error = {
        let state = process.state();
        if state.exe.is_empty() {
            state.exec_error.clone()
        } else {
            None
        }
    };
    Ok(RunOutcome { exit, launch_error })
}

impl Tracer<'_> {
    fn event_loop(&mut self) -> Result<(), SupervisorError> {
        loop {
            let Some((pid, status)) = crate::launch::wait_any()? else {
                return Ok(());
            };
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                self.gone(pid, status);
                continue;
            }
            if !libc::WIFSTOPPED(status) {
                continue;
            }
            tracing::trace!(pid, status = format!("{status:#x}"), "stop");
            // A tracee that vanishes mid-handling (SIGKILL, exit_group from another thread)
            // reports ESRCH here; its exit arrives through waitpid like any other.
            if let Err(e) = self.stopped(pid, status) {
                if e != HostErrno::ESRCH {
                    tracing::warn!(pid, "ptrace failed: {e}");
                }
            }
        }
    }

    fn gone(&mut self, pid: i32, status: i32) {
        tracing::trace!(pid, status, "task gone");
        if let Some(task) = self.tasks.remove(&pid) {
            self.world.remove_thread(pid);
            if task.tgid == pid {
                self.world.remove_process(pid);
            }
            self.traced_gone(pid, status, task.guest);
            if task.tgid == pid {
                self.tracer_gone(pid);
            }
        }
        if self.observed {
            if libc::WIFEXITED(status) {
                self.world.observer.exited(pid, libc::WEXITSTATUS(status));
            } else {
                let (sig, core) = (libc::WTERMSIG(status), libc::WCOREDUMP(status));
                self.world.observer.killed(pid, sig, core);
            }
        }
        if pid == self.main {
            self.main_exit = Some(if libc::WIFEXITED(status) {
                GuestExit::Code(libc::WEXITSTATUS(status))
            } else {
                GuestExit::Signal {
                    sig: libc::WTERMSIG(status),
                    core: libc::WCOREDUMP(status),
                }
            });
        }
    }

    fn stopped(&mut self, pid: i32, status: i32) -> Result<(), HostErrno> {
        let sig = libc::WSTOPSIG(status);
        if self.traced_stop(pid, status)? {
            return Ok(());
        }
        match status >> 16 {
            PTRACE_EVENT_SECCOMP => self.syscall(pid),
            PTRACE_EVENT_EXEC => {
                // A non-leader thread that execs takes the leader's pid; its old tid is gone.
                let former = event_msg(pid)? as i32;
                if former != pid {
                    self.tasks.remove(&former);
                    self.world.remove_thread(former);
                }
                if self.observed {
                    self.world.observer.exec(pid, former);
                    // The execve's exit stop comes next.
                    if let Some(task) = self.tasks.get_mut(&pid) {
                        task.in_syscall = true;
                    }
                }
                self.resume(pid, 0)
            }
            PTRACE_EVENT_FORK | PTRACE_EVENT_VFORK | PTRACE_EVENT_CLONE => {
                let child = event_msg(pid)? as i32;
                self.new_task(pid, child, false)?;
                self.resume(pid, 0)
            }
            PTRACE_EVENT_STOP => match sig {
                // A group-stop: stay stopped, but let SIGCONT wake the tracee.
                libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => {
                    if self.observed {
                        self.world.observer.group_stop(pid, sig);
                    }
                    listen(pid)?;
                    // The job stops as a whole: whoever started lxrun sees it stop too.
                    if pid == self.main {
                        signals::stop_like(sig);
                    }
                    Ok(())
                }
                // A new task's first stop: wait for its parent's event if it hasn't come yet.
                _ if !self.tasks.contains_key(&pid) => {
                    self.early.insert(pid);
                    Ok(())
                }
                // lxrun's interrupt of a guest tracer waiting in the kernel.
                _ if self.interrupted(pid)? => Ok(()),
                _ => self.resume(pid, 0),
            },
            0 if sig == SYSCALL_STOP => self.syscall_exit(pid),
            0 => {
                if self.observed {
                    if let Ok(info) = siginfo(pid) {
                        self.world.observer.signal(pid, &info);
                    }
                }
                if sig == libc::SIGSYS && self.strict_kill(pid) {
                    // A call the guest's strict mode forbids: the kernel's strict mode kills so.
                    // SAFETY: a signal to a guest process.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return self.resume(pid, 0);
                }
                if matches!(sig, libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE)
                    && tracing::enabled!(tracing::Level::DEBUG)
                {
                    let regs = get_regs(pid)?;
                    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
                    tracing::debug!(pid, sig, "fault: {regs:x?}\n{maps}");
                }
                self.resume(pid, sig)
            }
            _ => self.resume(pid, 0),
        }
    }

    /// Whether thread `pid`'s SIGSYS is its strict mode's (`filter::strict_mode`) refusing a
    /// call: only in a process lxrun put in strict mode (a guest's own filter may raise any).
    fn strict_kill(&self, pid: i32) -> bool {
        const SYS_SECCOMP: i32 = 1;
        let strict = self.world.process_of(pid).is_some_and(|p| p.state().strict);
        let Ok(info) = siginfo(pid) else {
            return false;
        };
        let word = |i: usize| i32::from_ne_bytes([info[i], info[i + 1], info[i + 2], info[i + 3]]);
        strict && word(8) == SYS_SECCOMP && word(4) as u32 == lxrun_loader::abi::fast::STRICT_DATA
    }

    /// Resumes `pid`: as its guest tracer resumed it (outside the loader stub), else to its
    /// current call's exit when that is awaited (observed and inside a call, work left for
    /// the exit, a guest tracer's wait), else freely.
    fn resume(&self, pid: i32, sig: i32) -> Result<(), HostErrno> {
        let Some(t) = self.tasks.get(&pid) else {
            return cont(pid, sig);
        };
        let exec_exit = t
            .guest
            .as_ref()
            .is_some_and(|g| !g.execing && g.entry.is_some_and(|e| e.awaited()));
        let awaited =
            (self.observed && t.in_syscall) || t.after.is_some() || t.waiting.is_some_and(|w| w.awaited()) || exec_exit;
        match t.guest.as_ref().filter(|g| !g.execing).map(|g| g.resume) {
            Some(guest::Resume::Syscall) => cont_to_exit(pid, sig),
            Some(guest::Resume::Step) => step(pid, sig),
            Some(guest::Resume::Sysemu) => sysemu(pid, sig, false),
            Some(guest::Resume::SysemuStep) => sysemu(pid, sig, true),
            _ if awaited => cont_to_exit(pid, sig),
            _ => cont(pid, sig),
        }
    }

    /// A syscall stop, normally the exit of the call `pid` is in (observed runs, or work left
    /// for the exit).
    fn syscall_exit(&mut self, pid: i32) -> Result<(), HostErrno> {
        if self.exit_work(pid)? {
            return Ok(());
        }
        self.resume(pid, 0)
    }

    /// lxrun's own work at a call's exit stop: what a handler left, the observer's decoding,
    /// a guest tracer's wait. True when the task was resumed here.
    fn exit_work(&mut self, pid: i32) -> Result<bool, HostErrno> {
        let start = Instant::now();
        let value = syscall_exit_value(pid)?;
        if let (Some(ret), Some(task)) = (value, self.tasks.get_mut(&pid)) {
            if let Some(after) = task.after.take() {
                let ctx = task.ctx(pid, self.world);
                // Before the observer decodes the call's outputs: it shows what the guest gets.
                after_exit(&ctx, after, ret);
            }
            if task.in_syscall {
                task.in_syscall = false;
                // Decoded while the tracee is stopped: its output buffers are still intact.
                self.world
                    .observer
                    .syscall_exit(pid, ret, &GuestMemory::new(pid), start.elapsed());
            }
        }
        if value.is_none() {
            return Ok(false);
        }
        self.waited(pid)
    }

    /// Registers `child`, just created by `parent` with a fork, vfork or clone event; `traced`:
    /// auto-attached to the parent's guest tracer.
    fn new_task(&mut self, parent: i32, child: i32, traced: bool) -> Result<(), HostErrno> {
        let Some(p) = self.tasks.get(&parent) else {
            return Ok(());
        };
        let flags = clone_flags(parent)?;
        let is_thread = flags & libc::CLONE_THREAD as u64 != 0;
        let mut task = if is_thread {
            Task::new(p.tgid, p.process.clone())
        } else {
            let process = Arc::new(p.process.fork(flags & libc::CLONE_FS as u64 != 0));
            self.world.add_process(child, process.clone());
            Task::new(child, process)
        };
        if traced {
            task.guest = p.guest.as_ref().map(guest::Traced::auto_attached);
        }
        self.world.add_thread(child, task.tgid);
        self.tasks.insert(child, task);
        if self.observed {
            self.world.observer.task_new(child);
        }
        if self.early.remove(&child) {
            // Its first stop came already: as it would be handled now.
            let status = (PTRACE_EVENT_STOP << 16) | (libc::SIGTRAP << 8) | 0x7f;
            if !self.traced_stop(child, status)? {
                self.resume(child, 0)?;
            }
        }
        Ok(())
    }

    fn syscall(&mut self, pid: i32) -> Result<(), HostErrno> {
        let start = self.observed.then(Instant::now);
        let call = seccomp_call(pid)?;
        if self.tracing_call(pid, &call)? {
            return Ok(());
        }
        let Some(task) = self.tasks.get_mut(&pid) else {
            return cont(pid, 0);
        };
        let mut ctx = task.ctx(pid, self.world);
        if self.observed {
            // Before the handler runs: the arguments as the guest passed them.
            let observer = &self.world.observer;
            observer.syscall_entry(pid, &call, &ctx.mem, self.world, Mechanism::PtraceSeccomp);
            task.in_syscall = true;
        }
        let outcome = dispatch(&mut ctx, &call);
        tracing::trace!(pid, nr = call.nr, ?outcome, "syscall");
        task.after = None;
        match outcome {
            Outcome::Continue => {}
            Outcome::ContinueThen(after) => task.after = Some(after),
            Outcome::Return(v) => skip(pid, v)?,
            Outcome::Fail(e) => skip(pid, e.as_return())?,
            // Installed by the worker that answers the SYS_LXRUN_TAKE_FD the call becomes;
            // without user notification there is no way to hand a descriptor over.
            Outcome::NewFd { fd, cloexec } if self.notify => {
                hand_off(self.world, pid, Handoff::Fd(fd, cloexec))?;
            }
            Outcome::NewFd { .. } => skip(pid, Errno::ENOSYS.as_return())?,
            Outcome::Exec(rewrite) => match scratch::place_exec(&ctx.mem, call.sp, &self.world.stub_path, &rewrite) {
                Ok((path, argv)) => {
                    let mut regs = get_regs(pid)?;
                    regs.orig_rax = libc::SYS_execve as u64;
                    regs.rdi = path;
                    regs.rsi = argv;
                    regs.rdx = rewrite.envp;
                    set_regs(pid, &regs)?;
                    self.exec_started(pid);
                }
                Err(e) => {
                    task.process.state().pending_exec = None;
                    skip(pid, e.as_return())?;
                }
            },
            // Performed by lxrun on descriptors, the result injected: no path for the kernel to
            // read from memory another guest thread can write.
            Outcome::Rewrite(args) if performs(&call, &args) => {
                match crate::seccomp::perform::perform(&ctx, &call, &args) {
                    Ok(crate::seccomp::perform::Done::Value(v)) => skip(pid, v)?,
                    Ok(crate::seccomp::perform::Done::NewFd { .. }) => skip(pid, Errno::ENOSYS.as_return())?,
                    Err(e) => skip(pid, e.as_return())?,
                }
            }
            // seccomp-ptrace: an open lxrun performs, its descriptor installed by the worker
            // that answers the private call the guest's call becomes (registers only).
            Outcome::Rewrite(args) if self.notify && hands_off(&call, &args) => {
                match crate::seccomp::perform::perform(&ctx, &call, &args) {
                    Ok(crate::seccomp::perform::Done::NewFd { fd, cloexec }) => {
                        hand_off(self.world, pid, Handoff::Fd(fd, cloexec))?;
                    }
                    Ok(crate::seccomp::perform::Done::Value(v)) => skip(pid, v)?,
                    Err(e) => skip(pid, e.as_return())?,
                }
            }
            // A call that may wait (a FIFO's open, connect, a send to a named socket): performed
            // by a worker on a thread of its own, the guest's call again SYS_LXRUN_TAKE_FD.
            Outcome::Rewrite(args) if self.notify && worker_performs(&call, &args) => {
                hand_off(self.world, pid, Handoff::Call(call, args))?;
            }
            Outcome::Rewrite(args) => match rewrite(&ctx.mem, call.sp, &args) {
                Ok(values) => {
                    let mut regs = get_regs(pid)?;
                    for (i, v) in values {
                        *arg_reg(&mut regs, i) = v;
                    }
                    set_regs(pid, &regs)?;
                }
                Err(e) => skip(pid, e.as_return())?,
            },
        }
        match start {
            None => self.resume(pid, 0),
            Some(start) => {
                cont_to_exit(pid, 0)?;
                self.world.observer.syscall_handled(pid, start.elapsed());
                Ok(())
            }
        }
    }
}

/// Whether lxrun performs a rewritten call itself rather than the guest: every call with a
/// performing spec that answers a plain value and cannot wait (opens, which must leave a
/// descriptor in the guest, and connect and sends, which may wait for a peer, stay the
/// guest's own calls with rewritten arguments).
fn performs(call: &lxrun_syscalls::SyscallArgs, args: &[(usize, NewArg)]) -> bool {
    let Some(entry) = lxrun_syscalls::table::lookup(call.nr) else {
        return false;
    };
    let plain = lxrun_syscalls::proxy::spec(entry.name).is_some_and(|s| s.ret == lxrun_syscalls::proxy::Ret::Int);
    let waits = matches!(entry.name, "connect" | "sendto" | "sendmsg");
    plain && !waits && !args.iter().any(|(_, a)| matches!(a, NewArg::Struct { .. }))
}

/// Whether an open caught by ptrace in seccomp-ptrace mode is performed by lxrun and its
/// descriptor handed to the guest through user notification: any but an O_PATH one (ADDFD
/// refuses O_PATH files) or one that may wait for a FIFO's other end (it would stop this loop).
fn hands_off(call: &lxrun_syscalls::SyscallArgs, args: &[(usize, NewArg)]) -> bool {
    crate::seccomp::open_flags(call, args).is_some_and(|flags| flags & libc::O_PATH as u64 == 0)
        && !crate::seccomp::may_wait(call, args)
}

/// Leaves `what` for thread `pid`'s call and turns that call into SYS_LXRUN_TAKE_FD (registers
/// only), which the user-notification worker that gets it answers.
fn hand_off(world: &World, pid: i32, what: Handoff) -> Result<(), HostErrno> {
    world.hand_off(pid, what);
    let mut regs = get_regs(pid)?;
    regs.orig_rax = lxrun_loader::abi::SYS_LXRUN_TAKE_FD;
    set_regs(pid, &regs)
}

/// Whether a rewritten call caught by ptrace is performed by a user-notification worker: one
/// that may wait for a peer (connect, a send), or an open but an O_PATH one (whose descriptor
/// ADDFD cannot install). Calls that act on the caller itself (chdir) stay the guest's.
fn worker_performs(call: &lxrun_syscalls::SyscallArgs, args: &[(usize, NewArg)]) -> bool {
    match crate::seccomp::open_flags(call, args) {
        Some(flags) => flags & libc::O_PATH as u64 == 0,
        None => matches!(
            lxrun_syscalls::table::name_of(call.nr).as_str(),
            "connect" | "sendto" | "sendmsg"
        ),
    }
}

/// Places a rewrite's new bytes in scratch memory; the (argument, value) pairs to set.
fn rewrite(mem: &GuestMemory, sp: u64, args: &[(usize, NewArg)]) -> Result<Vec<(usize, u64)>, Errno> {
    let mut s = scratch::Scratch::new(sp)?;
    let mut values = Vec::with_capacity(args.len());
    for (i, a) in args {
        let v = match a {
            NewArg::Int(v) => *v,
            NewArg::Bytes(b) | NewArg::Path { host: b, .. } => s.push(b.clone())?,
            // Only ever for a call lxrun performs itself (`performs`).
            NewArg::Fd(_) => return Err(Errno::ENOSYS),
            NewArg::Struct { bytes, pointers } => {
                let mut bytes = bytes.clone();
                for (offset, target) in pointers {
                    let at = s.push(target.clone())?;
                    bytes
                        .get_mut(*offset..*offset + 8)
                        .ok_or(Errno::EFAULT)?
                        .copy_from_slice(&at.to_le_bytes());
                }
                s.push(bytes)?
            }
        };
        values.push((*i, v));
    }
    s.write(mem)?;
    Ok(values)
}

/// The register holding syscall argument `i` (x86_64: rdi, rsi, rdx, r10, r8, r9).
fn arg_reg(regs: &mut libc::user_regs_struct, i: usize) -> &mut u64 {
    match i {
        0 => &mut regs.rdi,
        1 => &mut regs.rsi,
        2 => &mut regs.rdx,
        3 => &mut regs.r10,
        4 => &mut regs.r8,
        _ => &mut regs.r9,
    }
}

/// Skips the trapped call; the guest sees `ret` as its result.
fn skip(pid: i32, ret: i64) -> Result<(), HostErrno> {
    let mut regs = get_regs(pid)?;
    regs.orig_rax = u64::MAX;
    regs.rax = ret as u64;
    set_regs(pid, &regs)
}

/// The flags of the clone or clone3 call `pid` is stopped in at a fork, vfork or clone event
/// (0 for the fork and vfork syscalls).
fn clone_flags(pid: i32) -> Result<u64, HostErrno> {
    let regs = get_regs(pid)?;
    match regs.orig_rax as i64 {
        // clone_args.flags is its first field.
        libc::SYS_clone3 => GuestMemory::new(pid)
            .read(GuestPtr::<u64>::new(regs.rdi))
            .map_err(|e| HostErrno::from_raw(e.raw())),
        libc::SYS_clone => Ok(regs.rdi),
        // fork and vfork share nothing lxrun keeps.
        _ => Ok(0),
    }
}
