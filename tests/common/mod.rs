//! Shared helpers for lxrun's integration tests.
//!
//! Every test compares a native run of a command with a run of the same
//! command under `lxrun --backend <b> -- ...`, in the same controlled
//! environment and working directory, with a timeout so that a hang fails
//! the test instead of blocking CI.

#![allow(dead_code)]

pub mod strace_text;

use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, OnceLock, RwLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The base PATH given to every command run by the tests.
pub const BASE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Default time limit for one command.  Can be raised with
/// `LXRUN_TEST_TIMEOUT_SECS` when debugging under a slow tracer.
pub fn default_timeout() -> Duration {
    let secs = std::env::var("LXRUN_TEST_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// The lxrun binary under test.
pub fn lxrun() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lxrun"))
}

/// The root of the repository (the lxrun package).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative paths are taken
/// relative to the repository root) or `<repo>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                repo_root().join(dir)
            }
        }
        _ => repo_root().join("target"),
    }
}

/// Where `make -C linux-binaries` puts the test programs:
/// `<target>/linux-binaries/<variant>/<program>`.
pub fn binaries_dir() -> PathBuf {
    target_dir().join("linux-binaries")
}

/// The build variants produced by linux-binaries/Makefile.
pub const VARIANTS: &[&str] = &["static", "static-pie", "dynamic", "dynamic-nopie", "musl"];

/// The supervisor backends every lxrun test is run with: ptrace, seccomp (without ptrace where
/// the kernel allows) and seccomp's ptrace-assisted mode (its fallback on older kernels).
pub fn backends() -> Vec<&'static str> {
    vec!["ptrace", "seccomp", "seccomp-ptrace"]
}

/// Builds linux-binaries (incrementally) once per test process.  Panics
/// with a pointer to tests/setup.sh when the build fails.
pub fn ensure_built() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let result = BUILT.get_or_init(build_linux_binaries);
    if let Err(msg) = result {
        panic!(
            "building linux-binaries failed (run tests/setup.sh to install the \
             toolchain and build them):\n{msg}"
        );
    }
}

fn build_linux_binaries() -> Result<(), String> {
    let out = binaries_dir();
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    // Serialize concurrent builds from several test processes.
    let lock_path = out.join(".build-lock");
    let lock = File::create(&lock_path).map_err(|e| format!("creating {}: {e}", lock_path.display()))?;
    // SAFETY: flock on a file descriptor we own; released when `lock` drops.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(format!("flock {}: {}", lock_path.display(), io::Error::last_os_error()));
    }
    let jobs = thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut make_out = OsString::from("OUT=");
    make_out.push(out.as_os_str());
    let child = {
        let _guard = spawn_guard();
        Command::new("make")
            .arg("-C")
            .arg(repo_root().join("linux-binaries"))
            .arg(format!("-j{jobs}"))
            .arg(make_out)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not run make: {e}"))?
    };
    let output = child.wait_with_output().map_err(|e| format!("waiting for make: {e}"))?;
    drop(lock);
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "make exited with {}\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Absolute, symlink-free path of a built test program.
pub fn binary(variant: &str, program: &str) -> PathBuf {
    let path = binaries_dir().join(variant).join(program);
    path.canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e} (run tests/setup.sh)", path.display()))
}

/// A scratch directory used as the working directory of commands (so that
/// nothing, e.g. a core file, lands in the repository).
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = target_dir().join("lxrun-test-scratch");
        std::fs::create_dir_all(&dir).expect("creating scratch dir");
        dir.canonicalize().expect("canonicalizing scratch dir")
    })
}

/// Taken shared around every process spawn, and exclusively while writing a
/// file that will be executed: a child forked by another test thread while
/// the file is open for writing would otherwise hold the writable descriptor
/// until it execs, making an execve of the new file fail with ETXTBSY.
/// (`Command::spawn` returns only once the child has exec'd.)
static FORK_LOCK: RwLock<()> = RwLock::new(());

fn spawn_guard() -> std::sync::RwLockReadGuard<'static, ()> {
    FORK_LOCK.read().unwrap_or_else(|e| e.into_inner())
}

