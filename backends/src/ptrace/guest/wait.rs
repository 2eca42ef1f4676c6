//! A guest tracer's wait4 and waitid: answered from its tracees' reported stops and exits,
//! else left to the kernel (for its own children) and watched to their exit.

use super::SYS_WAITID;
use crate::ptrace::sys::*;
use crate::ptrace::Tracer;
use lxrun_syscalls::memory::GuestMemory;
use lxrun_syscalls::{Errno, SyscallArgs};
use nix::errno::Errno as HostErrno;

/// A wait of a tracer's thread left to the kernel (its exit is checked, and a report
/// interrupts it so that it is made again and answered).
#[derive(Clone, Copy, Debug)]
pub(in crate::ptrace) struct Waiting {
    nr: u64,
    args: [u64; 6],
    nohang: bool,
    /// No child to wait for in the kernel (it said ECHILD): the thread stays at the wait's
    /// exit stop until lxrun has something for it (a signal reaches it only then).
    pub(in crate::ptrace) parked: bool,
}

impl Waiting {
    /// Whether lxrun awaits the wait's exit stop (not once it is parked there).
    pub(in crate::ptrace) fn awaited(&self) -> bool {
        !self.parked
    }
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
    /// A guest's wait4 or waitid: answered from the reported stops of its tracees, else made
    /// in the kernel (for its own children), with lxrun watching its exit.
    pub(super) fn wait(&mut self, pid: i32, call: &SyscallArgs) -> Result<bool, HostErrno> {
        let Some(tgid) = self.tasks.get(&pid).map(|t| t.tgid) else {
            return Ok(false);
        };
        if !self.is_tracer(tgid) {
            return Ok(false);
        }
        if let Some(ret) = self.collect(pid, tgid, call.nr, &call.args) {
            crate::ptrace::skip(pid, ret)?;
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
    pub(super) fn unpark(&mut self, pid: i32, tgid: i32) -> Result<(), HostErrno> {
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
    pub(in crate::ptrace) fn waited(&mut self, pid: i32) -> Result<bool, HostErrno> {
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
    pub(in crate::ptrace) fn interrupted(&mut self, pid: i32) -> Result<bool, HostErrno> {
        let Some(w) = self.tasks.get_mut(&pid).and_then(|t| t.waiting.take()) else {
            return Ok(false);
        };
        tracing::debug!(pid, ?w, "a waiting tracer interrupted");
        cont(pid, 0).map(|()| true)
    }
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
