//! The seccomp backend with no ptrace at all (systrap mode, its default where the kernel has
//! mseal), so that the stub's in-process fast path is not slowed by signal-delivery-stops.
//! execve and chdir go through the stub's SIGSYS handler (lxrun answers private calls);
//! processes and threads are discovered at their first notification and forgotten through
//! pidfds (`exits`); the guests hang below a guardian that kills them all if lxrun dies
//! (`crate::guardian`).

mod exits;

use crate::guardian::{Guardian, Report};
use crate::launch::{spawn, Launch};
use crate::{signals, GuestExit, RunOutcome, SupervisorError};
use lxrun_loader::gate::GateAddrs;
use lxrun_syscalls::filter::{self, seccomp_verdict, SECCOMP_RET_USER_NOTIF};
use lxrun_syscalls::process::{FsState, Process, ProcessState};
use lxrun_syscalls::world::World;
use std::sync::Arc;

/// Whether this run's seccomp backend is in systrap mode (its fast path set up).
pub(crate) fn active(world: &World) -> bool {
    world.fast_path.get().is_some()
}

pub(crate) fn run(world: &Arc<World>, launch: &Launch, gate: GateAddrs) -> Result<RunOutcome, SupervisorError> {
    let shape = lxrun_syscalls::table::Shape::of(world);
    // No tracer: what would stop for ptrace is notified instead (lxrun performs an accept whose
    // peer's name it translates; O_PATH opens come as SYS_LXRUN_OPEN_PATH from the handler).
    let verdict = seccomp_verdict(shape);
    let verdict = |e: Option<&lxrun_syscalls::Entry>| match verdict(e) {
        filter::SECCOMP_RET_TRACE => SECCOMP_RET_USER_NOTIF,
        v => v,
    };
    let prog = filter::build_with(verdict, SECCOMP_RET_USER_NOTIF, Some(&gate), true, shape.fake);
    // Before the workers start: they set lxrun's umask to 0.
    let process = Arc::new(crate::launch::first_process(launch));
    exits::start(world);
    tracing::debug!(target: "startup", "filter built");
    let by_fd = crate::launch::ByFd {
        stub: std::ffi::CString::new(world.stub_path.clone())
            .map_err(|_| SupervisorError::Start("stub path".into()))?,
        empty: gate.how,
    };
    let filters = crate::launch::Filters {
        first: &prog,
        then: None,
    };
    let spawned = spawn(launch, filters, true, Some(by_fd), |pid, first| {
        world.add_process(pid, process.clone());
        world.add_thread(pid, pid);
        first_exec(world, pid, &process, first)
    })?;
    let main = spawned.pid;
    tracing::debug!(target: "startup", "the guest's listener taken");
    // The workers start while the guest execs the stub: its first call (the plan) waits in
    // the kernel's queue until one receives it.
    let pool = super::Pool::start(world);
    tracing::debug!(target: "startup", "workers started");
    if let Some(listener) = spawned.listener {
        pool.serve(listener);
    }
    let guardian = spawned
        .guardian
        .ok_or_else(|| SupervisorError::Start("systrap mode without its guardian".into()))?;
    signals::forward_to(main);
    let main_exit = wait_for_guests(world, main, &guardian)?;
    let state = process.state();
    let launch_error = if state.exe.is_empty() {
        state.exec_error.clone()
    } else {
        None
    };
    Ok(RunOutcome {
        exit: main_exit,
        launch_error,
    })
}

/// Follows the guardian's reports until every guest is gone; the first process's end.
fn wait_for_guests(world: &World, main: i32, guardian: &Guardian) -> Result<GuestExit, SupervisorError> {
    // A guardian that was killed reports nothing more: the main process's end unknown.
    let mut main_exit = GuestExit::Signal {
        sig: libc::SIGKILL,
        core: false,
    };
    while let Some(Report { pid, status }) = guardian.next() {
        // The job stops as a whole: whoever started lxrun sees it stop.
        if libc::WIFSTOPPED(status) {
            if pid == main {
                signals::stop_like(libc::WSTOPSIG(status));
            }
            continue;
        }
        world.remove_process(pid);
        if pid == main {
            main_exit = if libc::WIFEXITED(status) {
                GuestExit::Code(libc::WEXITSTATUS(status))
            } else {
                GuestExit::Signal {
                    sig: libc::WTERMSIG(status),
                    core: libc::WCOREDUMP(status),
                }
            };
        }
    }
    // The guardian has exited: reap it, and anything orphaned to lxrun if it was killed.
    while let Some((pid, status)) = crate::launch::wait_any()? {
        if pid == guardian.pid && !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            crate::guardian::kill_orphans();
        }
    }
    Ok(main_exit)
}

