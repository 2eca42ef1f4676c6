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

use super::sys::*;
use super::Tracer;
use lxrun_syscalls::memory::GuestMemory;
use lxrun_syscalls::{Errno, SyscallArgs};
use nix::errno::Errno as HostErrno;
use std::path::Path;

const SYS_PTRACE: u64 = libc::SYS_ptrace as u64;
const SYS_WAIT4: u64 = libc::SYS_wait4 as u64;
const SYS_WAITID: u64 = libc::SYS_waitid as u64;

const PTRACE_TRACEME: u64 = 0;
const PTRACE_PEEKTEXT: u64 = 1;
const PTRACE_PEEKDATA: u64 = 2;
const PTRACE_PEEKUSER: u64 = 3;
const PTRACE_POKETEXT: u64 = 4;
const PTRACE_POKEDATA: u64 = 5;
const PTRACE_POKEUSER: u64 = 6;
const PTRACE_CONT: u64 = 7;
const PTRACE_KILL: u64 = 8;
const PTRACE_SINGLESTEP: u64 = 9;
const PTRACE_GETREGS: u64 = 12;
const PTRACE_SETREGS: u64 = 13;
const PTRACE_GETFPREGS: u64 = 14;
const PTRACE_SETFPREGS: u64 = 15;
const PTRACE_ATTACH: u64 = 16;
const PTRACE_DETACH: u64 = 17;
const PTRACE_SYSCALL: u64 = 24;
const PTRACE_SYSEMU: u64 = 31;
const PTRACE_SYSEMU_SINGLESTEP: u64 = 32;
const PTRACE_SETOPTIONS: u64 = 0x4200;
const PTRACE_GETEVENTMSG: u64 = 0x4201;
const PTRACE_GETSIGINFO: u64 = 0x4202;
const PTRACE_SETSIGINFO: u64 = 0x4203;
const PTRACE_GETREGSET: u64 = 0x4204;
const PTRACE_SETREGSET: u64 = 0x4205;
const PTRACE_SEIZE: u64 = 0x4206;
const PTRACE_INTERRUPT: u64 = 0x4207;
const PTRACE_LISTEN: u64 = 0x4208;
const PTRACE_GETSIGMASK: u64 = 0x420a;
const PTRACE_SETSIGMASK: u64 = 0x420b;
const PTRACE_GET_SYSCALL_INFO: u64 = 0x420e;

const O_TRACESYSGOOD: u64 = 1;
const O_TRACEFORK: u64 = 2;
const O_TRACEVFORK: u64 = 4;
const O_TRACECLONE: u64 = 8;
const O_TRACEEXEC: u64 = 0x10;
const O_TRACEEXIT: u64 = 0x40;
const O_EXITKILL: u64 = 0x10_0000;
/// Every PTRACE_O_* the kernel knows (up to SUSPEND_SECCOMP); others are EINVAL.
const O_ALL: u64 = 0xff | O_EXITKILL | 0x20_0000;

/// user_regs_struct: 27 words.
const REGS_SIZE: usize = 27 * 8;
/// The largest register set copied for GETREGSET/SETREGSET (xstate is a few KiB).
const REGSET_MAX: usize = 64 * 1024;
/// Offsets in user_regs_struct (and so in `struct user`) of rax and orig_rax.
const RAX_AT: usize = 10 * 8;
const ORIG_RAX_AT: usize = 15 * 8;

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

/// A wait of a tracer's thread left to the kernel (its exit is checked, and a report
/// interrupts it so that it is made again and answered).
#[derive(Clone, Copy, Debug)]
pub(super) struct Waiting {
    nr: u64,
    args: [u64; 6],
    nohang: bool,
    /// No child to wait for in the kernel (it said ECHILD): the thread stays at the wait's
    /// exit stop until lxrun has something for it (a signal reaches it only then).
    parked: bool,
}

