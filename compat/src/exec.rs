//! Running one command: controlled environment, optional stdin, captured output, a timeout
//! that kills the whole process group, and (for the oracle of `root` cases) `chroot DIR` inside
//! a private mount namespace with /proc and /dev mounted.

use std::ffi::{CString, OsString};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Exit(i32),
    Signal(i32),
    Timeout,
    SpawnFailed(String),
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Exit(c) => write!(f, "exit {c}"),
            Status::Signal(s) => write!(f, "signal {s} ({})", signal_name(*s)),
            Status::Timeout => f.write_str("timeout"),
            Status::SpawnFailed(e) => write!(f, "spawn failed: {e}"),
        }
    }
}

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGSYS => "SIGSYS",
        _ => "?",
    }
}

/// `chroot DIR` for the oracle of a `root` case, after `unshare(CLONE_NEWNS)`, making every
/// mount private, and mounting proc on DIR/proc and the host's /dev (recursively) on DIR/dev.
#[derive(Clone, Debug)]
pub struct Chroot {
    pub root: PathBuf,
    /// The working directory inside the root.
    pub cwd: PathBuf,
}

/// One command to run.
#[derive(Clone, Debug)]
pub struct Spec {
    pub argv: Vec<OsString>,
    pub env: Vec<(String, String)>,
    /// Host working directory (ignored with `chroot`).
    pub cwd: PathBuf,
    pub chroot: Option<Chroot>,
    pub stdin: Option<Vec<u8>>,
    pub timeout: Duration,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Output {
    pub status: Status,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub seconds: f64,
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap_or_default()
}

/// Runs `spec` to completion (or its timeout), capturing stdout and stderr.
pub fn run(spec: &Spec) -> Output {
    let start = Instant::now();
    let failed = |why: String| Output {
        status: Status::SpawnFailed(why),
        stdout: Vec::new(),
        stderr: Vec::new(),
        seconds: start.elapsed().as_secs_f64(),
    };
    let Some((program, args)) = spec.argv.split_first() else {
        return failed("empty command".into());
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    match &spec.chroot {
        None => {
            command.current_dir(&spec.cwd);
        }
        Some(c) => {
            let root = cpath(&c.root);
            let cwd = cpath(&c.cwd);
            let proc_dir = cpath(&c.root.join("proc"));
            let dev_dir = cpath(&c.root.join("dev"));
            // SAFETY: the closure runs in the forked child before exec and only makes raw
            // syscalls (unshare, mount, chroot, chdir) on strings prepared before the fork.
            unsafe {
                command.pre_exec(move || {
                    let check = |r: libc::c_int| {
                        if r == 0 {
                            Ok(())
                        } else {
                            Err(std::io::Error::last_os_error())
                        }
                    };
                    let none = std::ptr::null::<libc::c_char>();
                    check(libc::unshare(libc::CLONE_NEWNS))?;
                    check(libc::mount(
                        none,
                        c"/".as_ptr(),
                        none,
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ))?;
                    check(libc::mount(
                        c"proc".as_ptr(),
                        proc_dir.as_ptr(),
                        c"proc".as_ptr(),
                        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                        std::ptr::null(),
                    ))?;
                    check(libc::mount(
                        c"/dev".as_ptr(),
                        dev_dir.as_ptr(),
                        none,
                        libc::MS_BIND | libc::MS_REC,
                        std::ptr::null(),
                    ))?;
                    check(libc::chroot(root.as_ptr()))?;
                    check(libc::chdir(cwd.as_ptr()))?;
                    Ok(())
                });
            }
        }
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return failed(e.to_string()),
    };
    let pgid = child.id() as libc::pid_t;
    // SAFETY: kill(2) of the process group this run created.
    let kill_group = || unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    };

    if let (Some(data), Some(mut pipe)) = (spec.stdin.clone(), child.stdin.take()) {
        thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let (tx, rx) = mpsc::channel::<(usize, Vec<u8>)>();
    let pipes: [Option<Box<dyn Read + Send>>; 2] = [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
    ];
    for (index, pipe) in pipes.into_iter().enumerate() {
        let Some(mut pipe) = pipe else { continue };
        let tx = tx.clone();
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send((index, buf));
        });
    }
    drop(tx);

    let deadline = start + spec.timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(_) => break None,
        }
        if Instant::now() >= deadline {
            timed_out = true;
            kill_group();
            break child.wait().ok();
        }
        thread::sleep(Duration::from_millis(5));
    };

    // Descendants may still hold the pipes: a short grace period, then the group is killed.
    let mut outputs: [Option<Vec<u8>>; 2] = [None, None];
    let mut killed = timed_out;
    let mut limit = Instant::now() + Duration::from_secs(5);
    while outputs.iter().any(Option::is_none) {
        match rx.recv_timeout(limit.saturating_duration_since(Instant::now())) {
            Ok((index, buf)) => outputs[index] = Some(buf),
            Err(mpsc::RecvTimeoutError::Timeout) if !killed => {
                kill_group();
                killed = true;
                limit = Instant::now() + Duration::from_secs(5);
            }
            Err(_) => break,
        }
    }
    // Nothing of this run may outlive it.
    kill_group();
    let [stdout, stderr] = outputs;
    let status = match status {
        _ if timed_out => Status::Timeout,
        Some(s) => match (s.code(), s.signal()) {
            (Some(c), _) => Status::Exit(c),
            (_, Some(sig)) => Status::Signal(sig),
            _ => Status::SpawnFailed("unknown wait status".into()),
        },
        None => Status::SpawnFailed("wait failed".into()),
    };
    Output {
        status,
        stdout: stdout.unwrap_or_default(),
        stderr: stderr.unwrap_or_default(),
        seconds: start.elapsed().as_secs_f64(),
    }
}
