//! Thin, typed wrappers over the ptrace requests the backend uses. Each returns the errno on
//! failure; ESRCH means the tracee is gone (killed, or exited under us).

use nix::errno::Errno as HostErrno;

pub const PTRACE_EVENT_FORK: i32 = 1;
pub const PTRACE_EVENT_VFORK: i32 = 2;
pub const PTRACE_EVENT_CLONE: i32 = 3;
pub const PTRACE_EVENT_EXEC: i32 = 4;
pub const PTRACE_EVENT_EXIT: i32 = 6;
pub const PTRACE_EVENT_SECCOMP: i32 = 7;
pub const PTRACE_EVENT_STOP: i32 = 128;

const PTRACE_GET_SYSCALL_INFO: u32 = 0x420e;
const PTRACE_SYSCALL_INFO_EXIT: u8 = 2;
const PTRACE_SYSCALL_INFO_SECCOMP: u8 = 3;
/// With PTRACE_O_TRACESYSGOOD, syscall stops report SIGTRAP | 0x80.
pub const SYSCALL_STOP: i32 = libc::SIGTRAP | 0x80;

fn check(r: libc::c_long) -> Result<libc::c_long, HostErrno> {
    if r < 0 {
        Err(HostErrno::last())
    } else {
        Ok(r)
    }
}

fn request(req: u32, pid: i32, addr: usize, data: usize) -> Result<libc::c_long, HostErrno> {
    // SAFETY: every caller passes `addr`/`data` valid for `req` (pointers to live locals or integers).
    check(unsafe { libc::ptrace(req, pid, addr as *mut libc::c_void, data as *mut libc::c_void) })
}

pub fn seize(pid: i32, options: i32) -> Result<(), HostErrno> {
    request(libc::PTRACE_SEIZE, pid, 0, options as usize).map(drop)
}

/// Changes a stopped tracee's options.
pub fn seize_options(pid: i32, options: i32) -> Result<(), HostErrno> {
    request(libc::PTRACE_SETOPTIONS, pid, 0, options as usize).map(drop)
}

/// Resumes the tracee, delivering `sig` (0: none).
pub fn cont(pid: i32, sig: i32) -> Result<(), HostErrno> {
    request(libc::PTRACE_CONT, pid, 0, sig as usize).map(drop)
}

/// Resumes the tracee until its current syscall's exit stop, delivering `sig` (0: none).
/// Observed runs only: a normal run never stops at syscall exits.
pub fn cont_to_exit(pid: i32, sig: i32) -> Result<(), HostErrno> {
    request(libc::PTRACE_SYSCALL, pid, 0, sig as usize).map(drop)
}

/// The siginfo of the signal a tracee is stopped for (128 bytes, as the kernel lays it out).
pub fn siginfo(pid: i32) -> Result<[u8; 128], HostErrno> {
    let mut info = [0u8; 128];
    request(libc::PTRACE_GETSIGINFO, pid, 0, info.as_mut_ptr() as usize)?;
    Ok(info)
}

/// Leaves a group-stopped tracee stopped but lets it be continued by SIGCONT.
pub fn listen(pid: i32) -> Result<(), HostErrno> {
    request(libc::PTRACE_LISTEN, pid, 0, 0).map(drop)
}

pub fn event_msg(pid: i32) -> Result<u64, HostErrno> {
    let mut msg: libc::c_ulong = 0;
    request(libc::PTRACE_GETEVENTMSG, pid, 0, &mut msg as *mut _ as usize)?;
    Ok(msg)
}

pub fn get_regs(pid: i32) -> Result<libc::user_regs_struct, HostErrno> {
    // SAFETY: user_regs_struct is plain integers.
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    request(libc::PTRACE_GETREGS, pid, 0, &mut regs as *mut _ as usize)?;
    Ok(regs)
}

pub fn set_regs(pid: i32, regs: &libc::user_regs_struct) -> Result<(), HostErrno> {
    request(libc::PTRACE_SETREGS, pid, 0, regs as *const _ as usize).map(drop)
}

