//! Starting the first guest process: fork, let the backend attach, install the seccomp filter,
//! then execve the program, which the filter hands straight to lxrun's loader.

use crate::SupervisorError;
use lxrun_syscalls::filter::SockFilter;
use lxrun_syscalls::process::{FsState, Process, ProcessState};
use std::ffi::CString;
use std::os::fd::OwnedFd;

/// What to run.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The path handed to the first execve (absolute, relative, or found in PATH).
    pub program: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    /// Host directory to start in, if not lxrun's own.
    pub cwd: Option<CString>,
    /// The same directory as the guest names it.
    pub guest_cwd: Vec<u8>,
}

/// The exit status the child uses when its execve fails, as a shell would.
fn exec_failure_status(errno: i32) -> i32 {
    if errno == libc::ENOENT || errno == libc::ENOTDIR {
        127
    } else {
        126
    }
}

fn os_error(what: &str) -> SupervisorError {
    SupervisorError::Start(format!("{what}: {}", std::io::Error::last_os_error()))
}

fn pipe() -> Result<[i32; 2], SupervisorError> {
    let mut p = [0i32; 2];
    // SAFETY: `p` has room for two descriptors.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(os_error("pipe"));
    }
    Ok(p)
}

/// The started guest.
pub(crate) struct Spawned {
    pub pid: i32,
    /// The seccomp user-notification fd, when one was asked for.
    pub listener: Option<OwnedFd>,
    /// The process between lxrun and the guest, in systrap mode (`guardian`).
    pub guardian: Option<crate::guardian::Guardian>,
}

/// Forks the guest's first process. It waits until `attach(pid)` has run in the parent, then
/// installs `filter` (with a user-notification listener if `listener`, handed to the parent)
/// and execs the program.
/// In systrap mode: exec the loader stub by descriptor (`stub`, opened before the filter)
/// with the sealed empty path at `empty`, the one execveat the filter lets through; the
/// attach step prepares the plan (and may give a new argv, for a `#!` program).
pub(crate) struct ByFd {
    pub stub: std::ffi::CString,
    pub empty: u64,
}

/// What the attach step may answer instead of an argv: the first exec failed with this errno
/// (in the low bits); the child exits as a shell would (126 or 127) without exec'ing.
pub(crate) const EXEC_FAILED: u64 = 1 << 63;

/// What the first execve is given, in lxrun's memory (which the child shares).
pub(crate) struct FirstExec {
    pub program: u64,
    pub argv: u64,
    pub envp: u64,
}

/// The seccomp filters the launch child installs: `first` (with its listener, if asked for),
/// then `then` once the listener is lxrun's (an observed run's filter, which traces every call,
/// the child's own handing-over included; user notification outranks its TRACE verdict).
pub(crate) struct Filters<'a> {
    pub first: &'a [SockFilter],
    pub then: Option<&'a [SockFilter]>,
}

/// A sock_fprog for `filter`, kept for the rest of the run (the launch child reads it).
fn leaked_prog(filter: &[SockFilter]) -> &'static libc::sock_fprog {
    let filter: &'static [SockFilter] = Vec::leak(filter.to_vec());
    Box::leak(Box::new(libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    }))
}

