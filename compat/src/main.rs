//! lxrun-compat: the compatibility matrix. Every case of compat/cases.toml runs natively (the
//! oracle), under lxrun with each backend asked for, and under proot; a cell passes when its
//! stdout and exit status equal the oracle's. Reports go to `--out` (matrix.md, matrix.json).

mod cases;
mod diff;
mod exec;
mod known;
mod model;
mod report;

use anyhow::{bail, Context};
use cases::Case;
use clap::Parser;
use exec::{Chroot, Output, Spec, Status};
use indicatif::{ProgressBar, ProgressStyle};
use known::KnownFailures;
use model::{Cell, Column, ColumnKind, NotRun, Row, Verdict};
use regex::Regex;
use std::collections::{BTreeSet, VecDeque};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The PATH every case runs with.
const BASE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Run lxrun's compatibility matrix: each case natively (the oracle), under lxrun's backends and
/// under proot, comparing stdout and exit status.
#[derive(Parser, Debug)]
#[command(name = "lxrun-compat")]
struct Args {
    /// A guest root (e.g. a Debian debootstrap) for the cases that need one; its oracle is
    /// `chroot DIR` in a private mount namespace with /proc and /dev mounted (needs root)
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,

    /// lxrun backends to test, comma-separated; one column each. A backend lxrun refuses
    /// ("not implemented yet") gets cells marked not available
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "ptrace")]
    backend: Vec<String>,

    /// Runs at the same time [default: the number of CPUs]
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,

    /// Only the cases whose name matches this regular expression
    #[arg(long, value_name = "RE")]
    filter: Option<String>,

    /// Where matrix.md and matrix.json go [default: docs/compat for a full run, target/compat
    /// for a --quick or --filter run, so a partial run never replaces the committed report]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Only the cases tagged `quick` (CI's subset)
    #[arg(long)]
    quick: bool,

    /// Seconds a run may take, for cases that do not set their own timeout
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,

    /// No proot column
    #[arg(long)]
    no_proot: bool,

    /// Add a column: `lxrun -0` run as nobody (uid 65534), its scratch directory nobody's;
    /// the oracle stays root (needs root)
    #[arg(long)]
    fake_root: bool,

    /// Run the oracle twice and show the second run as a column: finds unstable cases
    #[arg(long)]
    oracle_twice: bool,

    /// The lxrun binary to test [default: built with cargo next to this program]
    #[arg(long, value_name = "PATH")]
    lxrun: Option<PathBuf>,

    /// The cases file
    #[arg(long, value_name = "FILE")]
    cases: Option<PathBuf>,

    /// The known-failures file
    #[arg(long, value_name = "FILE")]
    known: Option<PathBuf>,

    /// Print the selected cases and exit
    #[arg(long)]
    list: bool,

    /// Keep the scratch directories (their path is printed)
    #[arg(long)]
    keep: bool,
}

fn main() {
    let args = Args::parse();
    close_inherited_fds();
    match run(args) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("lxrun-compat: {e:#}");
            std::process::exit(2);
        }
    }
}

/// Every case starts with only stdin, stdout and stderr: descriptors this program inherited
/// (cargo's jobserver pipe, a terminal's extra fds) are marked close-on-exec.
fn close_inherited_fds() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: fcntl on a descriptor number; a stale one (the read_dir's own) just fails.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// The workspace: where compat/, linux-binaries/ and docs/ are.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The directory this program was built into (where lxrun is too), and cargo's target
/// directory (`$CARGO_TARGET_DIR`, relative to the workspace, or `<workspace>/target`: the
/// profile directory's parent is the build target's when one is named, as .cargo/config.toml
/// does), where linux-binaries and partial reports go, as the tests have them.
fn build_dirs(ws: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let exe = std::env::current_exe().context("finding this program")?;
    let profile = exe.parent().context("no parent directory")?.to_path_buf();
    let target = match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(d) => ws.join(d),
        None => ws.join("target"),
    };
    Ok((profile, target))
}