/// A temporary directory removed when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = std::env::temp_dir().canonicalize().unwrap_or_else(|_| "/tmp".into());
        let path = base.join(format!("lxrun-test-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a file with the given content and permission bits.
    pub fn write(&self, name: &str, content: &[u8], mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path.join(name);
        let _guard = FORK_LOCK.write().unwrap_or_else(|e| e.into_inner());
        std::fs::write(&path, content).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A directory of the Debian test root's /tmp holding one of linux-binaries' static programs,
/// so that `chroot` and `lxrun --root` run the same file; removed when dropped.
pub struct InRoot {
    /// Its name inside the root.
    pub guest: String,
    host: PathBuf,
}

impl InRoot {
    pub fn new(program: &str) -> InRoot {
        ensure_built();
        let guest = format!("/tmp/lxrun-{program}-{}", std::process::id());
        let host = debian_root().join(guest.trim_start_matches('/'));
        std::fs::create_dir_all(&host).expect("a directory in the root's /tmp");
        std::fs::copy(binary("static", program), host.join(program)).expect("copying the test program into the root");
        InRoot { guest, host }
    }

    /// The program's name inside the root.
    pub fn program(&self, program: &str) -> String {
        format!("{}/{program}", self.guest)
    }

    /// Where it is on the host.
    pub fn host(&self) -> &Path {
        &self.host
    }

    /// A fresh empty directory `name` beside the program; its name inside the root.
    pub fn fresh(&self, name: &str) -> String {
        let d = self.host.join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir(&d).expect("a fresh directory in the root");
        format!("{}/{name}", self.guest)
    }
}

/// setpriv's arguments that run what follows them as nobody (uid and gid 65534, no groups).
pub const AS_NOBODY: [&str; 7] = [
    "setpriv",
    "--reuid",
    "65534",
    "--regid",
    "65534",
    "--clear-groups",
    "--",
];

impl InRoot {
    /// `PROGRAM DIR` (DIR a fresh directory each run) under `chroot` with the root's /proc (the
    /// oracle) and under `lxrun --root` with each backend, as nobody if `nobody` (lxrun itself
    /// unprivileged then): a failure for each run that differs. `after(backend, failures)` runs
    /// after each backend's run, for a check of the caller's.
    pub fn compare_runs(
        &self,
        program: &str,
        nobody: bool,
        failures: &mut Vec<String>,
        mut after: impl FnMut(&str, &mut Vec<String>),
    ) {
        let root = debian_root();
        let path = self.program(program);
        let who = if nobody { "nobody" } else { "root" };
        let drop = if nobody { AS_NOBODY.join(" ") } else { String::new() };
        let native_dir = self.fresh("native");
        let native = run_native(&chroot_oracle(
            root,
            "mount -t proc proc '{r}/proc'",
            &format!("{drop} {path} {native_dir}"),
        ));
        if !native.success() {
            failures.push(format!("{program}: the chroot oracle failed as {who}: {native}"));
            return;
        }
        for backend in backends() {
            let work = self.fresh(backend);
            let lx_args = ["--backend", backend, "--root"];
            let cmd = if nobody {
                Cmd::new(AS_NOBODY[0]).args(&AS_NOBODY[1..]).arg(lxrun()).args(lx_args)
            } else {
                Cmd::new(lxrun()).args(lx_args)
            };
            let lx = run_native(&cmd.arg(root).args(["--", &path, &work]));
            let label = format!("{program} in the Debian root as {who} [{backend}]");
            if let Err(e) = compare(&label, &native, &lx) {
                failures.push(e);
            }
            after(backend, failures);
        }
    }
}

impl Drop for InRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.host);
    }
}

