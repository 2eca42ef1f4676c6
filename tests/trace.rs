//! `--trace`, `--stats` and `--log`, checked against strace itself: the same static program
//! is traced by `strace -f` and by `lxrun --trace`, and every task's sequence of calls, with
//! their decoded arguments and results, must be identical once addresses, pids and random
//! bytes are normalized. `--stats` counts are compared with `strace -c`'s.

mod common;

use common::strace_text::*;
use common::*;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

fn strace() -> std::path::PathBuf {
    find_in_path("strace")
        .or_else(|| Some(Path::new("/usr/bin/strace").to_path_buf()).filter(|p| p.exists()))
        .expect("strace not found (run tests/setup.sh)")
}

/// Runs `strace <options> -o FILE -- cmd` and returns what strace wrote to FILE.
fn run_strace(options: &[&str], cmd: &Cmd, out: &Path) -> (Outcome, String) {
    let mut args: Vec<OsString> = options.iter().map(OsString::from).collect();
    args.push("-o".into());
    args.push(out.as_os_str().to_owned());
    args.push("--".into());
    args.push(cmd.program.clone());
    args.extend(cmd.args.iter().cloned());
    let o = run_program(strace().as_os_str(), &args, cmd);
    let text = std::fs::read_to_string(out).unwrap_or_default();
    (o, text)
}