fn run(args: Args) -> anyhow::Result<bool> {
    let ws = workspace();
    let (profile_dir, target_dir) = build_dirs(&ws)?;
    let bin_dir = target_dir.join("linux-binaries");
    let cases_path = args.cases.clone().unwrap_or_else(|| ws.join("compat/cases.toml"));
    let known_path = args
        .known
        .clone()
        .unwrap_or_else(|| ws.join("compat/known-failures.toml"));
    let mut all = cases::load(&cases_path, &bin_dir)?;
    if let Some(t) = args.timeout {
        for c in all.iter_mut().filter(|c| c.default_timeout) {
            c.timeout = Duration::from_secs(t);
        }
    }
    let names: BTreeSet<String> = all.iter().map(|c| c.name.clone()).collect();
    let known = KnownFailures::load(&known_path, &names)?;

    // Selection.
    let filter = args.filter.as_deref().map(Regex::new).transpose().context("--filter")?;
    let mut selected: Vec<Case> = all
        .into_iter()
        .filter(|c| !args.quick || c.has_tag("quick"))
        .filter(|c| filter.as_ref().is_none_or(|re| re.is_match(&c.name)))
        .collect();
    if selected.is_empty() {
        bail!("no case selected");
    }
    let mut not_run = Vec::new();
    if let Some(root) = &args.root {
        if !root.is_dir() {
            bail!("--root {}: not a directory", root.display());
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            bail!("--root: the oracle (chroot in a private mount namespace) must run as root");
        }
        for d in ["proc", "dev", "tmp"] {
            if !root.join(d).is_dir() {
                bail!("--root {}: it has no /{d}", root.display());
            }
        }
    }
    selected.retain(|c| {
        let why = if c.is_root() && args.root.is_none() {
            Some("needs a guest root (--root DIR)".to_string())
        } else {
            missing_tools(c, args.root.as_deref())
        };
        if let Some(why) = &why {
            not_run.push(NotRun {
                name: c.name.clone(),
                why: why.clone(),
            });
        }
        why.is_none()
    });
    if args.list {
        for c in &selected {
            let line = c.command_line().replace('\n', "⏎");
            println!("{:<32} {}", c.name, model::clip(&line, 90));
        }
        for n in &not_run {
            println!("{:<32} (not run: {})", n.name, n.why);
        }
        return Ok(true);
    }
    if selected.is_empty() {
        bail!("every selected case needs something missing: {}", not_run[0].why);
    }

    // What the columns need: lxrun, the test programs, proot.
    let lxrun = match &args.lxrun {
        Some(p) => p.canonicalize().with_context(|| format!("--lxrun {}", p.display()))?,
        None => build_lxrun(&ws, &profile_dir)?,
    };
    if selected.iter().any(|c| c.variant.is_some()) {
        build_linux_binaries(&ws, &bin_dir)?;
    }
    let columns = columns(&args, &lxrun, selected.iter().any(Case::is_root))?;

    let partial = args.quick || args.filter.is_some();
    let out_dir = args.out.clone().unwrap_or_else(|| {
        if partial {
            target_dir.join("compat")
        } else {
            ws.join("docs/compat")
        }
    });
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);

    let started = Instant::now();
    let rows = run_matrix(&selected, &columns, &lxrun, &args, jobs, &known)?;
    let elapsed = started.elapsed();

    let report = report::Report {
        rows: &rows,
        columns: &columns,
        not_run: &not_run,
        args: std::env::args().skip(1).collect(),
        root: args.root.clone(),
        elapsed,
        meta: report::Meta::collect(&ws, &lxrun),
        workspace: format!("{}/", ws.display()),
    };
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let md = out_dir.join("matrix.md");
    let json = out_dir.join("matrix.json");
    std::fs::write(&md, report.markdown()).with_context(|| format!("writing {}", md.display()))?;
    std::fs::write(&json, report.json()).with_context(|| format!("writing {}", json.display()))?;
    let ok = report.print_summary();
    eprintln!("reports: {} and {}", md.display(), json.display());
    Ok(ok)
}

