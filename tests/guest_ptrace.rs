//! ptrace between guest processes. In the ptrace modes (`--backend ptrace`, `seccomp-ptrace`)
//! lxrun is the kernel's tracer of every guest task and emulates the guest's ptrace; each test
//! runs the same tracer natively (the oracle) and under lxrun and compares what it prints:
//! linux-binaries/debugme's own tracers (PTRACE_TRACEME + raise(SIGSTOP), exec stops, ATTACH,
//! SEIZE, INTERRUPT, fork events), `strace -f` of a fork+exec program and gdb (a crash's
//! backtrace, a breakpoint, `catch syscall`, attaching to a running guest). In systrap mode
//! (`--backend seccomp` where the kernel has mseal) nobody ptraces the guest and lxrun refuses
//! ptrace with one line on stderr: there the tests assert that refusal.

mod common;

use common::strace_text::*;
use common::*;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The line lxrun prints once when it refuses a guest's ptrace.
const REFUSAL: &str = "lxrun: ptrace refused with EPERM";

fn debugme(variant: &str) -> PathBuf {
    ensure_built();
    binary(variant, "debugme")
}

fn tool(name: &str) -> PathBuf {
    find_in_path(name)
        .or_else(|| Some(Path::new("/usr/bin").join(name)).filter(|p| p.exists()))
        .unwrap_or_else(|| panic!("{name} not found (run tests/setup.sh)"))
}

/// Whether `backend` emulates guest ptrace here: `seccomp` does only where it falls back to
/// its ptrace-assisted mode (a kernel without mseal). Asked of lxrun itself, with debugme's
/// PTRACE_SEIZE probe, whose refusal must then be the one line.
fn emulates(backend: &str) -> bool {
    let probe = Cmd::new(debugme("dynamic")).arg("canptrace");
    let lx = run_lxrun(backend, &probe);
    let out = lx.stdout_str();
    if out.contains("SEIZE: OK") {
        return true;
    }
    assert!(
        out.contains("SEIZE: EPERM") && lx.stderr_str().matches(REFUSAL).count() == 1,
        "{backend}: neither emulated nor refused in one line:\n{lx}"
    );
    false
}

/// A refused run: lxrun's one line, and the tool's failure.
fn refused(label: &str, lx: &Outcome) -> Result<(), String> {
    if lx.stderr_str().matches(REFUSAL).count() == 1 && !lx.success() {
        Ok(())
    } else {
        Err(format!("=== {label}: expected lxrun's refusal and a failure\n{lx}"))
    }
}

#[test]
fn debugme_tracers_match_native_in_every_variant() {
    let mut failures = Vec::new();
    for backend in backends() {
        if !emulates(backend) {
            continue;
        }
        for variant in VARIANTS {
            for mode in ["traceme", "traceexec", "attach", "forkevent"] {
                let cmd = Cmd::new(debugme(variant)).arg(mode);
                let native = run_native(&cmd);
                assert!(native.success(), "native {variant} {mode}: {native}");
                let lx = run_lxrun(backend, &cmd);
                if let Err(e) = compare(&format!("{backend} {variant} debugme {mode}"), &native, &lx) {
                    failures.push(e);
                }
            }
        }
    }
    assert_no_failures(&failures);
}

/// The same tracers inside the Debian root (the static build, bound in): paths, the exec of
/// /proc/self/exe and the stub's objects all go through the guest's tree there.
#[test]
fn debugme_tracers_match_native_in_the_debian_root() {
    let root = debian_root().display().to_string();
    let dir = debugme("static");
    let dir = dir.parent().expect("a directory").display().to_string();
    let bind = format!("{dir}:/opt/debugme");
    let mut failures = Vec::new();
    for backend in backends() {
        if !emulates(backend) {
            continue;
        }
        for mode in ["traceme", "traceexec", "attach", "forkevent", "forkexec"] {
            let native = run_native(&Cmd::new(debugme("static")).arg(mode));
            assert!(native.success(), "native {mode}: {native}");
            let guest = Cmd::new("/opt/debugme/debugme").arg(mode);
            let lx = run_lxrun_with(backend, &["--root", &root, "-b", &bind], &guest);
            if let Err(e) = compare(&format!("{backend} --root debugme {mode}"), &native, &lx) {
                failures.push(e);
            }
        }
    }
    assert_no_failures(&failures);
}

#[test]
fn systrap_mode_refuses_ptrace_in_one_line() {
    if emulates("seccomp") {
        return;
    }
    let cmd = Cmd::new(debugme("dynamic")).arg("canptrace");
    let lx = run_lxrun("seccomp", &cmd);
    assert!(lx.success(), "{lx}");
    assert_eq!(lx.stdout_str(), "SEIZE: EPERM\nchild: killed by Killed\n");
}

/// `strace -f -o FILE debugme forkexec`, natively or under lxrun: what strace wrote, per task.
fn strace_forkexec(backend: Option<&str>, out: &Path) -> (Outcome, Vec<Vec<String>>) {
    let _ = std::fs::remove_file(out);
    let args: Vec<OsString> = vec![
        "-f".into(),
        "-o".into(),
        out.as_os_str().to_owned(),
        debugme("dynamic").into_os_string(),
        "forkexec".into(),
    ];
    let cmd = Cmd::new(tool("strace")).args(args);
    let o = match backend {
        None => run_native(&cmd),
        Some(b) => run_lxrun(b, &cmd),
    };
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let tasks = normalize(&per_task(&text, 0), scratch_dir());
    // Times the kernel accounts differ from run to run.
    let tasks = tasks
        .into_iter()
        .map(|lines| {
            lines
                .into_iter()
                .map(|l| {
                    let l = l.replace(" si_utime=1,", " si_utime=0,");
                    l.replace(" si_stime=1}", " si_stime=0}")
                })
                .collect::<Vec<String>>()
        })
        .map(sigchld_after_wait)
        .collect();
    (o, tasks)
}

