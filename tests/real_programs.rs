//! Real system programs (coreutils, bash, dash, python3, busybox) and
//! shebang scripts, run natively and under lxrun with every backend;
//! stdout and exit status must be identical.

mod common;

use common::*;
use std::path::Path;

fn check_all(cmds: &[Cmd]) {
    let mut failures = Vec::new();
    for cmd in cmds {
        compare_everywhere("real program", cmd, &mut failures);
    }
    assert_no_failures(&failures);
}

fn sh(shell: &str, script: &str) -> Cmd {
    Cmd::new(shell).args(["-c", script])
}

#[test]
fn ls() {
    check_all(&[
        Cmd::new("/bin/ls").args(["-la", "/usr"]),
        Cmd::new("/bin/ls").args(["-1", "/"]),
    ]);
}

#[test]
fn bash_arithmetic() {
    check_all(&[sh("/bin/bash", "echo $((6*7))")]);
}

#[test]
fn python3_from_path() {
    // python3 may be a pyenv shim (a bash script): its directory goes first
    // in PATH, so this exercises PATH search, shebangs and nested execs.
    let python = find_in_path("python3").expect("python3 not found in PATH (run tests/setup.sh)");
    let dir = python.parent().expect("python3 has a directory");
    let path = format!("{}:{BASE_PATH}", dir.display());
    check_all(&[
        Cmd::new("python3").args(["-c", "print(1)"]).env("PATH", &path),
        Cmd::new("python3")
            .args([
                "-c",
                "import sys, os; print(sys.argv[1:], os.getcwd() != '')",
                "x",
                "y z",
            ])
            .env("PATH", &path),
    ]);
}

#[test]
fn shell_pipelines() {
    check_all(&[
        sh("/bin/sh", "ls /usr | wc -l; echo done"),
        sh("/bin/bash", "for i in 1 2 3; do /bin/echo $i; done"),
        sh("/bin/bash", "echo a b c | tr ' ' '\\n' | sort -r | head -n 2"),
        sh("/bin/sh", "x=$(/bin/echo sub); echo \"got $x\"; (exit 7); echo $?"),
    ]);
}

#[test]
fn exit_status_through_env() {
    check_all(&[Cmd::new("/usr/bin/env").args(["-i", "/bin/sh", "-c", "exit 42"])]);
}

#[test]
fn exec_replaces_shell() {
    check_all(&[sh("/bin/bash", "exec /bin/echo hi")]);
}

#[test]
fn shell_killing_itself() {
    check_all(&[sh("/bin/sh", "kill -TERM $$")]);
}

#[test]
fn busybox() {
    let busybox = Path::new("/bin/busybox");
    assert!(busybox.exists(), "/bin/busybox missing (run tests/setup.sh)");
    check_all(&[
        Cmd::new(busybox).args(["echo", "hello from busybox"]),
        Cmd::new(busybox).args(["sh", "-c", "for i in 1 2 3; do echo $i; done; exit 4"]),
    ]);
}

/// Compares native and lxrun for a script at `path` in three ways:
/// through bash (`"$0" args; echo status=$?`), through coreutils `env`, and
/// directly as lxrun's program; for the direct run, when the kernel refuses
/// to execute the script, lxrun must exit 127 (ENOENT) or 126 (other errors)
/// with empty stdout, as `env` would.
fn check_script(failures: &mut Vec<String>, label: &str, path: &Path) {
    let dir = path.parent().expect("script has a directory");
    let args = ["a", "b  c"];

    let via_bash = Cmd::new("/bin/bash")
        .args(["-c", "\"$0\" \"$@\"; echo \"status=$?\""])
        .arg(path)
        .args(args)
        .cwd(dir);
    compare_everywhere(&format!("{label} via bash"), &via_bash, failures);

    let via_env = Cmd::new("/usr/bin/env").arg(path).args(args).cwd(dir);
    compare_everywhere(&format!("{label} via env"), &via_env, failures);

    let direct = Cmd::new(path).args(args).cwd(dir);
    match kernel_exec_errno(path) {
        Ok(()) => {
            compare_everywhere(&format!("{label} direct"), &direct, failures);
        }
        Err(errno) => {
            let want = launcher_status_for_errno(errno);
            for backend in backends() {
                let lx = run_lxrun(backend, &direct);
                if lx.code != Some(want) || !lx.stdout.is_empty() {
                    failures.push(format!(
                        "=== {label} direct [backend {backend}]: native execve fails with \
                         errno {errno}, so lxrun must exit {want} with empty stdout\n{lx}\n"
                    ));
                }
            }
        }
    }
}

#[test]
fn shebang_chains() {
    // s0 is a /bin/sh script, s_k names s_{k-1} as its interpreter.  The
    // kernel limits interpreter nesting (natively s0..s4 run and s5.. fail
    // with ELOOP on Linux 6.x); lxrun must agree for every length.
    let tmp = TempDir::new("shebang");
    tmp.write("s0", b"#!/bin/sh\necho \"$0 $@\"\n", 0o755);
    for k in 1..=7 {
        let interp = tmp.path().join(format!("s{}", k - 1));
        let content = format!("#!{}\n", interp.display());
        tmp.write(&format!("s{k}"), content.as_bytes(), 0o755);
    }
    let mut failures = Vec::new();
    for n in 0..=7 {
        check_script(
            &mut failures,
            &format!("shebang chain s{n}"),
            &tmp.path().join(format!("s{n}")),
        );
    }
    assert_no_failures(&failures);
}

#[test]
fn shebang_variants() {
    let tmp = TempDir::new("shebang-variants");
    let long_line = format!("#!{}bin/sh\necho long\n", "/".repeat(300));
    let scripts: &[(&str, &[u8])] = &[
        // An interpreter argument: `sh -e` stops at `false`.
        ("dash-e", b"#!/bin/sh -e\necho \"flags=$-\"\nfalse\necho not reached\n"),
        // Trailing spaces and tabs after the interpreter are ignored.
        ("trailing-ws", b"#!/bin/sh \t \t\necho \"trailing ok $#\"\n"),
        // Whitespace before the interpreter, and an argument with inner
        // spaces that the kernel passes as one argument.
        ("echo-arg", b"#!  /bin/echo  one  two \t\n"),
        // No newline at all after the #! line.
        ("no-newline", b"#!/bin/echo"),
        // Interpreter that does not exist: ENOENT natively.
        ("missing-interp", b"#!/nonexistent/interpreter\necho hi\n"),
        // Interpreter that is not executable: EACCES natively.
        ("noexec-interp", b"#!/etc/passwd\n"),
        // A #! line longer than the kernel's buffer.
        ("long-line", long_line.as_bytes()),
        // Plain text without #!: ENOEXEC natively; bash and env fall back to sh.
        ("no-shebang", b"echo \"no shebang $#\"\n"),
    ];
    let mut failures = Vec::new();
    for (name, content) in scripts {
        let path = tmp.write(name, content, 0o755);
        check_script(&mut failures, &format!("script {name}"), &path);
    }
    assert_no_failures(&failures);
}