/// Why a case cannot run here (a program it needs is missing), if it cannot.
fn missing_tools(case: &Case, root: Option<&Path>) -> Option<String> {
    let mut tools: Vec<&str> = case.needs.tools.iter().map(String::as_str).collect();
    if let Some(first) = case.argv.first() {
        if !first.contains('/') {
            tools.push(first);
        } else if case.variant.is_none() && !case.is_root() && !Path::new(first).exists() {
            return Some(format!("needs {first}, which is missing"));
        }
    }
    tools.sort_unstable();
    tools.dedup();
    let missing: Vec<&str> = tools
        .into_iter()
        .filter(|t| !find_tool(t, if case.is_root() { root } else { None }))
        .collect();
    if missing.is_empty() {
        None
    } else {
        let place = if case.is_root() {
            "in the guest root"
        } else {
            "on the host; compat/setup.sh installs it"
        };
        Some(format!("needs {} (not found {place})", missing.join(", ")))
    }
}

/// Whether `tool` (a name or an absolute path) is an executable file in PATH, on the host or,
/// with `root`, inside that guest root (its symlinks resolved inside it).
fn find_tool(tool: &str, root: Option<&Path>) -> bool {
    let candidates: Vec<PathBuf> = if tool.starts_with('/') {
        vec![PathBuf::from(tool)]
    } else {
        BASE_PATH.split(':').map(|d| Path::new(d).join(tool)).collect()
    };
    candidates.iter().any(|p| {
        let host = match root {
            None => Some(p.clone()),
            Some(r) => resolve_in_root(r, p),
        };
        host.and_then(|h| std::fs::metadata(h).ok()).is_some_and(|m| {
            use std::os::unix::fs::PermissionsExt;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        })
    })
}

/// The host path of guest path `path` (absolute) in guest root `root`, following symlinks the
/// way the guest would: lxrun's own walker (an absolute target starts again at the guest root).
fn resolve_in_root(root: &Path, path: &Path) -> Option<PathBuf> {
    use lxrun_vfs::{Base, MountTable, NoGuests, Vfs, View};
    use std::os::unix::ffi::OsStrExt;
    let vfs = Vfs::new(MountTable::new(root.to_path_buf()), root.to_path_buf());
    let view = View {
        root: b"/",
        cwd: b"/",
        guests: &NoGuests,
    };
    vfs.resolve(&view, Base::Cwd, path.as_os_str().as_bytes(), true)
        .ok()
        .map(|r| r.host)
}

/// Builds lxrun with the profile this program was built with, and returns its path.
fn build_lxrun(ws: &Path, profile_dir: &Path) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(ws)
        .args(["build", "-q", "-p", "lxrun", "--bin", "lxrun"]);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
        None => bail!("cannot tell cargo's profile from {}", profile_dir.display()),
    }
    eprintln!("lxrun-compat: building lxrun");
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build of lxrun failed ({status})");
    }
    let lxrun = profile_dir.join("lxrun");
    lxrun
        .canonicalize()
        .with_context(|| format!("{} after building it", lxrun.display()))
}

/// Builds linux-binaries into `<target>/linux-binaries` with its Makefile, as tests/setup.sh does.
fn build_linux_binaries(ws: &Path, out: &Path) -> anyhow::Result<()> {
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out_arg = OsString::from("OUT=");
    out_arg.push(out);
    let status = std::process::Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(ws.join("linux-binaries"))
        .arg(format!("-j{jobs}"))
        .arg(out_arg)
        .stdin(std::process::Stdio::null())
        .status()
        .context("running make (tests/setup.sh installs the toolchain)")?;
    if !status.success() {
        bail!("building linux-binaries failed ({status}); tests/setup.sh installs the toolchain");
    }
    Ok(())
}