/// `struct ptrace_syscall_info` with its seccomp arm.
#[repr(C)]
#[derive(Default)]
struct SyscallInfo {
    op: u8,
    _pad: [u8; 3],
    arch: u32,
    ip: u64,
    sp: u64,
    nr: u64,
    args: [u64; 6],
    ret_data: u32,
    _pad2: u32,
}

/// PTRACE_GET_SYSCALL_INFO: what the tracee is stopped in.
fn syscall_info(pid: i32) -> Result<SyscallInfo, HostErrno> {
    let mut info = SyscallInfo::default();
    request(
        PTRACE_GET_SYSCALL_INFO,
        pid,
        size_of::<SyscallInfo>(),
        &mut info as *mut _ as usize,
    )?;
    Ok(info)
}

/// The call a tracee is stopped in at a seccomp stop: (arch, nr, args, sp).
pub fn seccomp_call(pid: i32) -> Result<lxrun_syscalls::SyscallArgs, HostErrno> {
    let info = syscall_info(pid)?;
    if info.op != PTRACE_SYSCALL_INFO_SECCOMP {
        return Err(HostErrno::EINVAL);
    }
    Ok(lxrun_syscalls::SyscallArgs {
        nr: info.nr,
        args: info.args,
        arch: info.arch,
        sp: info.sp,
        ip: info.ip,
    })
}

/// At a syscall stop: the call's raw result (`-errno` on error) if this is its exit, None at
/// an entry stop.
pub fn syscall_exit_value(pid: i32) -> Result<Option<i64>, HostErrno> {
    let info = syscall_info(pid)?;
    // The exit arm overlays `nr`: { s64 rval; u8 is_error; }.
    Ok((info.op == PTRACE_SYSCALL_INFO_EXIT).then_some(info.nr as i64))
}

/// PTRACE_GET_SYSCALL_INFO's `op` at a syscall-entry stop.
pub const PTRACE_SYSCALL_INFO_ENTRY: u8 = 1;

/// The raw ptrace syscall (no libc wrapper: PEEK requests store their word at `data` and
/// return 0, as a guest's own call sees them).
pub fn raw(req: u64, pid: i32, addr: u64, data: u64) -> Result<i64, HostErrno> {
    // SAFETY: every caller passes `addr`/`data` valid for `req` (pointers into live locals of
    // lxrun, or integers).
    let r = unsafe { libc::syscall(libc::SYS_ptrace, req, pid, addr, data) };
    if r < 0 {
        Err(HostErrno::last())
    } else {
        Ok(r)
    }
}

/// Resumes the tracee for one instruction, delivering `sig`.
pub fn step(pid: i32, sig: i32) -> Result<(), HostErrno> {
    request(libc::PTRACE_SINGLESTEP, pid, 0, sig as usize).map(drop)
}

/// Resumes the tracee to its next syscall's entry, which does not run (PTRACE_SYSEMU), or for
/// one instruction as well (`and_step`).
pub fn sysemu(pid: i32, sig: i32, and_step: bool) -> Result<(), HostErrno> {
    let req = if and_step {
        libc::PTRACE_SYSEMU_SINGLESTEP
    } else {
        libc::PTRACE_SYSEMU
    };
    request(req, pid, 0, sig as usize).map(drop)
}

/// Stops a running tracee (PTRACE_EVENT_STOP); a wait in the kernel returns to be restarted.
pub fn interrupt(pid: i32) -> Result<(), HostErrno> {
    request(libc::PTRACE_INTERRUPT, pid, 0, 0).map(drop)
}

/// At a syscall stop: PTRACE_GET_SYSCALL_INFO's op (entry, exit), call number and arguments.
pub fn syscall_stop(pid: i32) -> Result<(u8, u64, [u64; 6]), HostErrno> {
    let info = syscall_info(pid)?;
    Ok((info.op, info.nr, info.args))
}