/// The first program's execve, checked before the child execs the stub (its memory is
/// lxrun's, so the pointers are ours): the plan is left pending; a new argv for a `#!` program
/// (0: the child's own).
fn first_exec(
    world: &World,
    pid: i32,
    process: &Arc<Process>,
    first: &crate::launch::FirstExec,
) -> Result<u64, SupervisorError> {
    use lxrun_syscalls::memory::GuestMemory;
    use lxrun_syscalls::{dispatch, Argv, Outcome, SyscallArgs, SyscallCtx};
    let mut ctx = SyscallCtx {
        tid: pid,
        tgid: pid,
        process: process.clone(),
        mem: GuestMemory::new(pid),
        world,
        install_fd: None,
    };
    let call = SyscallArgs {
        nr: libc::SYS_execve as u64,
        args: [first.program, first.argv, first.envp, 0, 0, 0],
        arch: lxrun_syscalls::AUDIT_ARCH_X86_64,
        sp: 0,
        ip: 0,
    };
    tracing::debug!(target: "startup", "the guest's first process cloned");
    let outcome = dispatch(&mut ctx, &call);
    tracing::debug!(target: "startup", "its program resolved");
    match outcome {
        Outcome::Exec(rewrite) => Ok(match rewrite.argv {
            Argv::Guest(_) => 0,
            Argv::Prefixed { prefix, rest } => {
                // Leaked: the child reads it until its execve has copied it.
                let mut ptrs: Vec<u64> = prefix
                    .into_iter()
                    .map(|mut s| {
                        s.push(0);
                        Box::leak(s.into_boxed_slice()).as_ptr() as u64
                    })
                    .collect();
                ptrs.extend(rest);
                ptrs.push(0);
                Box::leak(ptrs.into_boxed_slice()).as_ptr() as u64
            }
        }),
        // The child exits as a shell would; the reason is on the process (exec_error).
        Outcome::Fail(e) => Ok(crate::launch::EXEC_FAILED | e.raw() as u64),
        other => Err(SupervisorError::Start(format!("first exec: {other:?}"))),
    }
}

/// A thread lxrun has not met (no ptrace events tell it about forks): from /proc, its process,
/// and for a new process its parent's state (cwd, root, program), as fork gives them.
pub(crate) fn discover(world: &World, tid: i32) -> Option<(i32, Arc<Process>)> {
    let status = proc_status(tid)?;
    let field = |key: &str| -> Option<i32> { status.lines().find_map(|l| l.strip_prefix(key))?.trim().parse().ok() };
    let tgid = field("Tgid:")?;
    let process = match world.process(tgid) {
        Some(p) => p,
        None => {
            let leader = if tgid == tid {
                status.clone()
            } else {
                proc_status(tgid)?
            };
            let ppid: i32 = leader
                .lines()
                .find_map(|l| l.strip_prefix("PPid:"))?
                .trim()
                .parse()
                .ok()?;
            // A parent that never made a trapped call is not known yet either (with the host's
            // tree most calls are not trapped): discover it first, up the line.
            let parent = match world.process_of(ppid) {
                Some(p) => Some(p),
                None if ppid > 1 && !crate::guardian::is_lxrun(ppid) => discover(world, ppid).map(|(_, p)| p),
                None => None,
            };
            let p = Arc::new(match parent {
                // clone(CLONE_FS) without CLONE_THREAD: the kernel knows whether the two share
                // root, cwd and umask (no ptrace event tells lxrun the clone's flags).
                Some(parent) => parent.fork(shares_fs(tgid, ppid)),
                // An orphan (its parent gone, the guardian its parent now) before its
                // first trapped call: its cwd from the kernel, the rest as a fresh process's.
                None => orphan(world, tgid, &leader),
            });
            world.add_process(tgid, p.clone());
            world.add_thread(tgid, tgid);
            exits::watch(tgid, false);
            p
        }
    };
    if tid != tgid {
        world.add_thread(tid, tgid);
        exits::watch(tid, true);
    }
    Some((tgid, process))
}

/// /proc/PID/status, in one read: the file claims size 0, so `fs::read_to_string` would stat
/// it and then read in growing pieces, eight reads for its 1.5 KB.
fn proc_status(pid: i32) -> Option<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(format!("/proc/{pid}/status")).ok()?;
    let mut text = vec![0u8; 4096];
    let mut len = 0;
    loop {
        match file.read(&mut text[len..]).ok()? {
            0 => break,
            n => len += n,
        }
        if len == text.len() {
            text.resize(2 * len, 0);
        }
    }
    text.truncate(len);
    String::from_utf8(text).ok()
}

/// Whether two processes share one fs_struct (kcmp KCMP_FS: 0 means the same object).
fn shares_fs(a: i32, b: i32) -> bool {
    const KCMP_FS: i32 = 3;
    // SAFETY: kcmp only compares kernel objects of two processes we may trace.
    unsafe { libc::syscall(libc::SYS_kcmp, a, b, KCMP_FS, 0, 0) == 0 }
}

/// The state of a process whose parent lxrun never met: the cwd the kernel has for it (as the
/// guest names it), the root `/`, its umask.
fn orphan(world: &World, tgid: i32, status: &str) -> Process {
    let cwd = std::fs::read_link(format!("/proc/{tgid}/cwd"))
        .ok()
        .and_then(|h| world.vfs.guest_of(&h))
        .unwrap_or_else(|| b"/".to_vec());
    let umask = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .and_then(|u| u32::from_str_radix(u.trim(), 8).ok())
        .unwrap_or(0o022);
    Process::new(
        ProcessState::default(),
        FsState {
            cwd,
            root: b"/".to_vec(),
            umask,
        },
    )
}