impl Waiting {
    /// Whether lxrun awaits the wait's exit stop (not once it is parked there).
    pub(super) fn awaited(&self) -> bool {
        !self.parked
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

/// Which children a wait asks for.
#[derive(Clone, Copy, Debug)]
enum Selector {
    Any,
    Pid(i32),
}

impl Selector {
    fn wait4(pid: i32) -> Selector {
        if pid > 0 {
            Selector::Pid(pid)
        } else {
            // Process groups are not told apart: any tracee matches.
            Selector::Any
        }
    }

    fn waitid(idtype: u64, id: u64) -> Selector {
        if idtype == libc::P_PID as u64 {
            Selector::Pid(id as i32)
        } else {
            Selector::Any
        }
    }

    fn matches(self, pid: i32) -> bool {
        match self {
            Selector::Any => true,
            Selector::Pid(p) => p == pid,
        }
    }
}

/// What a wait collects: a reported stop, or an exit the tracer would not get otherwise.
enum Collect {
    Stop(i32, i32),
    Exit(usize, i32, i32),
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

    /// A guest's wait4 or waitid: answered from the reported stops of its tracees, else made
    /// in the kernel (for its own children), with lxrun watching its exit.
    fn wait(&mut self, pid: i32, call: &SyscallArgs) -> Result<bool, HostErrno> {
        let Some(tgid) = self.tasks.get(&pid).map(|t| t.tgid) else {
            return Ok(false);
        };
        if !self.is_tracer(tgid) {
            return Ok(false);
        }
        if let Some(ret) = self.collect(pid, tgid, call.nr, &call.args) {
            super::skip(pid, ret)?;
            return self.resume(pid, 0).map(|()| true);
        }
        let options = if call.nr == SYS_WAITID {
            call.args[3]
        } else {
            call.args[2]
        } as i32;
        if let Some(t) = self.tasks.get_mut(&pid) {
            t.waiting = Some(Waiting {
                nr: call.nr,
                args: call.args,
                nohang: options & libc::WNOHANG != 0,
                parked: false,
            });
        }
        // To the call's exit (`waited`).
        self.resume(pid, 0).map(|()| true)
    }

    /// Answers thread `pid`'s wait (call `nr` with `args`) from what tracer `tgid` may collect:
    /// the call's result, None when there is nothing.
    fn collect(&mut self, pid: i32, tgid: i32, nr: u64, args: &[u64; 6]) -> Option<i64> {
        let a = args;
        let waitid = nr == SYS_WAITID;
        let (selector, options) = if waitid {
            (Selector::waitid(a[0], a[1]), a[3] as i32)
        } else {
            (Selector::wait4(a[0] as i32), a[2] as i32)
        };
        let found = self.collectable(tgid, selector);
        tracing::debug!(pid, ?selector, found = found.is_some(), "a tracer's wait");
        let found = found?;
        let (tid, status) = match found {
            Collect::Stop(tid, status) | Collect::Exit(_, tid, status) => (tid, status),
        };
        let mem = GuestMemory::new(pid);
        let written = if waitid {
            write_siginfo(&mem, a[2], tid, status).and_then(|()| zero(&mem, a[4], 144))
        } else {
            write_i32(&mem, a[1], status).and_then(|()| zero(&mem, a[3], 144))
        };
        if written.is_ok() && options & libc::WNOWAIT == 0 {
            match found {
                Collect::Stop(tid, _) => {
                    if let Some(s) = self
                        .tasks
                        .get_mut(&tid)
                        .and_then(|t| t.guest.as_mut())
                        .and_then(|g| g.stop.as_mut())
                    {
                        s.reported = true;
                    }
                }
                Collect::Exit(i, ..) => {
                    self.exits.remove(i);
                }
            }
        }
        Some(match written {
            Ok(()) if waitid => 0,
            Ok(()) => i64::from(tid),
            Err(e) => e.as_return(),
        })
    }

    /// A thread of tracer `tgid` parked at its wait's exit (`waited`): answered and resumed
    /// once there is something for it, or given its ECHILD once it traces nothing.
    fn unpark(&mut self, pid: i32, tgid: i32) -> Result<(), HostErrno> {
        let Some(w) = self.tasks.get(&pid).and_then(|t| t.waiting).filter(|w| w.parked) else {
            return Ok(());
        };
        let ret = match self.collect(pid, tgid, w.nr, &w.args) {
            Some(ret) => ret,
            None if self.is_tracer(tgid) => return Ok(()),
            None => -i64::from(libc::ECHILD),
        };
        if let Some(t) = self.tasks.get_mut(&pid) {
            t.waiting = None;
        }
        let mut regs = get_regs(pid)?;
        regs.rax = ret as u64;
        set_regs(pid, &regs)?;
        cont(pid, 0)
    }

    fn collectable(&self, tracer: i32, selector: Selector) -> Option<Collect> {
        // The oldest first, as the kernel's events come.
        let stop = self
            .tasks
            .iter()
            .filter_map(|(&tid, t)| {
                let g = t.guest.as_ref().filter(|g| g.tracer == tracer)?;
                let s = g.stop.filter(|s| !s.reported)?;
                selector.matches(tid).then_some((s.seq, Collect::Stop(tid, s.status)))
            })
            .min_by_key(|(seq, _)| *seq);
        let exit = self
            .exits
            .iter()
            .enumerate()
            .filter(|(_, e)| e.tracer == tracer && selector.matches(e.pid))
            .map(|(i, e)| (e.seq, Collect::Exit(i, e.pid, e.status)))
            .min_by_key(|(seq, _)| *seq);
        match (stop, exit) {
            (Some(s), Some(e)) => Some(if s.0 < e.0 { s.1 } else { e.1 }),
            (s, e) => s.or(e).map(|(_, c)| c),
        }
    }

    /// At the exit of a wait left to the kernel: a tracer without children of its own gets
    /// ECHILD there, but it has tracees. WNOHANG: nothing yet (0); else it stays parked there
    /// until a report (`unpark`). True when the task is left stopped or resumed here.
    pub(super) fn waited(&mut self, pid: i32) -> Result<bool, HostErrno> {
        let Some(task) = self.tasks.get_mut(&pid) else {
            return Ok(false);
        };
        let Some(w) = task.waiting.take() else {
            return Ok(false);
        };
        let tgid = task.tgid;
        let mut regs = get_regs(pid)?;
        tracing::debug!(pid, ret = regs.rax as i64, "a tracer's wait returned");
        if regs.rax as i64 != -i64::from(libc::ECHILD) || !self.is_tracer(tgid) {
            return Ok(false);
        }
        if w.nohang {
            regs.rax = 0;
            set_regs(pid, &regs)?;
            if w.nr == SYS_WAITID {
                // si_signo and si_pid 0: nothing to report.
                let _ = zero(&GuestMemory::new(pid), w.args[2], 32);
            }
            return Ok(false);
        }
        if let Some(t) = self.tasks.get_mut(&pid) {
            t.waiting = Some(Waiting { parked: true, ..w });
        }
        // Something may have come while it was in the kernel.
        self.unpark(pid, tgid)?;
        Ok(true)
    }

    /// lxrun's interrupt of a waiting tracer: the kernel makes its wait again when it resumes
    /// (-ERESTARTSYS, no handler), and lxrun answers it then. True when handled.
    pub(super) fn interrupted(&mut self, pid: i32) -> Result<bool, HostErrno> {
        let Some(w) = self.tasks.get_mut(&pid).and_then(|t| t.waiting.take()) else {
            return Ok(false);
        };
        tracing::debug!(pid, ?w, "a waiting tracer interrupted");
        cont(pid, 0).map(|()| true)
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

    /// A guest's ptrace call: the value it returns, or its errno.
    fn request(&mut self, pid: i32, call: &SyscallArgs) -> Result<i64, Errno> {
        let [req, target, addr, data, ..] = call.args;
        let target = target as i32;
        let tgid = self.tasks.get(&pid).map(|t| t.tgid).ok_or(Errno::ESRCH)?;
        let mem = GuestMemory::new(pid);
        match req {
            PTRACE_TRACEME => self.traceme(pid, tgid),
            PTRACE_ATTACH | PTRACE_SEIZE => self.attach(tgid, target, req == PTRACE_SEIZE, addr, data),
            PTRACE_KILL if self.tracee_of(tgid, target).is_some() => {
                // SAFETY: kill has no memory preconditions.
                unsafe { libc::kill(target, libc::SIGKILL) };
                Ok(0)
            }
            PTRACE_INTERRUPT => {
                let g = self.tracee_of(tgid, target).ok_or(Errno::ESRCH)?;
                if !g.seized {
                    return Err(Errno::EIO);
                }
                if g.stop.is_none() {
                    self.set_guest(target, |g| g.interrupt = true);
                    interrupt(target).map_err(guest_errno)?;
                }
                Ok(0)
            }
            _ => self.stopped_request(&mem, tgid, req, target, addr, data),
        }
    }

    fn tracee_of(&self, tracer: i32, target: i32) -> Option<&Traced> {
        self.tasks
            .get(&target)
            .and_then(|t| t.guest.as_ref())
            .filter(|g| g.tracer == tracer)
    }

    fn traceme(&mut self, pid: i32, tgid: i32) -> Result<i64, Errno> {
        let parent = parent_of(tgid).ok_or(Errno::EPERM)?;
        let parent_is_guest = self.tasks.values().any(|t| t.tgid == parent);
        let task = self.tasks.get_mut(&pid).ok_or(Errno::ESRCH)?;
        if task.guest.is_some() || !parent_is_guest {
            return Err(Errno::EPERM);
        }
        task.guest = Some(Traced::new(parent, false, 0, pid == tgid));
        self.interrupt_waits(parent, pid);
        Ok(0)
    }

    fn attach(&mut self, tracer: i32, target: i32, seize: bool, addr: u64, options: u64) -> Result<i64, Errno> {
        if seize && (addr != 0 || options & !O_ALL != 0) {
            return Err(Errno::EINVAL);
        }
        // As for process_vm_*: a task that exists but is no guest's (lxrun, the host's) is EPERM.
        let exists = target > 0 && Path::new(&format!("/proc/{target}")).exists();
        let t = self
            .tasks
            .get(&target)
            .ok_or(if exists { Errno::EPERM } else { Errno::ESRCH })?;
        if t.tgid == tracer || t.guest.is_some() {
            return Err(Errno::EPERM);
        }
        yama_allows(tracer, t.tgid)?;
        let child = target == t.tgid && parent_of(target) == Some(tracer);
        let tgid = t.tgid;
        let options = if seize { options } else { 0 };
        if let Some(t) = self.tasks.get_mut(&target) {
            t.guest = Some(Traced::new(tracer, seize, options, child));
        }
        self.interrupt_waits(tracer, target);
        if !seize {
            // As the kernel's attach: a SIGSTOP, whose signal-delivery-stop the tracer waits for.
            // SAFETY: tgkill has no memory preconditions.
            unsafe { libc::syscall(libc::SYS_tgkill, tgid, target, libc::SIGSTOP) };
        }
        Ok(0)
    }

    /// The requests that need the tracee stopped for the caller (else ESRCH, as the kernel's
    /// ptrace_check_attach says).
    fn stopped_request(
        &mut self,
        mem: &GuestMemory,
        tracer: i32,
        req: u64,
        target: i32,
        addr: u64,
        data: u64,
    ) -> Result<i64, Errno> {
        let g = self.tracee_of(tracer, target).ok_or(Errno::ESRCH)?;
        let stop = g.stop.ok_or(Errno::ESRCH)?;
        let kind = stop.kind;
        let entry_nr = g.entry.map_or(libc::SYS_execve as u64, |e| e.nr);
        let host = |r: Result<i64, HostErrno>| r.map_err(guest_errno);
        match req {
            PTRACE_PEEKTEXT | PTRACE_PEEKDATA | PTRACE_PEEKUSER => {
                let mut word = 0u64;
                host(raw(req, target, addr, &mut word as *mut u64 as u64))?;
                if kind == Kind::Exec && req == PTRACE_PEEKUSER && addr == ORIG_RAX_AT as u64 {
                    word = entry_nr;
                }
                if kind == Kind::Exec && req == PTRACE_PEEKUSER && addr == RAX_AT as u64 {
                    word = Errno::ENOSYS.as_return() as u64;
                }
                mem.write_bytes(data, &word.to_le_bytes())?;
                Ok(0)
            }
            PTRACE_POKETEXT | PTRACE_POKEDATA => host(raw(req, target, addr, data)),
            PTRACE_POKEUSER if kind == Kind::Exec && (addr == ORIG_RAX_AT as u64 || addr == RAX_AT as u64) => Ok(0),
            PTRACE_POKEUSER => host(raw(req, target, addr, data)),
            PTRACE_GETREGS => {
                let mut regs = [0u8; REGS_SIZE];
                host(raw(req, target, 0, regs.as_mut_ptr() as u64))?;
                if kind == Kind::Exec {
                    exec_event_regs(&mut regs, entry_nr);
                }
                mem.write_bytes(data, &regs)?;
                Ok(0)
            }
            PTRACE_SETREGS => {
                let mut regs = [0u8; REGS_SIZE];
                mem.read_bytes(data, &mut regs)?;
                if kind == Kind::Exec {
                    // The skipped private call stays skipped.
                    regs[ORIG_RAX_AT..ORIG_RAX_AT + 8].copy_from_slice(&u64::MAX.to_le_bytes());
                }
                host(raw(req, target, 0, regs.as_ptr() as u64))
            }
            PTRACE_GETFPREGS => {
                let mut fp = [0u8; 512];
                host(raw(req, target, 0, fp.as_mut_ptr() as u64))?;
                mem.write_bytes(data, &fp)?;
                Ok(0)
            }
            PTRACE_SETFPREGS => {
                let mut fp = [0u8; 512];
                mem.read_bytes(data, &mut fp)?;
                host(raw(req, target, 0, fp.as_ptr() as u64))
            }
            PTRACE_GETREGSET | PTRACE_SETREGSET => self.regset(mem, req, target, addr, data, kind, entry_nr),
            PTRACE_GETSIGINFO => {
                let info = match kind {
                    Kind::Signal => {
                        let mut info = [0u8; 128];
                        host(raw(req, target, 0, info.as_mut_ptr() as u64))?;
                        info
                    }
                    // A group-stop has no siginfo: how a tracer tells it from a signal.
                    Kind::Group => return Err(Errno::EINVAL),
                    _ => trap_siginfo(stop.status, target),
                };
                mem.write_bytes(data, &info)?;
                Ok(0)
            }
            PTRACE_SETSIGINFO if kind == Kind::Signal => {
                let mut info = [0u8; 128];
                mem.read_bytes(data, &mut info)?;
                host(raw(req, target, 0, info.as_ptr() as u64))
            }
            PTRACE_SETSIGINFO => Ok(0),
            PTRACE_GETSIGMASK | PTRACE_SETSIGMASK => {
                if addr != 8 {
                    return Err(Errno::EINVAL);
                }
                let mut set = [0u8; 8];
                if req == PTRACE_SETSIGMASK {
                    mem.read_bytes(data, &mut set)?;
                }
                host(raw(req, target, 8, set.as_mut_ptr() as u64))?;
                if req == PTRACE_GETSIGMASK {
                    mem.write_bytes(data, &set)?;
                }
                Ok(0)
            }
            PTRACE_GETEVENTMSG => {
                let msg = self.tracee_of(tracer, target).map_or(0, |g| g.event_msg);
                mem.write_bytes(data, &msg.to_le_bytes())?;
                Ok(0)
            }
            PTRACE_SETOPTIONS => {
                if data & !O_ALL != 0 {
                    return Err(Errno::EINVAL);
                }
                self.set_guest(target, |g| g.options = data);
                Ok(0)
            }
            PTRACE_GET_SYSCALL_INFO => {
                if matches!(kind, Kind::SyscallEntry | Kind::SyscallExit) {
                    let mut buf = vec![0u8; (addr as usize).min(4096)];
                    let n = host(raw(req, target, buf.len() as u64, buf.as_mut_ptr() as u64))?;
                    mem.write_bytes(data, &buf[..buf.len().min(n as usize)])?;
                    return Ok(n);
                }
                // No call: op NONE with the arch, ip and sp (24 bytes).
                let mut regs = [0u8; REGS_SIZE];
                host(raw(PTRACE_GETREGS, target, 0, regs.as_mut_ptr() as u64))?;
                let mut info = [0u8; 24];
                info[4..8].copy_from_slice(&lxrun_syscalls::AUDIT_ARCH_X86_64.to_le_bytes());
                info[8..16].copy_from_slice(&regs[16 * 8..17 * 8]);
                info[16..24].copy_from_slice(&regs[19 * 8..20 * 8]);
                mem.write_bytes(data, &info[..info.len().min(addr as usize)])?;
                Ok(24)
            }
            PTRACE_CONT | PTRACE_SYSCALL | PTRACE_SINGLESTEP | PTRACE_SYSEMU | PTRACE_SYSEMU_SINGLESTEP => {
                let sig = signal_arg(data)?;
                let resume = match req {
                    PTRACE_CONT => Resume::Cont,
                    PTRACE_SYSCALL => Resume::Syscall,
                    PTRACE_SINGLESTEP => Resume::Step,
                    PTRACE_SYSEMU => Resume::Sysemu,
                    _ => Resume::SysemuStep,
                };
                if kind == Kind::SyscallEntry && matches!(resume, Resume::Sysemu | Resume::SysemuStep) {
                    // Too late for the kernel's own SYSEMU at this entry: skip the call by hand.
                    host(raw(PTRACE_POKEUSER, target, ORIG_RAX_AT as u64, u64::MAX))?;
                    self.set_guest(target, |g| g.entry = None);
                }
                self.set_guest(target, |g| {
                    g.resume = resume;
                    g.stop = None;
                });
                host(self.resume(target, sig).map(|()| 0))
            }
            PTRACE_LISTEN => {
                // Any PTRACE_EVENT_STOP of a seized tracee, as the kernel allows.
                let event_stop = stop.status >> 16 == PTRACE_EVENT_STOP;
                if !self.tracee_of(tracer, target).is_some_and(|g| g.seized) || !event_stop {
                    return Err(Errno::EIO);
                }
                self.set_guest(target, |g| g.stop = None);
                host(listen(target).map(|()| 0))
            }
            PTRACE_DETACH => {
                let sig = signal_arg(data)?;
                if let Some(t) = self.tasks.get_mut(&target) {
                    t.guest = None;
                }
                host(self.let_go(target, kind, sig).map(|()| 0))
            }
            _ => Err(Errno::EIO),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn regset(
        &self,
        mem: &GuestMemory,
        req: u64,
        target: i32,
        note: u64,
        iov_at: u64,
        kind: Kind,
        entry_nr: u64,
    ) -> Result<i64, Errno> {
        let mut iov = [0u8; 16];
        mem.read_bytes(iov_at, &mut iov)?;
        let base = u64::from_le_bytes(iov[..8].try_into().unwrap_or_default());
        let len = u64::from_le_bytes(iov[8..].try_into().unwrap_or_default());
        let mut buf = vec![0u8; (len as usize).min(REGSET_MAX)];
        if req == PTRACE_SETREGSET {
            mem.read_bytes(base, &mut buf)?;
        }
        let prstatus = note == 1;
        if req == PTRACE_SETREGSET && prstatus && kind == Kind::Exec && buf.len() >= ORIG_RAX_AT + 8 {
            buf[ORIG_RAX_AT..ORIG_RAX_AT + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        }
        let mut host_iov = [buf.as_mut_ptr() as u64, buf.len() as u64];
        raw(req, target, note, host_iov.as_mut_ptr() as u64).map_err(guest_errno)?;
        let got = (host_iov[1] as usize).min(buf.len());
        if req == PTRACE_GETREGSET {
            if prstatus && kind == Kind::Exec && got >= REGS_SIZE {
                exec_event_regs(&mut buf[..REGS_SIZE], entry_nr);
            }
            mem.write_bytes(base, &buf[..got])?;
        }
        mem.write_bytes(iov_at + 8, &(got as u64).to_le_bytes())?;
        Ok(0)
    }
}

/// The registers at PTRACE_EVENT_EXEC as the kernel shows them: inside the execve, whose
/// number is in orig_rax and whose rax is still -ENOSYS (the real stop is the stub's private
/// call, skipped).
fn exec_event_regs(regs: &mut [u8], nr: u64) {
    regs[ORIG_RAX_AT..ORIG_RAX_AT + 8].copy_from_slice(&nr.to_le_bytes());
    regs[RAX_AT..RAX_AT + 8].copy_from_slice(&(Errno::ENOSYS.as_return() as u64).to_le_bytes());
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

/// A resuming request's signal: 0 or a valid number, else EIO.
fn signal_arg(data: u64) -> Result<i32, Errno> {
    if data > 64 {
        return Err(Errno::EIO);
    }
    Ok(data as i32)
}

/// The siginfo of a SIGTRAP stop lxrun made up (syscall, event and exec stops): si_code is the
/// stop's signal with the event, as the kernel's ptrace_notify sets it.
fn trap_siginfo(status: i32, pid: i32) -> [u8; 128] {
    let mut info = [0u8; 128];
    let sig = (status >> 8) & 0x7f;
    info[0..4].copy_from_slice(&sig.to_le_bytes());
    info[8..12].copy_from_slice(&((status >> 8) & 0xffff).to_le_bytes());
    info[16..20].copy_from_slice(&pid.to_le_bytes());
    // SAFETY: getuid has no preconditions.
    info[20..24].copy_from_slice(&unsafe { libc::getuid() }.to_le_bytes());
    info
}

fn write_i32(mem: &GuestMemory, at: u64, v: i32) -> Result<(), Errno> {
    if at == 0 {
        return Ok(());
    }
    mem.write_bytes(at, &v.to_le_bytes())
}

fn zero(mem: &GuestMemory, at: u64, len: usize) -> Result<(), Errno> {
    if at == 0 {
        return Ok(());
    }
    mem.write_bytes(at, &vec![0u8; len])
}

/// waitid's siginfo for a stop or exit with wait status `status`.
fn write_siginfo(mem: &GuestMemory, at: u64, pid: i32, status: i32) -> Result<(), Errno> {
    if at == 0 {
        return Ok(());
    }
    let (code, value) = if libc::WIFEXITED(status) {
        (libc::CLD_EXITED, libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        let code = if libc::WCOREDUMP(status) {
            libc::CLD_DUMPED
        } else {
            libc::CLD_KILLED
        };
        (code, libc::WTERMSIG(status))
    } else {
        (libc::CLD_TRAPPED, (status >> 8) & 0xffff)
    };
    let mut info = [0u8; 128];
    info[0..4].copy_from_slice(&libc::SIGCHLD.to_le_bytes());
    info[8..12].copy_from_slice(&code.to_le_bytes());
    info[16..20].copy_from_slice(&pid.to_le_bytes());
    // SAFETY: getuid has no preconditions.
    info[20..24].copy_from_slice(&unsafe { libc::getuid() }.to_le_bytes());
    info[24..28].copy_from_slice(&value.to_le_bytes());
    mem.write_bytes(at, &info)
}

/// The parent process of `pid` (PPid in /proc/PID/status).
fn parent_of(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|p| p.trim().parse().ok())
}

/// The host's Yama policy (kernel.yama.ptrace_scope), applied to guests as the kernel would
/// apply it to them: 1 allows attaching to descendants only, 2 only to a caller with
/// CAP_SYS_PTRACE (lxrun's own, as far as the guest is concerned: root), 3 never.
fn yama_allows(tracer: i32, target: i32) -> Result<(), Errno> {
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0);
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let allowed = match scope {
        0 => true,
        1 => root || descends(target, tracer),
        2 => root,
        _ => false,
    };
    if allowed {
        return Ok(());
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "lxrun: ptrace attach refused: the host's Yama ptrace_scope is {scope}"
        );
    });
    Err(Errno::EPERM)
}

/// Whether process `pid` descends from `ancestor`.
fn descends(mut pid: i32, ancestor: i32) -> bool {
    for _ in 0..4096 {
        match parent_of(pid) {
            Some(p) if p == ancestor => return true,
            Some(p) if p > 1 => pid = p,
            _ => return false,
        }
    }
    false
}