pub(crate) fn spawn(
    launch: &Launch,
    filters: Filters<'_>,
    listener: bool,
    by_fd: Option<ByFd>,
    attach: impl FnOnce(i32, &FirstExec) -> Result<u64, SupervisorError>,
) -> Result<Spawned, SupervisorError> {
    // Exec by descriptor is systrap mode's, which has no ptrace to kill the guests with lxrun.
    let guarded = by_fd.is_some();
    // Everything the child touches is prepared before it starts, and never freed: it shares
    // lxrun's memory and may read it until its execve has copied argv and envp (lxrun does not
    // wait for that). A few kilobytes, once per run.
    let (argv, envp) = (pointer_array(&launch.argv), pointer_array(&launch.envp));
    let prog = leaked_prog(filters.first);
    let then_prog = filters.then.map_or(std::ptr::null(), |f| leaked_prog(f) as *const _);
    let [go_rd, go_wr] = pipe()?;
    let [rep_rd, rep_wr] = pipe()?;
    // The strings themselves belong to `launch`, which lives as long as the run.
    let child: &'static Child = Box::leak(Box::new(Child {
        go_rd,
        go_wr,
        rep_rd,
        rep_wr,
        cwd: launch.cwd.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        prog,
        then_prog,
        listener,
        program: launch.program.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        argv_override: std::sync::atomic::AtomicU64::new(0),
        by_fd: by_fd.map(|b| (Box::leak(b.stub.into_boxed_c_str()).as_ptr(), b.empty)),
    }));
    let first = FirstExec {
        program: launch.program.as_ptr() as u64,
        argv: argv.as_ptr() as u64,
        envp: envp.as_ptr() as u64,
    };

    // The child shares lxrun's memory until its execve (CLONE_VM, as posix_spawn does): a
    // fork of the multi-threaded lxrun would copy its page tables and then pay copy-on-write
    // faults and cross-CPU TLB shootdowns on both sides, a third of a millisecond per start.
    // It runs on a stack of its own, makes raw syscalls only (no errno, no allocation, no
    // thread-local state: those are lxrun's main thread's) and ends in execve or exit.
    // (The child may be on its stack until its execve completes.)
    let stack_top = child_stack()?;
    let child_arg = (child as *const Child).cast_mut().cast();
    // In systrap mode the guardian starts the child, below itself.
    let guardian = if guarded {
        Some(crate::guardian::start(child_main, stack_top, child_arg)?)
    } else {
        None
    };
    let pid = match &guardian {
        Some(g) => g.first,
        // SAFETY: `child` and all it points to live as long as lxrun (the strings: as long as
        // `launch`, that is the run).
        None => unsafe { libc::clone(child_main, stack_top, libc::CLONE_VM | libc::SIGCHLD, child_arg) },
    };
    if pid < 0 {
        return Err(os_error("clone"));
    }
    // SAFETY: closing our copies of the child's ends.
    unsafe {
        libc::close(go_rd);
        libc::close(rep_wr);
    }
    // The child goes on to its filter at once in systrap mode (`child_main`): one go, after
    // both the attach and the listener.
    let early = guarded && listener;
    let result = attach(pid, &first).and_then(|argv| {
        child.argv_override.store(argv, std::sync::atomic::Ordering::SeqCst);
        if !early {
            // SAFETY: writing one byte from a local to the pipe we own.
            unsafe { libc::write(go_wr, [1u8].as_ptr().cast(), 1) };
        }
        if !listener {
            return Ok(None);
        }
        let mut n = -1i32;
        // SAFETY: reading 4 bytes into a local.
        if unsafe { libc::read(rep_rd, (&mut n as *mut i32).cast(), 4) } != 4 || n < 0 {
            return Err(SupervisorError::Start(
                "the guest could not install its seccomp filter".into(),
            ));
        }
        let fd = lxrun_syscalls::fds::borrow(pid, pid, n)
            .map_err(|e| SupervisorError::Start(format!("taking the guest's seccomp listener: {e}")))?;
        // SAFETY: as above.
        unsafe { libc::write(go_wr, [1u8].as_ptr().cast(), 1) };
        Ok(Some(fd))
    });
    // SAFETY: closing our ends; a child still waiting sees EOF and exits.
    unsafe {
        libc::close(go_wr);
        libc::close(rep_rd);
    }
    match result {
        Ok(listener) => Ok(Spawned {
            pid,
            listener,
            guardian,
        }),
        Err(e) => {
            // SAFETY: the child is ours and not yet running the guest.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            Err(e)
        }
    }
}

