//! The guest tracer's ptrace requests, answered from the real stop of its tracee (lxrun is
//! that tracee's tracer): what the kernel's ptrace_request would do for it.

use super::{guest_errno, Kind, Resume, Traced, O_ALL};
use crate::ptrace::sys::*;
use crate::ptrace::Tracer;
use lxrun_syscalls::memory::GuestMemory;
use lxrun_syscalls::{Errno, SyscallArgs};
use nix::errno::Errno as HostErrno;
use std::path::Path;

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

/// user_regs_struct: 27 words.
const REGS_SIZE: usize = 27 * 8;
/// The largest register set copied for GETREGSET/SETREGSET (xstate is a few KiB).
const REGSET_MAX: usize = 64 * 1024;
/// Offsets in user_regs_struct (and so in `struct user`) of rax and orig_rax.
const RAX_AT: usize = 10 * 8;
const ORIG_RAX_AT: usize = 15 * 8;

impl Tracer<'_> {
    /// A guest's ptrace call: the value it returns, or its errno.
    pub(super) fn request(&mut self, pid: i32, call: &SyscallArgs) -> Result<i64, Errno> {
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
