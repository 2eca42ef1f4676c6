//! Starting the first guest process: fork, let the backend attach, install the seccomp filter,
//! then execve the program, which the filter hands straight to lxrun's loader.

use crate::SupervisorError;
use lxrun_syscalls::filter::SockFilter;
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
}

/// Forks the guest's first process. It waits until `attach(pid)` has run in the parent, then
/// installs `filter` (with a user-notification listener if `listener`, handed to the parent)
/// and execs the program.
pub(crate) fn spawn(
    launch: &Launch,
    filter: &[SockFilter],
    listener: bool,
    attach: impl FnOnce(i32) -> Result<(), SupervisorError>,
) -> Result<Spawned, SupervisorError> {
    // Everything the child touches is prepared before fork: after it, only async-signal-safe calls.
    let argv: Vec<*const libc::c_char> = launch
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = launch
        .envp
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    let [go_rd, go_wr] = pipe()?;
    let [rep_rd, rep_wr] = pipe()?;

    // SAFETY: the child below only makes raw syscalls on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(os_error("fork"));
    }
    if pid == 0 {
        // SAFETY: async-signal-safe calls only; every pointer was built before fork.
        unsafe {
            libc::close(go_wr);
            libc::close(rep_rd);
            let mut byte = 0u8;
            if libc::read(go_rd, (&mut byte as *mut u8).cast(), 1) != 1 {
                libc::_exit(126);
            }
            // lxrun (Rust's runtime) ignores SIGPIPE; the guest must start with the default.
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if let Some(dir) = &launch.cwd {
                if libc::chdir(dir.as_ptr()) != 0 {
                    libc::_exit(126);
                }
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                libc::_exit(126);
            }
            let install = |flags: libc::c_ulong| {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    flags,
                    &prog as *const libc::sock_fprog,
                )
            };
            let fd = if listener {
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
                libc::_exit(126);
            }
            if listener {
                // Hand the listener's number over and wait until lxrun has taken it.
                let n = fd as i32;
                libc::write(rep_wr, (&n as *const i32).cast(), 4);
                if libc::read(go_rd, (&mut byte as *mut u8).cast(), 1) != 1 {
                    libc::_exit(126);
                }
                libc::close(fd as i32);
            }
            libc::execve(launch.program.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(exec_failure_status(*libc::__errno_location()));
        }
    }
    // SAFETY: closing our copies of the child's ends.
    unsafe {
        libc::close(go_rd);
        libc::close(rep_wr);
    }
    let result = attach(pid).and_then(|()| {
        // SAFETY: writing one byte from a local to the pipe we own.
        unsafe { libc::write(go_wr, [1u8].as_ptr().cast(), 1) };
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
        let fd = lxrun_syscalls::fds::borrow(pid, n)
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
        Ok(listener) => Ok(Spawned { pid, listener }),
        Err(e) => {
            // SAFETY: the child is ours and not yet running the guest.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            Err(e)
        }
    }
}
