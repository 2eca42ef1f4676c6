//! Runs every test program of linux-binaries/, in every build variant,
//! natively and under lxrun with every backend, and requires identical
//! stdout and exit status.  Each test reports all mismatches at once, named
//! program/variant/backend.

mod common;

use common::*;
use std::ffi::OsString;
use std::path::Path;

/// What the native run of a case must do (a sanity check of the test
/// program itself; lxrun is then compared with the native run).
#[derive(Clone, Copy, Debug)]
enum Expect {
    Exit(i32),
    Signal(i32),
}

impl Expect {
    fn matches(self, o: &Outcome) -> bool {
        !o.timed_out
            && o.spawn_errno.is_none()
            && match self {
                Expect::Exit(c) => o.code == Some(c),
                Expect::Signal(s) => o.signal == Some(s),
            }
    }
}

/// Runs `program` in every variant, for one set of arguments built by
/// `make_args(exe, fresh_dir)` (called once per run, each with a fresh empty
/// temporary directory), natively and under every backend.
fn check_case<F>(failures: &mut Vec<String>, program: &str, expect: Expect, env: &[(&str, &str)], make_args: F)
where
    F: Fn(&Path, &Path) -> Vec<OsString>,
{
    ensure_built();
    for variant in VARIANTS {
        let exe = binary(variant, program);
        let command = |dir: &Path| {
            let mut cmd = Cmd::new(&exe).args(make_args(&exe, dir));
            for (k, v) in env {
                cmd = cmd.env(k, v);
            }
            cmd
        };

        let native_dir = TempDir::new(program);
        let native_cmd = command(native_dir.path());
        let native = run_native(&native_cmd);
        let label = format!("{program}/{variant}: {}", native_cmd.describe());
        if !expect.matches(&native) {
            failures.push(format!(
                "=== {label} [native]: expected {expect:?} natively, test program is broken?\n{native}\n"
            ));
        }
        for backend in backends() {
            let lx_dir = TempDir::new(program);
            let lx = run_lxrun(backend, &command(lx_dir.path()));
            if let Err(msg) = compare(&format!("{label} [backend {backend}]"), &native, &lx) {
                failures.push(msg);
            }
        }
    }
}

fn strings(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

#[test]
fn hello() {
    let mut failures = Vec::new();
    check_case(&mut failures, "hello", Expect::Exit(0), &[], |_, _| Vec::new());
    check_case(
        &mut failures,
        "hello",
        Expect::Exit(0),
        &[("FOO", "bar baz"), ("EMPTY", ""), ("UNICODE", "h\u{e9}llo w\u{f6}rld")],
        |_, _| {
            strings(&[
                "a b",
                "",
                "--",
                "-x",
                "'quoted'",
                "\"dq\"",
                "\u{fc}n\u{ef}c\u{f6}d\u{e9}",
                "tab\there",
            ])
        },
    );
    // Many arguments and a large environment variable: initial stack layout.
    let big = "x".repeat(100_000);
    check_case(
        &mut failures,
        "hello",
        Expect::Exit(0),
        &[("BIG", big.as_str())],
        |_, _| (0..500).map(|i| OsString::from(format!("arg{i}"))).collect(),
    );
    assert_no_failures(&failures);
}

#[test]
fn exitcode() {
    let mut failures = Vec::new();
    for (arg, status) in [("0", 0), ("1", 1), ("42", 42), ("255", 255), ("256", 0), ("-1", 255)] {
        check_case(&mut failures, "exitcode", Expect::Exit(status), &[], |_, _| {
            strings(&[arg])
        });
    }
    assert_no_failures(&failures);
}

#[test]
fn auxv() {
    let mut failures = Vec::new();
    // argv[1] is the path the program is executed by, compared with AT_EXECFN.
    check_case(&mut failures, "auxv", Expect::Exit(0), &[], |exe, _| {
        vec![exe.as_os_str().to_owned()]
    });
    assert_no_failures(&failures);
}

/// File handles (LTP's name_to_handle_at and open_by_handle_at cases): made and opened as
/// natively; the handle of a file lxrun's guest may not see is the escape suite's.
#[test]
fn file_handles() {
    let mut failures = Vec::new();
    check_case(&mut failures, "handles", Expect::Exit(0), &[], |_, dir| {
        vec![dir.as_os_str().to_owned()]
    });
    assert_no_failures(&failures);
}

/// A file lxrun opened for the guest is the guest's alone once the call returns (lxrun's copy
/// closed before the guest runs on): an flock taken on it ends at the guest's close.
#[test]
fn given_files_hold_no_reference_of_lxruns() {
    let mut failures = Vec::new();
    check_case(&mut failures, "lastref", Expect::Exit(0), &[], |_, dir| {
        vec![dir.as_os_str().to_owned()]
    });
    assert_no_failures(&failures);
}

#[test]
fn fileio() {
    let mut failures = Vec::new();
    check_case(&mut failures, "fileio", Expect::Exit(0), &[], |_, dir| {
        vec![dir.as_os_str().to_owned()]
    });
    assert_no_failures(&failures);
}

#[test]
fn forkexec() {
    let mut failures = Vec::new();
    check_case(&mut failures, "forkexec", Expect::Exit(0), &[], |_, _| Vec::new());
    assert_no_failures(&failures);
}

#[test]
fn signals() {
    let mut failures = Vec::new();
    check_case(&mut failures, "signals", Expect::Exit(0), &[], |_, _| Vec::new());
    assert_no_failures(&failures);
}

#[test]
fn threads() {
    let mut failures = Vec::new();
    check_case(&mut failures, "threads", Expect::Exit(0), &[], |_, _| Vec::new());
    assert_no_failures(&failures);
}

#[test]
fn altstack() {
    let mut failures = Vec::new();
    check_case(&mut failures, "altstack", Expect::Exit(0), &[], |_, _| Vec::new());
    assert_no_failures(&failures);
}

#[test]
fn diesig() {
    let mut failures = Vec::new();
    for sig in [libc::SIGTERM, libc::SIGSEGV, libc::SIGABRT] {
        let arg = sig.to_string();
        // compare() checks that lxrun dies of the very same signal.
        check_case(&mut failures, "diesig", Expect::Signal(sig), &[], |_, _| {
            strings(&[&arg])
        });
    }
    assert_no_failures(&failures);
}

#[test]
fn exe() {
    let mut failures = Vec::new();
    check_case(&mut failures, "exe", Expect::Exit(0), &[], |_, _| Vec::new());
    assert_no_failures(&failures);
}

#[test]
fn execchain() {
    let mut failures = Vec::new();
    check_case(&mut failures, "execchain", Expect::Exit(0), &[], |_, _| strings(&["5"]));
    assert_no_failures(&failures);
}

#[test]
fn tracee() {
    let mut failures = Vec::new();
    check_case(&mut failures, "tracee", Expect::Exit(0), &[], |_, dir| {
        vec![dir.as_os_str().to_owned()]
    });
    assert_no_failures(&failures);
}

#[test]
fn execthread() {
    let mut failures = Vec::new();
    check_case(&mut failures, "execthread", Expect::Exit(0), &[], |_, _| Vec::new());
    assert_no_failures(&failures);
}

#[test]
fn clone3() {
    let mut failures = Vec::new();
    check_case(&mut failures, "clone3", Expect::Exit(0), &[], |_, _| Vec::new());
    assert_no_failures(&failures);
}