/// The columns: the oracle, lxrun per backend, proot; each probed once.
fn columns(args: &Args, lxrun: &Path, any_root: bool) -> anyhow::Result<Vec<Column>> {
    let mut cols = vec![Column {
        name: "native".into(),
        kind: ColumnKind::Native,
        unavailable: None,
        unavailable_root: None,
    }];
    if args.oracle_twice {
        cols.push(Column {
            name: "native2".into(),
            kind: ColumnKind::NativeAgain,
            unavailable: None,
            unavailable_root: None,
        });
    }
    let mut seen = BTreeSet::new();
    for b in &args.backend {
        if !seen.insert(b.clone()) {
            continue;
        }
        if !known::COLUMNS.contains(&b.as_str()) || ["native", "proot", FAKE_ROOT].contains(&b.as_str()) {
            bail!("--backend {b}: lxrun's backends are ptrace, seccomp and seccomp-ptrace");
        }
        let probe = |root: Option<&Path>| -> anyhow::Result<Option<String>> {
            let mut argv: Vec<OsString> = vec![lxrun.into(), "--backend".into(), b.into()];
            if let Some(r) = root {
                argv.extend(["--root".into(), r.into(), "-w".into(), "/".into()]);
            }
            argv.extend(["--".into(), "/bin/true".into()]);
            let out = exec::run(&Spec {
                argv,
                env: vec![("PATH".into(), BASE_PATH.into())],
                cwd: "/".into(),
                chroot: None,
                stdin: None,
                timeout: Duration::from_secs(60),
            });
            let stderr = String::from_utf8_lossy(&out.stderr);
            match out.status {
                Status::Exit(0) => Ok(None),
                _ if stderr.contains("not implemented") => {
                    Ok(Some(stderr.lines().next().unwrap_or("").trim().to_string()))
                }
                _ => bail!(
                    "lxrun --backend {b} cannot run /bin/true ({}): {}",
                    out.status,
                    stderr.trim()
                ),
            }
        };
        let unavailable = probe(None)?;
        let unavailable_root = match (&args.root, any_root) {
            (Some(r), true) => probe(Some(r))?,
            _ => None,
        };
        cols.push(Column {
            name: b.clone(),
            kind: ColumnKind::Lxrun(b.clone()),
            unavailable,
            unavailable_root,
        });
    }
    if args.fake_root {
        // SAFETY: getuid has no preconditions.
        let unavailable = if unsafe { libc::getuid() } != 0 {
            Some("needs root, to run lxrun as nobody".to_string())
        } else {
            let argv = as_nobody(vec![lxrun.into(), "-0".into(), "--".into(), "/bin/true".into()]);
            runs_true(argv, "lxrun -0 cannot run /bin/true as nobody")
        };
        cols.push(Column {
            name: FAKE_ROOT.into(),
            kind: ColumnKind::FakeRoot,
            unavailable: unavailable.clone(),
            unavailable_root: unavailable,
        });
    }
    if !args.no_proot {
        let why = if find_tool("proot", None) {
            runs_true(vec!["proot".into(), "/bin/true".into()], "proot cannot run here")
        } else {
            Some("proot is not installed (compat/setup.sh installs it)".to_string())
        };
        cols.push(Column {
            name: "proot".into(),
            kind: ColumnKind::Proot,
            unavailable: why.clone(),
            unavailable_root: why,
        });
    }
    Ok(cols)
}