/// The parent's SIGCHLD is reported before its wait4 when the child is gone before the parent
/// waits, after it when the parent already waits: both are Linux's, decided by the scheduler
/// (natively too, under load). One order is kept, the SIGCHLD after the wait4 beside it.
fn sigchld_after_wait(mut lines: Vec<String>) -> Vec<String> {
    for i in 1..lines.len() {
        if lines[i - 1].starts_with("--- SIGCHLD ") && lines[i].starts_with("wait4(") {
            lines.swap(i - 1, i);
        }
    }
    lines
}

#[test]
fn strace_f_of_fork_exec_matches_native() {
    let dir = TempDir::new("strace");
    let (native, want) = strace_forkexec(None, &dir.path().join("native"));
    assert!(native.success(), "{native}");
    assert!(want.len() == 2 && want[1].iter().any(|l| l.starts_with("execve(\"/proc/self/exe\"")));
    let mut failures = Vec::new();
    for backend in backends() {
        let (lx, got) = strace_forkexec(Some(backend), &dir.path().join(backend));
        if !emulates(backend) {
            if let Err(e) = refused(&format!("{backend} strace"), &lx) {
                failures.push(e);
            }
            continue;
        }
        if let Err(e) = compare(&format!("{backend} strace -f"), &native, &lx) {
            failures.push(e);
        }
        if got != want {
            failures.push(format!(
                "=== {backend}: strace -f saw other calls\n>>> native\n{}\n>>> lxrun\n{}\n",
                want.iter().map(|t| t.join("\n")).collect::<Vec<_>>().join("\n--\n"),
                got.iter().map(|t| t.join("\n")).collect::<Vec<_>>().join("\n--\n"),
            ));
        }
    }
    assert_no_failures(&failures);
}

/// gdb's output without what differs between runs: addresses (the stack's place depends on the
/// environment's size), pids.
fn gdb_text(o: &Outcome) -> String {
    let mut out = String::new();
    for line in o.stdout_str().lines() {
        let mut l = String::new();
        let mut rest = line;
        while let Some(at) = rest.find("0x") {
            l.push_str(&rest[..at]);
            let n = rest[at + 2..].chars().take_while(char::is_ascii_hexdigit).count();
            l.push_str("ADDR");
            rest = &rest[at + 2 + n..];
        }
        l.push_str(rest);
        let l = match l.split_once("(process ") {
            Some((head, tail)) => format!("{head}(process N{}", &tail[tail.find(')').unwrap_or(0)..]),
            None => l,
        };
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn gdb(args: &[&str]) -> Cmd {
    let mut all = vec!["-nx", "-batch", "-iex", "set debuginfod enabled off"];
    all.extend(args);
    Cmd::new(tool("gdb")).args(all)
}

/// Runs a gdb session natively and under every backend: the same output where ptrace is
/// emulated, lxrun's refusal where it is not.
fn compare_gdb(label: &str, cmd: &Cmd, expect: &str) {
    let native = run_native(cmd);
    let want = gdb_text(&native);
    assert!(want.contains(expect), "native {label}:\n{native}");
    let mut failures = Vec::new();
    for backend in backends() {
        let lx = run_lxrun(backend, cmd);
        if !emulates(backend) {
            if !lx.stderr_str().contains(REFUSAL) || gdb_text(&lx).contains(expect) {
                failures.push(format!("=== {backend} {label}: expected lxrun's refusal\n{lx}"));
            }
            continue;
        }
        let got = gdb_text(&lx);
        if got != want || native.status() != lx.status() {
            failures.push(format!(
                "=== {backend} {label}\n>>> native ({})\n{want}\n>>> lxrun ({})\n{got}\n{}",
                native.status(),
                lx.status(),
                lx.stderr_str()
            ));
        }
    }
    assert_no_failures(&failures);
}

#[test]
fn gdb_backtrace_of_a_crash_matches_native() {
    for variant in ["dynamic", "static"] {
        let prog = debugme(variant);
        let cmd = gdb(&["-ex", "run", "-ex", "bt", "--args", &prog.to_string_lossy(), "crash"]);
        compare_gdb(&format!("{variant} bt"), &cmd, "in crash_here () at ");
    }
}

#[test]
fn gdb_breakpoint_and_catch_syscall_match_native() {
    let prog = debugme("dynamic");
    let prog = prog.to_string_lossy();
    let cmd = gdb(&[
        "-ex",
        "break outer",
        "-ex",
        "run",
        "-ex",
        "bt",
        "-ex",
        "continue",
        "--args",
        &prog,
        "crash",
    ]);
    compare_gdb("break", &cmd, "Breakpoint 1, outer () at ");
    let cmd = gdb(&[
        "-ex",
        "catch syscall write",
        "-ex",
        "run",
        "-ex",
        "continue",
        "-ex",
        "continue",
        "--args",
        &prog,
        "hello",
    ]);
    compare_gdb("catch syscall", &cmd, "(returned from syscall write)");
}

#[test]
fn gdb_attaches_to_a_running_guest() {
    let prog = debugme("dynamic");
    let script = format!(
        "{} idle & sleep 0.3; {} -nx -batch -iex 'set debuginfod enabled off' -p $! -ex bt -ex kill; kill $! 2>/dev/null; wait",
        prog.display(),
        tool("gdb").display()
    );
    let cmd = Cmd::new("/bin/sh").arg("-c").arg(script);
    compare_gdb("attach", &cmd, "in idle () at ");
}