fn first_pid(text: &str) -> i32 {
    text.lines()
        .next()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

fn tracee(variant: &str) -> std::path::PathBuf {
    ensure_built();
    binary(variant, "tracee")
}

#[test]
fn trace_matches_strace_in_every_variant() {
    let mut failures = Vec::new();
    for variant in VARIANTS {
        compare_with_strace(variant, &mut failures);
    }
    assert_no_failures(&failures);
}

/// Traces linux-binaries' `tracee` (built as `variant`) with `strace -f` and with
/// `lxrun --trace`: each task's calls, arguments and results must be the same.
fn compare_with_strace(variant: &str, failures: &mut Vec<String>) {
    let exe = tracee(variant);
    let out = TempDir::new("trace-out");
    // Both runs use the same directory (its name shows in argv), emptied in between.
    let dir = TempDir::new("tracee");
    let cmd = Cmd::new(&exe).arg(dir.path());
    let (native, st) = run_strace(&["-f", "-q"], &cmd, &out.path().join("strace.txt"));
    assert!(native.success(), "{variant}: tracee under strace failed:\n{native}");
    let want = normalize(&per_task(&st, first_pid(&st)), dir.path());
    assert_eq!(want.len(), 3, "{variant}: strace saw 3 tasks:\n{st}");
    assert!(want[0].len() > 80, "{variant}: strace's trace is too short:\n{st}");

    for backend in backends() {
        let _ = std::fs::remove_file(dir.path().join("data.txt"));
        let file = out.path().join(format!("lxrun-{backend}.txt"));
        let opt = format!("--trace={}", file.display());
        let lx = run_lxrun_with(backend, &[&opt], &cmd);
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if !lx.success() {
            failures.push(format!(
                "{variant} [{backend}]: tracee under lxrun --trace failed:\n{lx}"
            ));
            continue;
        }
        // Lines without a prefix are the main task's, the lowest pid (it forks the others).
        let got = normalize(&per_task(&text, lowest_pid(&text)), dir.path());
        if got != want {
            failures.push(format!(
                "{variant} [{backend}]: lxrun --trace differs from strace -f:\n{}\n--- strace\n{st}\n--- lxrun\n{text}",
                diff(&want, &got)
            ));
        }
    }
}

/// The lowest pid named in `[pid N]` prefixes: the main task (it forks the others).
fn lowest_pid(text: &str) -> i32 {
    text.lines()
        .filter_map(|l| l.strip_prefix("[pid ").and_then(|r| r.split(']').next()))
        .filter_map(|p| p.trim().parse().ok())
        .min()
        .unwrap_or(0)
}

fn diff(want: &[Vec<String>], got: &[Vec<String>]) -> String {
    if want.len() != got.len() {
        return format!("strace saw {} tasks, lxrun {}", want.len(), got.len());
    }
    for (t, (w, g)) in want.iter().zip(got).enumerate() {
        for i in 0..w.len().max(g.len()) {
            let (a, b) = (w.get(i), g.get(i));
            if a != b {
                return format!("task P{t}, line {}:\n  strace: {a:?}\n  lxrun:  {b:?}", i + 1);
            }
        }
    }
    String::new()
}

#[test]
fn cat_shows_openat_read_write_exit_group() {
    let mut failures = Vec::new();
    let cmd = Cmd::new("/bin/cat").arg("/etc/hostname");
    let native = run_native(&cmd);
    let out = TempDir::new("cat-strace");
    let (_, st) = run_strace(&["-f", "-q"], &cmd, &out.path().join("strace.txt"));
    let openat = "openat(AT_FDCWD, \"/etc/hostname\", O_RDONLY) = 3";
    assert!(st.contains(openat), "strace itself shows {openat}:\n{st}");
    for backend in backends() {
        let lx = run_lxrun_with(backend, &["--trace"], &cmd);
        let trace = lx.stderr_str();
        let mut problems = Vec::new();
        if lx.stdout != native.stdout || !lx.success() {
            problems.push("cat's own output or status changed".to_string());
        }
        let first = trace.lines().next().unwrap_or_default();
        if !first.starts_with("execve(\"/bin/cat\", [\"/bin/cat\", \"/etc/hostname\"], 0x") || !first.ends_with(" = 0")
        {
            problems.push(format!("first line must be the guest's execve: {first:?}"));
        }
        if !trace.lines().any(|l| l == openat) {
            problems.push(format!("no line {openat:?}"));
        }
        let content = String::from_utf8_lossy(&native.stdout).escape_default().to_string();
        // cat may copy with read+write or with copy_file_range, as it chooses natively.
        let read = format!("read(3, \"{content}\", ");
        let write = format!("write(1, \"{content}\", ");
        let copied = trace
            .lines()
            .any(|l| l.starts_with("copy_file_range(3, NULL, 1, NULL, "))
            || (trace.lines().any(|l| l.starts_with(&read)) && trace.lines().any(|l| l.starts_with(&write)));
        if !copied {
            problems.push("no read(3, ...) and write(1, ...) of the file's content".into());
        }
        if !trace
            .lines()
            .any(|l| l.starts_with("exit_group(0)") && l.ends_with("= ?"))
        {
            problems.push("no `exit_group(0) = ?`".into());
        }
        if trace.lines().last() != Some("+++ exited with 0 +++") {
            problems.push("the last line must be `+++ exited with 0 +++`".into());
        }
        if !problems.is_empty() {
            failures.push(format!("[{backend}] {}\n{lx}", problems.join("; ")));
        }
    }
    assert_no_failures(&failures);
}

#[test]
fn trace_shows_the_guests_execve_not_the_stubs() {
    let mut failures = Vec::new();
    let cmd = Cmd::new("/bin/sh").args(["-c", "exec /bin/echo hi"]);
    for backend in backends() {
        let lx = run_lxrun_with(backend, &["--trace", "--trace-host"], &cmd);
        let trace = lx.stderr_str();
        let want = "execve(\"/bin/echo\"<host:\"/bin/echo\">, [\"/bin/echo\", \"hi\"], 0x";
        let mut problems = Vec::new();
        if lx.stdout_str() != "hi\n" {
            problems.push("echo's output changed".to_string());
        }
        if !trace.lines().any(|l| l.starts_with(want) && l.ends_with(" = 0")) {
            problems.push(format!("no line starting {want:?} and ending = 0"));
        }
        // Neither the stub's path nor the stub's own calls (its private plan call) show.
        if trace.contains("/fd/") || trace.contains("syscall_0x4c58") {
            problems.push("the loader stub shows in the trace".into());
        }
        if !problems.is_empty() {
            failures.push(format!("[{backend}] {}\n{lx}", problems.join("; ")));
        }
    }
    assert_no_failures(&failures);
}

#[test]
fn json_trace_is_one_object_per_line() {
    let mut failures = Vec::new();
    let cmd = Cmd::new("/bin/cat").arg("/etc/hostname");
    for backend in backends() {
        let lx = run_lxrun_with(backend, &["--trace", "--trace-format", "json"], &cmd);
        let mut problems = Vec::new();
        let mut saw_openat = false;
        for line in lx.stderr_str().lines() {
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(v) => {
                    if v["syscall"] == "openat" && v["args"][1] == "\"/etc/hostname\"" && v["ret"] == 3 {
                        saw_openat = true;
                    }
                }
                Err(e) => problems.push(format!("not JSON ({e}): {line:?}")),
            }
        }
        if !saw_openat {
            problems.push("no openat of /etc/hostname returning 3".into());
        }
        if !lx.stderr_str().lines().any(|l| l.contains("\"exited\":0")) {
            problems.push("no exit event".into());
        }
        if !problems.is_empty() {
            failures.push(format!("[{backend}] {}\n{lx}", problems.join("; ")));
        }
    }
    assert_no_failures(&failures);
}