/// The next child (of any kind) whose state changed: its pid and wait status; None once lxrun
/// has no child left.
pub(crate) fn wait_any() -> Result<Option<(i32, i32)>, SupervisorError> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into our local.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
        if pid >= 0 {
            return Ok(Some((pid, status)));
        }
        match nix::errno::Errno::last() {
            nix::errno::Errno::EINTR => continue,
            nix::errno::Errno::ECHILD => return Ok(None),
            e => return Err(SupervisorError::Wait(e)),
        }
    }
}

/// The top of a new 64 KiB stack for a child that shares lxrun's memory, never unmapped (once
/// per run: the child runs on it to its execve or its end).
pub(crate) fn child_stack() -> Result<*mut libc::c_void, SupervisorError> {
    const STACK: usize = 64 * 1024;
    // SAFETY: an anonymous private mapping.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(os_error("mmap"));
    }
    // SAFETY: the top is the mapping's end.
    Ok(unsafe { stack.cast::<u8>().add(STACK) }.cast())
}

/// The first guest process's state: the guest's start directory, root `/` and lxrun's umask
/// (read before the seccomp workers set it to 0).
pub(crate) fn first_process(launch: &Launch) -> Process {
    // SAFETY: umask has no preconditions; this reads the mask by setting and restoring it.
    let umask = unsafe {
        let m = libc::umask(0);
        libc::umask(m);
        m
    };
    Process::new(
        ProcessState::default(),
        FsState {
            cwd: launch.guest_cwd.clone(),
            root: b"/".to_vec(),
            umask,
        },
    )
}

/// A NULL-terminated array of pointers to `strings`, never freed (see `spawn`).
fn pointer_array(strings: &[CString]) -> &'static [*const libc::c_char] {
    Vec::leak(
        strings
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect(),
    )
}

/// What the launch child needs, prepared before it starts.
struct Child {
    go_rd: i32,
    go_wr: i32,
    rep_rd: i32,
    rep_wr: i32,
    cwd: *const libc::c_char,
    prog: *const libc::sock_fprog,
    /// Installed after the listener is handed over (null: none).
    then_prog: *const libc::sock_fprog,
    listener: bool,
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    /// Set by the attach step: the argv to exec with instead (0: `argv`).
    argv_override: std::sync::atomic::AtomicU64,
    /// In systrap mode: the stub's path and the sealed empty path's address.
    by_fd: Option<(*const libc::c_char, u64)>,
}

/// A system call with five arguments (the sixth zero), touching no errno: mmap's fd is the
/// fifth, its offset the sixth.
pub(crate) unsafe fn raw6(n: i64, a: [u64; 5]) -> i64 {
    let ret: i64;
    std::arch::asm!(
        "syscall",
        inlateout("rax") n => ret,
        in("rdi") a[0], in("rsi") a[1], in("rdx") a[2], in("r10") a[3], in("r8") a[4], in("r9") 0u64,
        lateout("rcx") _, lateout("r11") _,
        options(nostack)
    );
    ret
}

/// A system call (its fifth and sixth arguments zero) that touches no errno.
///
/// # Safety
/// The arguments must be valid for syscall `n`.
pub(crate) unsafe fn raw(n: i64, a: [u64; 4]) -> i64 {
    raw6(n, [a[0], a[1], a[2], a[3], 0])
}

