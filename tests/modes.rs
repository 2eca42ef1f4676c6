//! Each backend runs in the mode it names, and the default mode's in-process handler answers
//! the calls it exists for: a suite that silently ran another mode (as happened once) would
//! test the wrong code and pass.

mod common;

use common::*;

/// lxrun's info lines for `lxrun -v --backend BACKEND [options] -- PROGRAM...`.
fn info(backend: &str, options: &[&str], program: &[&str]) -> (Outcome, String) {
    let mut args = vec!["-v", "--backend", backend];
    args.extend_from_slice(options);
    args.push("--");
    args.extend_from_slice(program);
    let out = run_lxrun_raw(args);
    let text = strip_colours(&out.stderr_str());
    (out, text)
}

fn strip_colours(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Linux 6.10 has mseal, which systrap mode needs (the stub's handler is sealed).
fn kernel_has_mseal() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (6, 10)
}

#[test]
fn each_backend_runs_in_the_mode_it_names() {
    let systrap = if kernel_has_mseal() {
        "seccomp without ptrace: the in-process fast path is on"
    } else {
        "the in-process fast path is off"
    };
    let cases = [
        ("ptrace", &[][..], "ptrace: every translated call stops for ptrace"),
        ("seccomp", &[][..], systrap),
        (
            "seccomp-ptrace",
            &[][..],
            "seccomp with ptrace: translated calls by user notification, execve and tasks by ptrace",
        ),
        ("seccomp", &["--stats"][..], "observed run: every call stops for ptrace"),
    ];
    let mut failures = Vec::new();
    for (backend, options, want) in cases {
        let (out, text) = info(backend, options, &["/bin/true"]);
        if !out.success() || !text.contains(want) {
            failures.push(format!(
                "--backend {backend} {options:?}: no \"{want}\" in\n{text}\n{out}"
            ));
        }
    }
    assert_no_failures(&failures);
}

/// In the Debian root (where paths are translated), the default mode answers stat-family
/// calls and the dynamic loader's opens in the guest: lxrun is notified of none of them, while
/// the same run shows its other notifications (the load plan), so the log is not simply empty.
#[test]
fn the_default_mode_answers_path_calls_in_the_guest() {
    if !kernel_has_mseal() {
        skip("systrap mode needs mseal (Linux 6.10)");
        return;
    }
    let root = debian_root();
    let out = run_native(
        &Cmd::new(lxrun())
            .args(["--root"])
            .arg(root)
            .args(["--", "/usr/bin/stat", "-c", "%F %a", "/etc/debian_version", "/usr/lib"])
            .env("LXRUN_LOG", "trace"),
    );
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout_str(), "regular file 644\ndirectory 755\n");
    let log = strip_colours(&out.stderr_str());
    let notified: Vec<&str> = log.lines().filter(|l| l.contains(" notification ")).collect();
    let plan = lxrun_loader_plan_nr();
    assert!(
        notified.iter().any(|l| l.contains(&format!("nr={plan} "))),
        "no notification of the load plan: is the log on?\n{log}"
    );
    // stat, lstat, newfstatat, statx, open, openat, access, faccessat2: lxrun hears of them
    // only for its own /proc (which it synthesizes).
    for nr in [4, 6, 262, 332, 2, 257, 21, 439] {
        let hits: Vec<String> = notified
            .iter()
            .filter(|l| l.contains(&format!("nr={nr} ")))
            .map(|l| host_path(l))
            .filter(|p| !p.starts_with("/proc/"))
            .collect();
        assert!(hits.is_empty(), "nr {nr} went to lxrun for {hits:?}");
    }
}

/// The translated host path a notification's outcome names (`host: [bytes]`), or the line.
fn host_path(line: &str) -> String {
    let Some(at) = line.find("host: [") else {
        return line.to_string();
    };
    let rest = &line[at + 7..];
    let bytes: Vec<u8> = rest[..rest.find(']').unwrap_or(0)]
        .split(", ")
        .filter_map(|b| b.parse().ok())
        .collect();
    String::from_utf8_lossy(&bytes).trim_end_matches('\0').to_string()
}

/// SYS_LXRUN_PLAN (loader/src/abi.rs).
fn lxrun_loader_plan_nr() -> u64 {
    0x4c58
}