/// `strace -c`'s table: syscall -> (calls, errors).
fn strace_counts(text: &str) -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors,] syscall
        if f.len() < 5 || f[0].parse::<f64>().is_err() || f.last() == Some(&"total") {
            continue;
        }
        let name = f[f.len() - 1].to_string();
        let calls: u64 = f[3].parse().unwrap_or(0);
        let errors: u64 = if f.len() == 6 { f[4].parse().unwrap_or(0) } else { 0 };
        out.insert(name, (calls, errors));
    }
    out
}

#[test]
fn stats_counts_match_strace_c() {
    let exe = tracee("static");
    let out = TempDir::new("stats-out");
    let dir = TempDir::new("stats-strace");
    let (native, st) = run_strace(
        &["-f", "-c"],
        &Cmd::new(&exe).arg(dir.path()),
        &out.path().join("c.txt"),
    );
    assert!(native.success(), "tracee under strace -c failed:\n{native}");
    let want = strace_counts(&st);
    for name in ["openat", "close", "write", "wait4", "kill", "newfstatat", "access"] {
        assert!(want.contains_key(name), "strace -c shows {name}:\n{st}");
    }
    let mut failures = Vec::new();
    for backend in backends() {
        let dir = TempDir::new("stats-lxrun");
        let lx = run_lxrun_with(backend, &["--stats"], &Cmd::new(&exe).arg(dir.path()));
        let report = lx.stderr_str();
        let got = strace_counts(&report);
        let mut problems = Vec::new();
        if !lx.success() {
            problems.push("tracee failed".to_string());
        }
        if !report.contains("% time     seconds  usecs/call     calls    errors syscall") {
            problems.push("no summary table header".into());
        }
        if !report.contains("ptrace-seccomp stops: ") || !report.contains("unsupported syscalls: none") {
            problems.push("no mechanism or unsupported-syscall lines".into());
        }
        // Every syscall's calls and errors, as strace -c counts them.
        if got != want {
            problems.push(format!("counts differ:\n  strace -c: {want:?}\n  lxrun:     {got:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "[{backend}] {}\n--- strace -c\n{st}\n{lx}",
                problems.join("; ")
            ));
        }
    }
    assert_no_failures(&failures);
}

#[test]
fn log_file_takes_lxruns_diagnostics() {
    let mut failures = Vec::new();
    let dir = TempDir::new("log");
    let cmd = Cmd::new("/bin/echo").arg("logged");
    for backend in backends() {
        let log = dir.path().join(format!("{backend}.log"));
        let opt = format!("--log={}", log.display());
        let lx = run_lxrun_with(backend, &["-vvv", &opt], &cmd);
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if lx.stdout_str() != "logged\n" || !lx.success() || !lx.stderr.is_empty() || text.is_empty() {
            failures.push(format!(
                "[{backend}] with --log, diagnostics go to the file and nothing to stderr:\n--- log\n{text}\n{lx}"
            ));
        }
    }
    assert_no_failures(&failures);
}

#[test]
fn trace_options_need_trace() {
    let lx = run_lxrun_raw(["--trace-host", "--", "/bin/true"]);
    assert_eq!(lx.code, Some(2), "--trace-host without --trace is a usage error:\n{lx}");
    // `--trace PROGRAM`: the program is not taken as the trace file.
    let lx = run_lxrun_raw(["--trace", "/bin/echo", "x"]);
    assert_eq!(lx.stdout_str(), "x\n", "{lx}");
    assert!(lx.stderr_str().contains("execve(\"/bin/echo\""), "{lx}");
}
