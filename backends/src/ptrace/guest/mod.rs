//! Guest ptrace, emulated (the ptrace modes). lxrun is the kernel's tracer of every guest
//! task, so a guest's own ptrace cannot reach the kernel; instead lxrun keeps the guest
//! tracer's view of each of its tracees ([`Traced`]). Every stop lxrun gets from the kernel is
//! either lxrun's own (seccomp stops, the loader stub's calls, interrupts of a waiting tracer)
//! or reported to the guest tracer: the tracee then stays in that real stop until the guest
//! tracer resumes it, and the tracer's requests act on the real stop (registers, memory,
//! siginfo). The tracer's wait4/waitid are answered from the reported stops; a tracee's exit
//! that the kernel gives its parent anyway is left to the kernel.
//!
//! What the tracer never sees: the loader stub (an exec stops once, at the program's first
//! instruction, from the stub's `SYS_LXRUN_ENTRY`), lxrun's rewritten or skipped calls (a
//! syscall-exit stop shows the guest's call number and arguments again).

mod requests;
mod wait;

pub(super) use wait::Waiting;

use super::sys::*;
use super::Tracer;
use lxrun_syscalls::{Errno, SyscallArgs};
use nix::errno::Errno as HostErrno;

const SYS_PTRACE: u64 = libc::SYS_ptrace as u64;
const SYS_WAIT4: u64 = libc::SYS_wait4 as u64;
const SYS_WAITID: u64 = libc::SYS_waitid as u64;

const O_TRACESYSGOOD: u64 = 1;
const O_TRACEFORK: u64 = 2;
const O_TRACEVFORK: u64 = 4;
const O_TRACECLONE: u64 = 8;
const O_TRACEEXEC: u64 = 0x10;
const O_TRACEEXIT: u64 = 0x40;
const O_EXITKILL: u64 = 0x10_0000;
/// Every PTRACE_O_* the kernel knows (up to SUSPEND_SECCOMP); others are EINVAL.
const O_ALL: u64 = 0xff | O_EXITKILL | 0x20_0000;

/// How the guest tracer last resumed a tracee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Resume {
    Cont,
    Syscall,
    Step,
    Sysemu,
    SysemuStep,
}

/// What kind of stop the guest tracer was told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A signal-delivery-stop (the real one).
    Signal,
    /// A group-stop (the real one).
    Group,
    SyscallEntry,
    SyscallExit,
    /// A fork, vfork or clone event (the real one).
    Event,
    /// PTRACE_EVENT_EXEC at the program's first instruction (really the stub's
    /// SYS_LXRUN_ENTRY seccomp stop, with the call skipped).
    Exec,
    /// An auto-attached child's first stop.
    Initial,
    /// The guest tracer's PTRACE_INTERRUPT.
    Interrupt,
}

/// A stop reported to the guest tracer.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stop {
    /// The wait status the tracer gets.
    status: i32,
    /// Its place among the reports (`Tracer::reports`).
    seq: u64,
    kind: Kind,
    /// Collected by a wait already.
    reported: bool,
}

/// A syscall-entry stop the guest tracer saw: what its exit stop shows again, whatever lxrun
/// made of the call.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    nr: u64,
    args: [u64; 6],
    /// An execve that succeeded: its exit shows the new program's registers, rax 0.
    exec: bool,
}

impl Entry {
    /// Whether lxrun awaits this call's exit stop for itself (an exec's, to show orig_rax).
    pub(super) fn awaited(&self) -> bool {
        self.exec
    }
}

/// A guest task traced by a guest tracer.
#[derive(Debug)]
pub(super) struct Traced {
    /// The tracer's thread group.
    pub tracer: i32,
    pub seized: bool,
    pub options: u64,
    pub resume: Resume,
    pub stop: Option<Stop>,
    pub event_msg: u64,
    pub entry: Option<Entry>,
    /// Between an execve turned into the loader stub's and the stub's SYS_LXRUN_ENTRY: the
    /// stub's calls are lxrun's, never stopped for the tracer.
    pub execing: bool,
    /// Auto-attached at a fork event: its first stop goes to the tracer.
    pub initial: bool,
    /// The tracer asked for PTRACE_INTERRUPT.
    pub interrupt: bool,
    /// The tracer is the tracee's parent (the tracee leads its thread group): its exit comes
    /// from the tracer's own wait, in the kernel.
    pub child_of_tracer: bool,
    /// lxrun's own PTRACE_O_TRACEEXIT is set on the task (for a tracer that asked for it).
    pub exit_events: bool,
}

