//! Starting the first guest process: fork, let the backend attach, install the seccomp filter,
//! then execve the program, which the filter hands straight to lxrun's loader.

use crate::SupervisorError;
use lxrun_syscalls::filter::SockFilter;
use std::ffi::CString;

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

/// Forks the guest's first process. It waits until `attach(pid)` has run in the parent, then
/// installs `filter` and execs the program. Returns the child's pid.
pub(crate) fn spawn(
    launch: &Launch,
    filter: &[SockFilter],
    attach: impl FnOnce(i32) -> Result<(), SupervisorError>,
) -> Result<i32, SupervisorError> {
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
    let mut pipe = [0i32; 2];
    // SAFETY: `pipe` has room for two descriptors.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(SupervisorError::Start(format!(
            "pipe: {}",
            std::io::Error::last_os_error()
        )));
    }
    let [rd, wr] = pipe;

    // SAFETY: the child below only makes raw syscalls on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(SupervisorError::Start(format!(
            "fork: {}",
            std::io::Error::last_os_error()
        )));
    }
    if pid == 0 {
        // SAFETY: async-signal-safe calls only; every pointer was built before fork.
        unsafe {
            libc::close(wr);
            let mut go = 0u8;
            if libc::read(rd, (&mut go as *mut u8).cast(), 1) != 1 {
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
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    0,
                    &prog as *const libc::sock_fprog,
                ) != 0
            {
                libc::_exit(126);
            }
            libc::execve(launch.program.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(exec_failure_status(*libc::__errno_location()));
        }
    }
    // SAFETY: closing our copy of the read end.
    unsafe { libc::close(rd) };
    let attached = attach(pid);
    if attached.is_ok() {
        // SAFETY: writing one byte from a local to the pipe we own.
        unsafe { libc::write(wr, [1u8].as_ptr().cast(), 1) };
    } else {
        // SAFETY: the child is ours and not yet running the guest.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    // SAFETY: closing our write end; a child still waiting on it sees EOF and exits.
    unsafe { libc::close(wr) };
    attached.map(|()| pid)
}