/// A command to run natively and under lxrun.
#[derive(Clone, Debug)]
pub struct Cmd {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Extra environment variables, on top of the controlled base
    /// environment (PATH, LC_ALL, HOME); may override them.
    pub env: Vec<(OsString, OsString)>,
    /// Working directory; defaults to [`scratch_dir`].
    pub cwd: Option<PathBuf>,
    pub timeout: Duration,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            timeout: default_timeout(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.env.push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// A shell-like rendering for failure messages (long argument lists
    /// are abbreviated).
    pub fn describe(&self) -> String {
        const MAX: usize = 300;
        let mut s = quote(&self.program);
        for (i, a) in self.args.iter().enumerate() {
            if s.len() > MAX {
                s.push_str(&format!(" ... ({} more arguments)", self.args.len() - i));
                break;
            }
            s.push(' ');
            s.push_str(&quote(a));
        }
        s
    }

    fn environment(&self) -> Vec<(OsString, OsString)> {
        let home = std::env::var_os("HOME").unwrap_or_else(|| "/".into());
        let mut vars: Vec<(OsString, OsString)> = vec![
            ("PATH".into(), BASE_PATH.into()),
            ("LC_ALL".into(), "C".into()),
            ("HOME".into(), home),
        ];
        for (k, v) in &self.env {
            vars.retain(|(old, _)| old != k);
            vars.push((k.clone(), v.clone()));
        }
        vars
    }
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The result of running a command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Exit code, if the process exited normally.
    pub code: Option<i32>,
    /// Terminating signal, if the process was killed by one.
    pub signal: Option<i32>,
    /// The command did not finish in time and was killed.
    pub timed_out: bool,
    /// The command could not be started at all (errno of the failed spawn).
    pub spawn_errno: Option<i32>,
}

impl Outcome {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// "exit 3", "signal 15 (SIGTERM)", "TIMEOUT", "spawn failed: errno 2".
    pub fn status(&self) -> String {
        if self.timed_out {
            "TIMEOUT".to_string()
        } else if let Some(e) = self.spawn_errno {
            format!("spawn failed: {}", io::Error::from_raw_os_error(e))
        } else if let Some(c) = self.code {
            format!("exit {c}")
        } else if let Some(s) = self.signal {
            format!("signal {s} ({})", signal_name(s))
        } else {
            "unknown status".to_string()
        }
    }

    fn from_status(status: ExitStatus, stdout: Vec<u8>, stderr: Vec<u8>, timed_out: bool) -> Outcome {
        Outcome {
            stdout,
            stderr,
            code: status.code(),
            signal: status.signal(),
            timed_out,
            spawn_errno: None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "status: {}", self.status())?;
        writeln!(f, "--- stdout ({} bytes)", self.stdout.len())?;
        writeln!(f, "{}", truncated(&self.stdout))?;
        writeln!(f, "--- stderr ({} bytes)", self.stderr.len())?;
        write!(f, "{}", truncated(&self.stderr))
    }
}

fn truncated(bytes: &[u8]) -> String {
    const MAX: usize = 6000;
    let s = String::from_utf8_lossy(bytes);
    if s.len() <= MAX {
        s.into_owned()
    } else {
        let mut cut = MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}\n[... {} more bytes]", &s[..cut], s.len() - cut)
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

/// Runs `program args` in the controlled environment of `spec`, capturing
/// stdout and stderr, killing its whole process group after the timeout.
pub fn run_program(program: &OsStr, args: &[OsString], spec: &Cmd) -> Outcome {
    let cwd = spec.cwd.clone().unwrap_or_else(|| scratch_dir().to_owned());
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(spec.environment())
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let spawned = {
        let _guard = spawn_guard();
        command.spawn()
    };
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            return Outcome {
                spawn_errno: Some(e.raw_os_error().unwrap_or(-1)),
                stderr: format!("spawn failed: {e}").into_bytes(),
                ..Outcome::default()
            }
        }
    };
    let pgid = child.id() as libc::pid_t;
    let kill_group = || {
        // SAFETY: plain kill(2) of the process group we created.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    };

    let (tx, rx) = mpsc::channel::<(usize, Vec<u8>)>();
    let mut readers = Vec::new();
    let pipes: [Option<Box<dyn Read + Send>>; 2] = [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
    ];
    for (index, pipe) in pipes.into_iter().enumerate() {
        let mut pipe = pipe.expect("piped stdio");
        let tx = tx.clone();
        readers.push(thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send((index, buf));
        }));
    }
    drop(tx);

    let deadline = Instant::now() + spec.timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => panic!("waiting for {}: {e}", spec.describe()),
        }
        if Instant::now() >= deadline {
            timed_out = true;
            kill_group();
            break child.wait().expect("wait after kill");
        }
        thread::sleep(Duration::from_millis(5));
    };

    // The pipes close when every process holding them is gone; descendants
    // left behind get a short grace period, then the group is killed.
    let mut outputs: [Option<Vec<u8>>; 2] = [None, None];
    let grace = Instant::now() + Duration::from_secs(10);
    let mut killed = timed_out;
    while outputs.iter().any(Option::is_none) {
        let limit = if killed {
            Instant::now() + Duration::from_secs(10)
        } else {
            grace
        };
        match rx.recv_timeout(limit.saturating_duration_since(Instant::now())) {
            Ok((index, buf)) => outputs[index] = Some(buf),
            Err(mpsc::RecvTimeoutError::Timeout) if !killed => {
                kill_group();
                killed = true;
            }
            Err(_) => break,
        }
    }
    if outputs.iter().all(Option::is_some) {
        for r in readers {
            let _ = r.join();
        }
    }
    let [stdout, stderr] = outputs;
    Outcome::from_status(
        status,
        stdout.unwrap_or_default(),
        stderr.unwrap_or_default(),
        timed_out,
    )
}