/// Why a column cannot run (`argv`, which should run /bin/true, did not exit 0), if it cannot:
/// `what`, the status and the first words of its stderr.
fn runs_true(argv: Vec<OsString>, what: &str) -> Option<String> {
    let out = exec::run(&Spec {
        argv,
        env: vec![("PATH".into(), BASE_PATH.into())],
        cwd: "/".into(),
        chroot: None,
        stdin: None,
        timeout: Duration::from_secs(60),
    });
    (out.status != Status::Exit(0)).then(|| {
        format!(
            "{what} ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

/// The fake root column's name.
const FAKE_ROOT: &str = "fake-root";
/// The unprivileged user of the fake root column.
const NOBODY: u32 = 65534;

/// `argv` run as nobody, without groups.
fn as_nobody(argv: Vec<OsString>) -> Vec<OsString> {
    let id = NOBODY.to_string();
    let mut full: Vec<OsString> = ["setpriv", "--reuid", &id, "--regid", &id, "--clear-groups", "--"]
        .into_iter()
        .map(OsString::from)
        .collect();
    full.extend(argv);
    full
}

/// One run to make: a case in a column.
struct Job {
    case: usize,
    column: usize,
    index: usize,
}

struct JobResult {
    case: usize,
    column: usize,
    setup_failure: Option<Output>,
    output: Output,
}

/// Where scratch directories go: on the host, and (for root cases) inside the guest root.
struct Scratch {
    host: PathBuf,
    root: Option<(PathBuf, PathBuf)>,
}

fn run_matrix(
    cases: &[Case],
    columns: &[Column],
    lxrun: &Path,
    args: &Args,
    jobs: usize,
    known: &KnownFailures,
) -> anyhow::Result<Vec<Row>> {
    let tag = format!("lxrun-compat-{}", std::process::id());
    let scratch = Scratch {
        host: std::env::temp_dir().join(&tag),
        root: args
            .root
            .as_ref()
            .map(|r| (r.join("tmp").join(&tag), Path::new("/tmp").join(&tag))),
    };
    std::fs::create_dir_all(&scratch.host).with_context(|| format!("creating {}", scratch.host.display()))?;
    if let Some((host, _)) = &scratch.root {
        std::fs::create_dir_all(host).with_context(|| format!("creating {}", host.display()))?;
    }

    let mut queue = VecDeque::new();
    for (ci, case) in cases.iter().enumerate() {
        for (col, column) in columns.iter().enumerate() {
            if column.unavailable_for(case).is_none() {
                let index = queue.len();
                queue.push_back(Job {
                    case: ci,
                    column: col,
                    index,
                });
            }
        }
    }
    let total = queue.len();
    let queue = Arc::new(Mutex::new(queue));
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:32.cyan/blue} {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));

    let (tx, rx) = mpsc::channel::<JobResult>();
    let mut results: Vec<Vec<Option<JobResult>>> = (0..cases.len())
        .map(|_| (0..columns.len()).map(|_| None).collect())
        .collect();
    std::thread::scope(|s| {
        for _ in 0..jobs.min(total.max(1)) {
            let queue = Arc::clone(&queue);
            let tx = tx.clone();
            let scratch = &scratch;
            s.spawn(move || loop {
                let job = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                let Some(job) = job else { break };
                let result = run_job(&job, &cases[job.case], &columns[job.column], lxrun, args, scratch);
                if tx.send(result).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for r in rx {
            bar.inc(1);
            bar.set_message(format!("{} [{}]", cases[r.case].name, columns[r.column].name));
            let (c, col) = (r.case, r.column);
            results[c][col] = Some(r);
        }
    });
    bar.finish_and_clear();
    if args.keep {
        eprintln!("lxrun-compat: scratch directories kept in {}", scratch.host.display());
    } else {
        let _ = std::fs::remove_dir_all(&scratch.host);
        if let Some((host, _)) = &scratch.root {
            let _ = std::fs::remove_dir_all(host);
        }
    }

    let rows = cases
        .iter()
        .zip(results)
        .map(|(case, results)| judge(case, columns, results, known))
        .collect();
    Ok(rows)
}

/// Runs one job in a fresh scratch directory: the setup (the oracle's way), then the command.
fn run_job(job: &Job, case: &Case, column: &Column, lxrun: &Path, args: &Args, scratch: &Scratch) -> JobResult {
    let name = format!("{}-{}", job.index, column.name);
    let (host_dir, guest_dir, root) = match (&scratch.root, case.is_root()) {
        (Some((host, guest)), true) => (host.join(&name), guest.join(&name), args.root.clone()),
        _ => {
            let d = scratch.host.join(&name);
            (d.clone(), d, None)
        }
    };
    let failed = |why: String| JobResult {
        case: job.case,
        column: job.column,
        setup_failure: None,
        output: Output {
            status: Status::SpawnFailed(why),
            stdout: Vec::new(),
            stderr: Vec::new(),
            seconds: 0.0,
        },
    };
    if let Err(e) = std::fs::create_dir_all(&host_dir) {
        return failed(format!("creating {}: {e}", host_dir.display()));
    }
    let guest = guest_dir.to_string_lossy().into_owned();
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), BASE_PATH.into()),
        ("LC_ALL".into(), "C".into()),
        ("HOME".into(), guest.clone()),
        ("TMPDIR".into(), guest.clone()),
    ];
    for (k, v) in &case.env {
        env.retain(|(old, _)| old != k);
        env.push((k.clone(), v.clone()));
    }
    let chroot = root.as_ref().map(|r| Chroot {
        root: r.clone(),
        cwd: guest_dir.clone(),
    });
    let oracle_spec = |argv: Vec<OsString>, stdin: Option<Vec<u8>>| Spec {
        argv,
        env: env.clone(),
        cwd: host_dir.clone(),
        chroot: chroot.clone(),
        stdin,
        timeout: case.timeout,
    };

    let mut setup_failure = None;
    if let Some(setup) = &case.setup {
        let out = exec::run(&oracle_spec(vec!["/bin/bash".into(), "-c".into(), setup.into()], None));
        if out.status != Status::Exit(0) {
            setup_failure = Some(out);
        }
    }
    let argv: Vec<OsString> = case.argv.iter().map(OsString::from).collect();
    let output = match &setup_failure {
        Some(s) => s.clone(),
        None => {
            let spec = match &column.kind {
                ColumnKind::Native | ColumnKind::NativeAgain => oracle_spec(argv, case.stdin.clone()),
                ColumnKind::Lxrun(backend) => {
                    let mut full: Vec<OsString> = vec![lxrun.into(), "--backend".into(), backend.into()];
                    if let Some(r) = &root {
                        full.extend(["--root".into(), r.into(), "-w".into(), guest_dir.clone().into()]);
                    }
                    full.push("--".into());
                    full.extend(argv);
                    Spec {
                        chroot: None,
                        ..oracle_spec(full, case.stdin.clone())
                    }
                }
                ColumnKind::FakeRoot => {
                    // What the setup made is nobody's on the host (root's to the fake root).
                    let chown = exec::run(&Spec {
                        argv: vec![
                            "chown".into(),
                            "-R".into(),
                            format!("{NOBODY}:{NOBODY}").into(),
                            host_dir.clone().into(),
                        ],
                        chroot: None,
                        ..oracle_spec(Vec::new(), None)
                    });
                    let mut full: Vec<OsString> = vec![lxrun.into(), "-0".into()];
                    if let Some(r) = &root {
                        full.extend(["--root".into(), r.into(), "-w".into(), guest_dir.clone().into()]);
                    }
                    full.push("--".into());
                    full.extend(argv);
                    if chown.status != Status::Exit(0) {
                        return failed(format!("chown of {} to nobody: {}", host_dir.display(), chown.status));
                    }
                    Spec {
                        chroot: None,
                        ..oracle_spec(as_nobody(full), case.stdin.clone())
                    }
                }
                ColumnKind::Proot => {
                    let mut full: Vec<OsString> = vec!["proot".into()];
                    if let Some(r) = &root {
                        full.extend([
                            "-r".into(),
                            r.into(),
                            "-b".into(),
                            "/proc".into(),
                            "-b".into(),
                            "/dev".into(),
                            "-w".into(),
                            guest_dir.clone().into(),
                        ]);
                    }
                    // On the host root, plain proot: it starts in the current directory.
                    full.extend(argv);
                    Spec {
                        chroot: None,
                        ..oracle_spec(full, case.stdin.clone())
                    }
                }
            };
            exec::run(&spec)
        }
    };
    if !args.keep {
        let _ = std::fs::remove_dir_all(&host_dir);
    }
    JobResult {
        case: job.case,
        column: job.column,
        setup_failure,
        output,
    }
}

/// The verdicts of one case's row.
fn judge(case: &Case, columns: &[Column], results: Vec<Option<JobResult>>, known: &KnownFailures) -> Row {
    let oracle = results[0].as_ref().map(|r| r.output.clone());
    let cells = columns
        .iter()
        .zip(results)
        .enumerate()
        .map(|(i, (column, result))| {
            let Some(result) = result else {
                let why = column.unavailable_for(case).unwrap_or("not run").to_string();
                return Cell {
                    column: column.name.clone(),
                    output: None,
                    setup_failure: None,
                    problems: Vec::new(),
                    verdict: Verdict::NotAvailable(why),
                };
            };
            let problems = match (i, &oracle) {
                (0, _) | (_, None) => model::oracle_problems(case, result.setup_failure.as_ref(), &result.output),
                (_, Some(o)) => model::compare(&column.name, o, result.setup_failure.as_ref(), &result.output),
            };
            let verdict = match (problems.is_empty(), known.get(&case.name, &column.name)) {
                (true, None) => Verdict::Pass,
                (false, None) => Verdict::Fail,
                (false, Some(k)) => Verdict::Known(k.reason.clone()),
                (true, Some(k)) if k.flaky => Verdict::Pass,
                (true, Some(k)) => Verdict::Fixed(k.reason.clone()),
            };
            Cell {
                column: column.name.clone(),
                output: Some(result.output),
                setup_failure: result.setup_failure,
                problems,
                verdict,
            }
        })
        .collect();
    Row {
        case: case.clone(),
        cells,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real_cases() -> Vec<Case> {
        cases::load(&workspace().join("compat/cases.toml"), Path::new("/bin-dir")).expect("compat/cases.toml")
    }

    #[test]
    fn cases_and_known_failures_are_valid() {
        let all = real_cases();
        let names: BTreeSet<String> = all.iter().map(|c| c.name.clone()).collect();
        KnownFailures::load(&workspace().join("compat/known-failures.toml"), &names).expect("known-failures.toml");
        let real = all.iter().filter(|c| c.variant.is_none() && !c.is_root()).count();
        assert!(real >= 60, "{real} real-program cases");
        let quick = all.iter().filter(|c| c.has_tag("quick")).count();
        assert!((15..=30).contains(&quick), "{quick} quick cases");
        assert!(all.iter().any(Case::is_root));
        let hello = all.iter().find(|c| c.name == "bin/hello/musl").expect("expanded");
        assert_eq!(hello.argv, ["/bin-dir/musl/hello"]);
    }

    #[test]
    fn bad_cases_are_refused() {
        let bin = Path::new("/b");
        let head = "variants = [\"v\"]\ntimeout = 5\n";
        let bad = [
            "[[case]]\nname = \"x\"\n",
            "[[case]]\nname = \"x\"\nargv = [\"a\"]\nscript = \"b\"\n",
            "[[case]]\nname = \"x\"\nargv = [\"{bin}/a\"]\n",
            "[[case]]\nname = \"x y\"\nargv = [\"a\"]\n",
            "[[case]]\nname = \"x\"\nargv = [\"a\"]\nneeds = { root = true }\n",
            "[[case]]\nname = \"x\"\nargv = [\"a\"]\n[[case]]\nname = \"x\"\nargv = [\"b\"]\n",
            "[[case]]\nname = \"x\"\nargv = [\"a\"]\nunknown = 1\n",
        ];
        for b in bad {
            assert!(cases::parse(&format!("{head}{b}"), bin).is_err(), "accepted:\n{b}");
        }
        let ok = cases::parse(
            &format!("{head}[[case]]\nname = \"x\"\nscript = \"echo\"\ntimeout = 9\n"),
            bin,
        )
        .unwrap();
        assert_eq!(ok[0].argv, ["/bin/bash", "-c", "echo"]);
        assert_eq!(ok[0].timeout, Duration::from_secs(9));
        let names: BTreeSet<String> = ["x".to_string()].into();
        assert!(KnownFailures::parse(
            "[[failure]]\ncase = \"y\"\ncolumn = \"ptrace\"\nreason = \"r\"\n",
            &names
        )
        .is_err());
        assert!(
            KnownFailures::parse("[[failure]]\ncase = \"x\"\ncolumn = \"qemu\"\nreason = \"r\"\n", &names).is_err()
        );
        assert!(
            KnownFailures::parse("[[failure]]\ncase = \"x\"\ncolumn = \"proot\"\nreason = \"\"\n", &names).is_err()
        );
    }

    #[test]
    fn guest_paths_resolve_inside_the_root() {
        let root = std::env::temp_dir().join(format!("lxrun-compat-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::create_dir_all(root.join("etc/alternatives")).unwrap();
        std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
        std::os::unix::fs::symlink("/etc/alternatives/awk", root.join("usr/bin/awk")).unwrap();
        std::os::unix::fs::symlink("/usr/bin/mawk", root.join("etc/alternatives/awk")).unwrap();
        assert_eq!(
            resolve_in_root(&root, Path::new("/bin/awk")),
            Some(root.join("usr/bin/mawk"))
        );
        assert_eq!(
            resolve_in_root(&root, Path::new("/../bin/x")),
            Some(root.join("usr/bin/x"))
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