impl Traced {
    fn new(tracer: i32, seized: bool, options: u64, child_of_tracer: bool) -> Traced {
        Traced {
            tracer,
            seized,
            options,
            resume: Resume::Cont,
            stop: None,
            event_msg: 0,
            entry: None,
            execing: false,
            initial: false,
            interrupt: false,
            child_of_tracer,
            exit_events: false,
        }
    }

    /// A child auto-attached to this tracee's tracer at a fork, vfork or clone event: traced
    /// alike, its first stop reported.
    pub(super) fn auto_attached(parent: &Traced) -> Traced {
        Traced {
            initial: true,
            ..Traced::new(parent.tracer, parent.seized, parent.options, false)
        }
    }

    fn syscall_status(&self) -> i32 {
        let sig = libc::SIGTRAP | if self.options & O_TRACESYSGOOD != 0 { 0x80 } else { 0 };
        stopped(sig, 0)
    }

    fn wants_syscalls(&self) -> bool {
        matches!(self.resume, Resume::Syscall | Resume::Sysemu | Resume::SysemuStep)
    }
}

/// A tracee's exit for a tracer that is not its parent (the kernel tells only the parent).
#[derive(Clone, Copy, Debug)]
pub(super) struct Exit {
    seq: u64,
    tracer: i32,
    pid: i32,
    status: i32,
}

/// The wait status of a stop: `sig`, and a PTRACE_EVENT_* in the high bits.
fn stopped(sig: i32, event: i32) -> i32 {
    0x7f | (sig << 8) | (event << 16)
}

fn guest_errno(e: HostErrno) -> Errno {
    Errno::from_raw(e as i32)
}