/// The launch child: waits until lxrun has attached, installs the filter (handing its
/// listener over), and execs the program.
extern "C" fn child_main(arg: *mut libc::c_void) -> i32 {
    // SAFETY: `arg` is the parent's `Child`, alive until this child execs or exits; every call
    // is a raw syscall on memory prepared before the clone.
    unsafe {
        let c = &*(arg as *const Child);
        let exit = |code: i32| -> ! {
            loop {
                raw(libc::SYS_exit_group, [code as u64, 0, 0, 0]);
            }
        };
        raw(libc::SYS_close, [c.go_wr as u64, 0, 0, 0]);
        raw(libc::SYS_close, [c.rep_rd as u64, 0, 0, 0]);
        let mut byte = 0u8;
        // Under ptrace lxrun attaches before the filter (its SECCOMP_RET_TRACE needs a tracer);
        // in systrap mode nothing waits for lxrun before the filter's listener is handed over,
        // so the child's set-up overlaps lxrun's resolving of the program.
        let early = c.by_fd.is_some() && c.listener;
        if !early && raw(libc::SYS_read, [c.go_rd as u64, &mut byte as *mut u8 as u64, 1, 0]) != 1 {
            exit(126);
        }
        // systrap: the stub, opened now (the filter will not let this open through), and the
        // empty path at the address the filter expects (a zero page; our memory is lxrun's).
        let mut stub_fd = -1i64;
        if let Some((stub, empty)) = c.by_fd {
            stub_fd = raw(
                libc::SYS_open,
                [stub as u64, (libc::O_RDONLY | libc::O_CLOEXEC) as u64, 0, 0],
            );
            if stub_fd < 0 {
                exit(126);
            }
            let page = empty & !4095;
            let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as u64;
            raw6(libc::SYS_mmap, [page, 4096, libc::PROT_READ as u64, flags, u64::MAX]);
        }
        // lxrun (Rust's runtime) ignores SIGPIPE; the guest must start with the default.
        let dfl = [0u64; 4]; // struct kernel_sigaction: SIG_DFL, no flags, no restorer, empty mask
        raw(
            libc::SYS_rt_sigaction,
            [libc::SIGPIPE as u64, dfl.as_ptr() as u64, 0, 8],
        );
        let empty = 0u64;
        raw(
            libc::SYS_rt_sigprocmask,
            [libc::SIG_SETMASK as u64, &empty as *const u64 as u64, 0, 8],
        );
        raw(
            libc::SYS_prctl,
            [libc::PR_SET_PDEATHSIG as u64, libc::SIGKILL as u64, 0, 0],
        );
        if !c.cwd.is_null() && raw(libc::SYS_chdir, [c.cwd as u64, 0, 0, 0]) != 0 {
            exit(126);
        }
        if raw(libc::SYS_prctl, [libc::PR_SET_NO_NEW_PRIVS as u64, 1, 0, 0]) != 0 {
            exit(126);
        }
        let install = |flags: u64| {
            raw(
                libc::SYS_seccomp,
                [libc::SECCOMP_SET_MODE_FILTER as u64, flags, c.prog as u64, 0],
            )
        };
        let fd = if c.listener {
            // WAIT_KILLABLE_RECV (5.19): a notified call is not interrupted by harmless signals.
            let base = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
            let fd = install(base | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
            if fd < 0 {
                install(base)
            } else {
                fd
            }
        } else {
            install(0)
        };
        if fd < 0 {
            exit(126);
        }
        if c.listener {
            // Hand the listener's number over and wait until lxrun has taken it.
            let n = fd as i32;
            raw(libc::SYS_write, [c.rep_wr as u64, &n as *const i32 as u64, 4, 0]);
            if raw(libc::SYS_read, [c.go_rd as u64, &mut byte as *mut u8 as u64, 1, 0]) != 1 {
                exit(126);
            }
            raw(libc::SYS_close, [fd as u64, 0, 0, 0]);
        }
        if !c.then_prog.is_null()
            && raw(
                libc::SYS_seccomp,
                [libc::SECCOMP_SET_MODE_FILTER as u64, 0, c.then_prog as u64, 0],
            ) < 0
        {
            exit(126);
        }
        let over = c.argv_override.load(std::sync::atomic::Ordering::SeqCst);
        if over & EXEC_FAILED != 0 {
            exit(exec_failure_status((over & 0xffff) as i32));
        }
        let argv = match over {
            0 => c.argv as u64,
            a => a,
        };
        let err = match c.by_fd {
            Some((_, empty)) => raw6(
                libc::SYS_execveat,
                [stub_fd as u64, empty, argv, c.envp as u64, libc::AT_EMPTY_PATH as u64],
            ),
            None => raw(libc::SYS_execve, [c.program as u64, argv, c.envp as u64, 0]),
        };
        exit(exec_failure_status(-err as i32))
    }
}