/// Runs the command natively.
pub fn run_native(cmd: &Cmd) -> Outcome {
    run_program(&cmd.program, &cmd.args, cmd)
}

/// The argument vector for `lxrun --backend <backend> -- <program> <args>`.
pub fn lxrun_args(backend: &str, cmd: &Cmd) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["--backend".into(), backend.into(), "--".into()];
    args.push(cmd.program.clone());
    args.extend(cmd.args.iter().cloned());
    args
}

/// Runs the command under `lxrun --backend <backend> <options> -- ...` (options such as
/// `--trace=FILE`, `--stats`), with the same environment and working directory as
/// [`run_native`].
pub fn run_lxrun_with(backend: &str, options: &[&str], cmd: &Cmd) -> Outcome {
    let mut args: Vec<OsString> = vec!["--backend".into(), backend.into()];
    args.extend(options.iter().map(OsString::from));
    args.push("--".into());
    args.push(cmd.program.clone());
    args.extend(cmd.args.iter().cloned());
    run_program(lxrun().as_os_str(), &args, cmd)
}

/// Runs the command under `lxrun --backend <backend> -- ...`, with the same
/// environment and working directory as [`run_native`].
pub fn run_lxrun(backend: &str, cmd: &Cmd) -> Outcome {
    run_program(lxrun().as_os_str(), &lxrun_args(backend, cmd), cmd)
}

/// Runs lxrun itself with arbitrary arguments (for option/usage tests), in
/// the controlled environment.
pub fn run_lxrun_raw<I, S>(args: I) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    run_program(lxrun().as_os_str(), &args, &Cmd::new(lxrun()))
}