impl Tracer<'_> {
    /// ptrace, wait4 and waitid of a guest, and the stub's SYS_LXRUN_ENTRY: handled here (the
    /// task resumed) when this returns true.
    pub(super) fn tracing_call(&mut self, pid: i32, call: &SyscallArgs) -> Result<bool, HostErrno> {
        if self.observed || call.arch != lxrun_syscalls::AUDIT_ARCH_X86_64 {
            return Ok(false);
        }
        match call.nr {
            lxrun_loader::abi::SYS_LXRUN_ENTRY => self.entered(pid, call).map(|()| true),
            SYS_PTRACE => {
                let ret = match self.request(pid, call) {
                    Ok(v) => v,
                    Err(e) => e.as_return(),
                };
                super::skip(pid, ret)?;
                self.resume(pid, 0).map(|()| true)
            }
            SYS_WAIT4 | SYS_WAITID => self.wait(pid, call),
            // A guest tracer skipped the call at its entry stop (orig_rax -1): nothing to do.
            u64::MAX if self.traced(pid) => self.resume(pid, 0).map(|()| true),
            _ => Ok(false),
        }
    }

    fn traced(&self, pid: i32) -> bool {
        self.tasks.get(&pid).is_some_and(|t| t.guest.is_some())
    }

    fn is_tracer(&self, tgid: i32) -> bool {
        self.tasks
            .values()
            .any(|t| t.guest.as_ref().is_some_and(|g| g.tracer == tgid))
            || self.exits.iter().any(|e| e.tracer == tgid)
    }

    /// Reports a stop of `pid` to its guest tracer: the task stays stopped.
    fn report(&mut self, pid: i32, kind: Kind, status: i32) {
        tracing::debug!(pid, ?kind, status, "reported to the guest tracer");
        let Some(g) = self.tasks.get_mut(&pid).and_then(|t| t.guest.as_mut()) else {
            return;
        };
        self.reports += 1;
        g.stop = Some(Stop {
            status,
            seq: self.reports,
            kind,
            reported: false,
        });
        let tracer = g.tracer;
        self.notify(tracer);
    }

    /// Tells tracer `tgid` that something waits for it: SIGCHLD (as the kernel sends), and an
    /// interrupt of each of its threads waiting in the kernel, so its wait is made again.
    fn notify(&mut self, tgid: i32) {
        // SAFETY: kill has no memory preconditions.
        unsafe { libc::kill(tgid, libc::SIGCHLD) };
        let waiting: Vec<i32> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.tgid == tgid && t.waiting.is_some())
            .map(|(&tid, _)| tid)
            .collect();
        for tid in waiting {
            if self.tasks.get(&tid).and_then(|t| t.waiting).is_some_and(|w| w.parked) {
                let _ = self.unpark(tid, tgid);
            } else {
                tracing::debug!(tracer = tgid, tid, "interrupting a waiting tracer");
                let _ = interrupt(tid);
            }
        }
    }

    /// Process `tgid` has just become a tracer: any of its threads (but `not`) may already wait
    /// in the kernel, where no report of the new tracee would reach it. Each is interrupted: a
    /// wait is made again (the kernel restarts it) and answered by lxrun.
    fn interrupt_waits(&self, tgid: i32, not: i32) {
        for (&tid, t) in &self.tasks {
            if t.tgid == tgid && tid != not {
                let _ = interrupt(tid);
            }
        }
    }

    /// A stop of a traced task: lxrun's own (false: handled as for any task) or reported.
    pub(super) fn traced_stop(&mut self, pid: i32, status: i32) -> Result<bool, HostErrno> {
        let Some(task) = self.tasks.get(&pid) else {
            return Ok(false);
        };
        let Some(g) = task.guest.as_ref() else {
            return Ok(false);
        };
        let (event, sig) = (status >> 16, libc::WSTOPSIG(status));
        let wants_exit = g.options & O_TRACEEXIT != 0;
        if wants_exit != g.exit_events {
            // Only now stopped: the kernel takes options from a stopped tracee only.
            let extra = if wants_exit { libc::PTRACE_O_TRACEEXIT } else { 0 };
            seize_options(pid, self.options | extra)?;
            self.set_guest(pid, |g| g.exit_events = wants_exit);
        }
        let g = self
            .tasks
            .get(&pid)
            .and_then(|t| t.guest.as_ref())
            .ok_or(HostErrno::ESRCH)?;
        match event {
            PTRACE_EVENT_EXIT if g.options & O_TRACEEXIT != 0 => {
                let msg = event_msg(pid)?;
                self.set_guest(pid, |g| g.event_msg = msg);
                self.report(pid, Kind::Event, stopped(libc::SIGTRAP, PTRACE_EVENT_EXIT));
                Ok(true)
            }
            PTRACE_EVENT_FORK | PTRACE_EVENT_VFORK | PTRACE_EVENT_CLONE => {
                let child = event_msg(pid)? as i32;
                let bit = match event {
                    PTRACE_EVENT_FORK => O_TRACEFORK,
                    PTRACE_EVENT_VFORK => O_TRACEVFORK,
                    _ => O_TRACECLONE,
                };
                let wanted = g.options & bit != 0 || super::clone_flags(pid)? & libc::CLONE_PTRACE as u64 != 0;
                self.new_task(pid, child, wanted)?;
                if wanted {
                    if let Some(g) = self.tasks.get_mut(&pid).and_then(|t| t.guest.as_mut()) {
                        g.event_msg = child as u64;
                    }
                    self.report(pid, Kind::Event, stopped(libc::SIGTRAP, event));
                    return Ok(true);
                }
                self.resume(pid, 0).map(|()| true)
            }
            PTRACE_EVENT_STOP if matches!(sig, libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU) => {
                let status = stopped(sig, if g.seized { PTRACE_EVENT_STOP } else { 0 });
                self.report(pid, Kind::Group, status);
                if pid == self.main {
                    crate::signals::stop_like(sig);
                }
                Ok(true)
            }
            PTRACE_EVENT_STOP if g.initial => {
                let status = if g.seized {
                    stopped(libc::SIGTRAP, PTRACE_EVENT_STOP)
                } else {
                    stopped(libc::SIGSTOP, 0)
                };
                self.set_guest(pid, |g| g.initial = false);
                self.report(pid, Kind::Initial, status);
                Ok(true)
            }
            PTRACE_EVENT_STOP if g.interrupt => {
                self.set_guest(pid, |g| g.interrupt = false);
                self.report(pid, Kind::Interrupt, stopped(libc::SIGTRAP, PTRACE_EVENT_STOP));
                Ok(true)
            }
            // An interrupt of lxrun's own (a waiting tracer that is traced too), or the end of
            // a group-stop: not the tracer's.
            PTRACE_EVENT_STOP => Ok(false),
            0 if sig == SYSCALL_STOP => self.traced_syscall_stop(pid).map(|()| true),
            0 => {
                self.report(pid, Kind::Signal, stopped(sig, 0));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn set_guest(&mut self, pid: i32, f: impl FnOnce(&mut Traced)) {
        if let Some(g) = self.tasks.get_mut(&pid).and_then(|t| t.guest.as_mut()) {
            f(g);
        }
    }

    /// A syscall-entry or -exit stop of a traced task (lxrun resumed it with PTRACE_SYSCALL
    /// because its tracer did, or for work of its own at the exit).
    fn traced_syscall_stop(&mut self, pid: i32) -> Result<(), HostErrno> {
        let (op, nr, args) = syscall_stop(pid)?;
        if op == PTRACE_SYSCALL_INFO_ENTRY {
            let Some(g) = self.tasks.get_mut(&pid).and_then(|t| t.guest.as_mut()) else {
                return self.resume(pid, 0);
            };
            g.entry = Some(Entry { nr, args, exec: false });
            if g.wants_syscalls() && !g.execing {
                let status = g.syscall_status();
                self.report(pid, Kind::SyscallEntry, status);
                return Ok(());
            }
            return self.resume(pid, 0);
        }
        if self.exit_work(pid)? {
            return Ok(());
        }
        let Some(g) = self.tasks.get_mut(&pid).and_then(|t| t.guest.as_mut()) else {
            return self.resume(pid, 0);
        };
        let entry = g.entry.take();
        if g.execing {
            return self.resume(pid, 0);
        }
        let Some(entry) = entry else {
            return self.resume(pid, 0);
        };
        let report = g.resume == Resume::Syscall;
        let status = g.syscall_status();
        restore(pid, &entry)?;
        if report {
            self.report(pid, Kind::SyscallExit, status);
            return Ok(());
        }
        self.resume(pid, 0)
    }

    /// The stub's last call before it jumps to the program, for a traced task: the exec is
    /// reported from here, the registers set as the kernel's exec leaves them.
    fn entered(&mut self, pid: i32, call: &SyscallArgs) -> Result<(), HostErrno> {
        let execing = self
            .tasks
            .get(&pid)
            .and_then(|t| t.guest.as_ref())
            .is_some_and(|g| g.execing);
        // Only the stub's trampoline announces, and only an exec lxrun asked to hear of.
        let in_trampoline = call.ip & !0xfff == lxrun_loader::abi::TRAMPOLINE_AT;
        if !execing || !in_trampoline {
            super::skip(pid, Errno::ENOSYS.as_return())?;
            return self.resume(pid, 0);
        }
        let [entry, sp, ..] = call.args;
        let mut regs = get_regs(pid)?;
        let (cs, ss, fs_base, gs_base, ds, es, fs, gs) = (
            regs.cs,
            regs.ss,
            regs.fs_base,
            regs.gs_base,
            regs.ds,
            regs.es,
            regs.fs,
            regs.gs,
        );
        // SAFETY: user_regs_struct is plain integers.
        regs = unsafe { std::mem::zeroed() };
        (regs.cs, regs.ss, regs.fs_base, regs.gs_base) = (cs, ss, fs_base, gs_base);
        (regs.ds, regs.es, regs.fs, regs.gs) = (ds, es, fs, gs);
        regs.rip = entry;
        regs.rsp = sp;
        regs.eflags = 0x202;
        // The private call is skipped; rax 0 is execve's result.
        regs.orig_rax = u64::MAX;
        set_regs(pid, &regs)?;
        let tgid = self.tasks.get(&pid).map_or(pid, |t| t.tgid);
        let Some(g) = self.tasks.get_mut(&pid).and_then(|t| t.guest.as_mut()) else {
            return self.resume(pid, 0);
        };
        g.execing = false;
        g.event_msg = pid as u64;
        // The private call's exit stop becomes the execve's (its number in orig_rax, rax 0),
        // reported if the tracer follows syscalls, and seen in any case: a later stop shows
        // orig_rax as the execve's.
        let nr = g.entry.map_or(libc::SYS_execve as u64, |e| e.nr);
        g.entry = Some(Entry {
            nr,
            args: [0; 6],
            exec: true,
        });
        if g.options & O_TRACEEXEC != 0 {
            self.report(pid, Kind::Exec, stopped(libc::SIGTRAP, PTRACE_EVENT_EXEC));
            return Ok(());
        }
        if !g.seized {
            // The kernel's SIGTRAP after an exec of a PTRACE_TRACEME or ATTACHed tracee: a real
            // one, delivered (and so stopped for) after the execve's exit stop.
            // SAFETY: tgkill has no memory preconditions.
            unsafe { libc::syscall(libc::SYS_tgkill, tgid, pid, libc::SIGTRAP) };
        }
        self.resume(pid, 0)
    }

    /// Marks an execve of a traced task turned into the loader stub's: the stub runs unseen,
    /// and announces the program's entry.
    pub(super) fn exec_started(&mut self, pid: i32) {
        let Some(task) = self.tasks.get_mut(&pid) else {
            return;
        };
        let Some(g) = task.guest.as_mut() else {
            return;
        };
        task.process.state().announce_entry = true;
        g.execing = true;
        if let Some(e) = g.entry.as_mut() {
            e.exec = true;
        }
    }

    /// A traced task is gone: its tracer hears of it unless the kernel tells it anyway.
    pub(super) fn traced_gone(&mut self, pid: i32, status: i32, guest: Option<Traced>) {
        if let Some(g) = guest {
            if !g.child_of_tracer {
                self.reports += 1;
                self.exits.push(Exit {
                    seq: self.reports,
                    tracer: g.tracer,
                    pid,
                    status,
                });
                self.notify(g.tracer);
            }
        }
    }

    /// Tracer process `tgid` is gone: its tracees are killed (PTRACE_O_EXITKILL) or let go.
    pub(super) fn tracer_gone(&mut self, tgid: i32) {
        self.exits.retain(|e| e.tracer != tgid);
        let tracees: Vec<i32> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.guest.as_ref().is_some_and(|g| g.tracer == tgid))
            .map(|(&tid, _)| tid)
            .collect();
        for tid in tracees {
            let Some(g) = self.tasks.get_mut(&tid).and_then(|t| t.guest.take()) else {
                continue;
            };
            if g.options & O_EXITKILL != 0 {
                // SAFETY: kill has no memory preconditions.
                unsafe { libc::kill(tid, libc::SIGKILL) };
            } else if let Some(stop) = g.stop {
                let _ = self.let_go(tid, stop.kind, 0);
            }
        }
    }

    /// Resumes a tracee the guest tracer no longer holds (detached).
    fn let_go(&self, tid: i32, kind: Kind, sig: i32) -> Result<(), HostErrno> {
        if kind == Kind::Group {
            return listen(tid);
        }
        self.resume(tid, sig)
    }
}

/// At a syscall-exit stop: the guest's call number and arguments again, where lxrun rewrote or
/// skipped the call (the result stays); for a successful execve, its number only.
fn restore(pid: i32, entry: &Entry) -> Result<(), HostErrno> {
    let mut regs = get_regs(pid)?;
    let before = (regs.orig_rax, regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9);
    regs.orig_rax = entry.nr;
    if !entry.exec {
        let [a0, a1, a2, a3, a4, a5] = entry.args;
        (regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9) = (a0, a1, a2, a3, a4, a5);
    }
    if before != (regs.orig_rax, regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9) {
        set_regs(pid, &regs)?;
    }
    Ok(())
}