/// Compares a native and an lxrun outcome: stdout and exit status (code or
/// signal) must be identical.  On mismatch returns a description with both
/// stdouts and stderrs.
pub fn compare(label: &str, native: &Outcome, lx: &Outcome) -> Result<(), String> {
    let mut problems = Vec::new();
    if native.status() != lx.status() {
        problems.push(format!(
            "status differs: native {}, lxrun {}",
            native.status(),
            lx.status()
        ));
    }
    if native.stdout != lx.stdout {
        problems.push(format!(
            "stdout differs{}",
            first_difference(&native.stdout, &lx.stdout)
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "=== {label}: {}\n>>> native\n{native}\n>>> lxrun\n{lx}\n",
            problems.join("; ")
        ))
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let a = String::from_utf8_lossy(a);
    let b = String::from_utf8_lossy(b);
    let mut al = a.lines();
    let mut bl = b.lines();
    let mut n = 1;
    loop {
        match (al.next(), bl.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            (None, None) => return String::new(),
            (x, y) => {
                return format!(
                    " (first at line {n}: native {:?}, lxrun {:?})",
                    x.unwrap_or("<end>"),
                    y.unwrap_or("<end>")
                )
            }
        }
    }
}

/// Panics unless native and lxrun runs agree on stdout and status.
pub fn assert_same(native: &Outcome, lx: &Outcome) {
    if let Err(msg) = compare("native vs lxrun", native, lx) {
        panic!("{msg}");
    }
}

/// Panics listing every failure collected by a test, if any.
pub fn assert_no_failures(failures: &[String]) {
    if !failures.is_empty() {
        panic!("{} failure(s):\n{}", failures.len(), failures.join("\n"));
    }
}

/// Runs `cmd` natively and under every backend, collecting mismatches into
/// `failures`.  Returns the native outcome.
pub fn compare_everywhere(label: &str, cmd: &Cmd, failures: &mut Vec<String>) -> Outcome {
    let native = run_native(cmd);
    for backend in backends() {
        let lx = run_lxrun(backend, cmd);
        if let Err(msg) = compare(
            &format!("{label} [backend {backend}]: {}", cmd.describe()),
            &native,
            &lx,
        ) {
            failures.push(msg);
        }
    }
    native
}

/// What the kernel says about `execve(path)`: `Ok(())` if the exec succeeded
/// (the program is then waited for), or the errno of the failed execve.
/// Uses the raw execve(2) system call in a forked child, so that there is no
/// libc fallback (glibc's execvp runs ENOEXEC files with /bin/sh).
pub fn kernel_exec_errno(path: &Path) -> Result<(), i32> {
    let c_path = CString::new(path.as_os_str().as_bytes()).expect("path without NUL");
    let mut command = Command::new("/bin/true");
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: the closure runs in the forked child and only calls execve(2),
    // which is async-signal-safe; it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            let argv: [*const libc::c_char; 2] = [c_path.as_ptr(), std::ptr::null()];
            let envp: [*const libc::c_char; 1] = [std::ptr::null()];
            libc::execve(argv[0], argv.as_ptr(), envp.as_ptr());
            Err(io::Error::last_os_error())
        });
    }
    let spawned = {
        let _guard = spawn_guard();
        command.spawn()
    };
    match spawned {
        Ok(mut child) => {
            let _ = child.wait();
            Ok(())
        }
        Err(e) => Err(e.raw_os_error().unwrap_or(-1)),
    }
}

/// The exit status a well-behaved launcher (coreutils `env`, lxrun) gives
/// when it cannot execute a program: 127 when it was not found, 126 for any
/// other exec failure.
pub fn launcher_status_for_errno(errno: i32) -> i32 {
    if errno == libc::ENOENT {
        127
    } else {
        126
    }
}

/// Looks a program up in the test process's own PATH.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

/// The Debian test root (a newer suite than the host's), built once by tests/debian-root.sh
/// and cached outside the repository.
#[allow(dead_code)]
pub fn debian_root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let out = Command::new(repo_root().join("tests/debian-root.sh"))
            .output()
            .expect("running tests/debian-root.sh");
        assert!(
            out.status.success(),
            "tests/debian-root.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

/// A test that cannot run here says so, once, with its reason: on stderr, and under
/// tests/run.sh in its skip log (`LXRUN_SKIP_LOG`), which run.sh counts, lists and reports as
/// skipped, never as passed. `needs_root` skips fail run.sh when it runs as root.
#[allow(dead_code)]
pub fn skip(reason: &str) {
    eprintln!("skipped: {reason}");
    if let Some(log) = std::env::var_os("LXRUN_SKIP_LOG") {
        use std::io::Write;
        let test = std::thread::current().name().unwrap_or("?").to_string();
        let line = format!("{test}: {reason}\n");
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).create(true).open(log) {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// True (after reporting the skip) when the tests do not run as root and `what` needs it.
#[allow(dead_code)]
pub fn needs_root(what: &str) -> bool {
    if is_root() {
        return false;
    }
    skip(&format!("needs root: {what} (run the tests as root, as CI does)"));
    true
}

/// Whether the tests run as root (the chroot oracle needs it).
#[allow(dead_code)]
pub fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// The oracle for guest-root tests: `script` run by bash under `chroot root` as root, in a
/// private mount namespace where `mounts` (shell commands, `{r}` for the root) ran first.
#[allow(dead_code)]
pub fn chroot_oracle(root: &Path, mounts: &str, script: &str) -> Cmd {
    let setup = format!(
        "{mounts} && exec /usr/sbin/chroot '{r}' /bin/bash -c \"$0\"",
        mounts = mounts.replace("{r}", &root.display().to_string()),
        r = root.display()
    );
    Cmd::new("unshare").args(["-m", "--propagation", "private", "--", "/bin/sh", "-c", &setup, script])
}
