//! Processes and signals as on Linux: signals sent to lxrun reach the guest, lxrun's death
//! takes every guest process with it, nothing outlives a run, tracing inside the guest works
//! (the ptrace modes) or is refused in one line rather than hanging (systrap mode), and
//! fork/exec/wait at volume match a native run.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

fn pgrep(marker: &str) -> bool {
    Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false)
}

/// lxrun running a shell with two `sleep MARKER`s, returned once both sleeps run (not only the
/// shell whose command line names them), so that the guests are past every call lxrun answers.
fn two_sleeps(backend: &str, marker: &str) -> std::process::Child {
    let child = Command::new(lxrun())
        .args(["--backend", backend, "--", "/bin/sh", "-c"])
        .arg(format!("sleep {marker} & sleep {marker}; wait"))
        .spawn()
        .unwrap();
    let sleeps = format!("^sleep {marker}$");
    let deadline = Instant::now() + Duration::from_secs(5);
    while matching(&sleeps) < 2 && Instant::now() < deadline {
        sleep(Duration::from_millis(20));
    }
    assert_eq!(matching(&sleeps), 2, "[{backend}] the guest's sleeps did not start");
    child
}

/// How many processes' command lines match the regular expression `pattern`.
fn matching(pattern: &str) -> usize {
    Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .map(|o| o.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count())
        .unwrap_or(0)
}

/// Waits up to `limit` for no process to match `marker`.
fn gone(marker: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while pgrep(marker) {
        if Instant::now() > deadline {
            return false;
        }
        sleep(Duration::from_millis(20));
    }
    true
}

#[test]
fn sigterm_sent_to_lxrun_reaches_the_guest() {
    use std::io::{BufRead, BufReader, Read};
    for backend in backends() {
        let mut child = Command::new(lxrun())
            .args(["--backend", backend, "--", "/bin/sh", "-c"])
            .arg("trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.05; done")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Signal only once the guest's trap is in place.
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        assert_eq!(first, "ready\n", "[{backend}]");
        // SAFETY: signalling the child we spawned.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(rest, "got TERM\n", "[{backend}]");
        assert_eq!(status.code(), Some(3), "[{backend}]");
    }
}

#[test]
fn killing_lxrun_kills_every_guest_process() {
    for backend in backends() {
        let marker = format!("33.{}{}", std::process::id() % 1000, backend.len());
        let mut child = two_sleeps(backend, &marker);
        // SIGKILL: lxrun cannot clean up; PTRACE_O_EXITKILL or the guardian process must.
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            gone(&format!("sleep {marker}"), Duration::from_secs(3)),
            "[{backend}] guest processes outlived lxrun"
        );
    }
}

#[test]
fn killing_the_guardian_kills_every_guest_process() {
    // Without ptrace (the seccomp backend on a kernel with mseal) the guests hang below a
    // guardian process, lxrun's child; killed, it leaves them to lxrun, which must kill them.
    let marker = format!("34.{}", std::process::id() % 1000);
    let mut child = two_sleeps("seccomp", &marker);
    let sleeps = format!("^sleep {marker}$");
    let kids = Command::new("pgrep")
        .args(["-P", &child.id().to_string()])
        .output()
        .unwrap();
    let kids = String::from_utf8_lossy(&kids.stdout).into_owned();
    let Some(guardian) = kids.split_whitespace().next() else {
        child.kill().unwrap();
        child.wait().unwrap();
        let _ = Command::new("pkill").args(["-f", &sleeps]).status();
        panic!("lxrun --backend seccomp has no child between it and the guest (ptrace mode?)");
    };
    let killed = Command::new("kill").args(["-KILL", guardian]).status().unwrap();
    assert!(killed.success());
    assert!(
        gone(&format!("sleep {marker}"), Duration::from_secs(3)),
        "guest processes outlived their guardian"
    );
    // lxrun ends at once, not when the sleeps would have.
    let deadline = Instant::now() + Duration::from_secs(3);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "lxrun outlived its guardian");
        sleep(Duration::from_millis(20));
    };
    assert_ne!(status.code(), Some(0), "lxrun said the guest succeeded: {status:?}");
}

#[test]
fn lxrun_waits_for_background_processes_and_leaves_none() {
    for backend in backends() {
        let marker = format!("0.3{}{}", std::process::id() % 1000, backend.len());
        let start = Instant::now();
        let out = run_lxrun(
            backend,
            &Cmd::new("/bin/sh").args(["-c", &format!("sleep {marker} & echo started")]),
        );
        assert_eq!(out.stdout_str(), "started\n", "[{backend}] {out}");
        assert!(
            start.elapsed() >= Duration::from_millis(250),
            "[{backend}] lxrun returned before its guest's last process"
        );
        assert!(
            !pgrep(&format!("sleep {marker}")),
            "[{backend}] a guest process outlived lxrun"
        );
    }
}

#[test]
fn tracing_inside_the_guest_works_or_is_refused_in_one_line() {
    let Some(strace) = find_in_path("strace") else {
        panic!("strace not found (run tests/setup.sh)");
    };
    for backend in backends() {
        let start = Instant::now();
        let out = run_lxrun(backend, &Cmd::new(&strace).args(["-o", "/dev/null", "/bin/true"]));
        assert!(start.elapsed() < Duration::from_secs(20), "[{backend}] hung");
        let lines: Vec<String> = out
            .stderr_str()
            .lines()
            .filter(|l| l.starts_with("lxrun:"))
            .map(String::from)
            .collect();
        // The ptrace modes emulate it (tests/guest_ptrace.rs); systrap mode refuses it.
        if backend != "seccomp" || out.code == Some(0) {
            assert!(out.code == Some(0) && lines.is_empty(), "[{backend}] {out}");
            continue;
        }
        assert_eq!(lines.len(), 1, "[{backend}] {out}");
        assert!(
            lines[0].contains("ptrace") && lines[0].contains("EPERM"),
            "[{backend}] {out}"
        );
    }
}

#[test]
fn fork_exec_and_wait_at_volume() {
    let mut failures = Vec::new();
    let cases = [
        Cmd::new("/bin/sh").args([
            "-c",
            "i=0; while [ $i -lt 500 ]; do /bin/true; i=$((i+1)); done; echo $i",
        ]),
        Cmd::new("python3").args([
            "-c",
            "import multiprocessing as mp, concurrent.futures as cf\n\
             if __name__ == '__main__':\n\
             \x20   with mp.Pool(4) as p: print(sum(p.map(abs, range(-50, 50))))\n\
             \x20   with cf.ProcessPoolExecutor(3) as e: print(sorted(e.map(pow, [2, 3, 4], [5, 5, 5])))\n\
             \x20   with cf.ThreadPoolExecutor(16) as e: print(sum(e.map(len, ['x' * i for i in range(100)])))",
        ]),
        Cmd::new("python3").args([
            "-c",
            // The child waits on a pipe once continued, so its exit cannot overtake the
            // parent's wait for the continue (natively, it sometimes did).
            "import os, signal\n\
             r, w = os.pipe()\n\
             pid = os.fork()\n\
             if pid == 0:\n\
             \x20   os.close(w); os.kill(os.getpid(), signal.SIGSTOP); os.read(r, 1); os._exit(5)\n\
             os.close(r)\n\
             _, st = os.waitpid(pid, os.WUNTRACED); print('stopped', os.WIFSTOPPED(st), os.WSTOPSIG(st))\n\
             os.kill(pid, signal.SIGCONT)\n\
             _, st = os.waitpid(pid, os.WCONTINUED); print('continued', os.WIFCONTINUED(st))\n\
             os.close(w)\n\
             _, st = os.waitpid(pid, 0); print('exited', os.WEXITSTATUS(st))\n\
             pid = os.fork()\n\
             if pid == 0:\n\
             \x20   os.abort()\n\
             _, st = os.waitpid(pid, 0); print('signaled', os.WTERMSIG(st))",
        ]),
    ];
    for cmd in &cases {
        compare_everywhere("processes", cmd, &mut failures);
    }
    assert_no_failures(&failures);
}

#[test]
fn fifo_opens_wait_for_each_other_without_starving_lxrun() {
    // One notification worker: a FIFO open waiting for its writer must not keep lxrun from
    // serving the call that opens the writer's end.
    for backend in backends() {
        let start = Instant::now();
        let out = run_native(
            &Cmd::new(lxrun())
                .args(["--backend", backend, "--tmpfs", "/lxfifo", "--", "/bin/sh", "-c"])
                .arg("cd /lxfifo && mkfifo p q && (echo one > p &) && (echo two > q &) && cat q p")
                .env("LXRUN_WORKERS", "1"),
        );
        assert_eq!(out.stdout_str(), "two\none\n", "[{backend}] {out}");
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "[{backend}] too slow: deadlocked?"
        );
    }
}

#[test]
fn runs_unprivileged() {
    // lxrun's users are not root: run it as nobody, on the host's tree and on a foreign root.
    if needs_root("become another user (setpriv)") {
        return;
    }
    let root = debian_root();
    let version = std::fs::read_to_string(root.join("etc/debian_version")).unwrap();
    for backend in backends() {
        let nobody = |args: &[&str]| {
            run_native(
                &Cmd::new("setpriv")
                    .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--"])
                    .arg(lxrun())
                    .args(["--backend", backend])
                    .args(args)
                    .cwd("/"),
            )
        };
        let host = nobody(&["--", "/bin/sh", "-c", "id -u; ls / >/dev/null && echo listed"]);
        assert_eq!(host.stdout_str(), "65534\nlisted\n", "[{backend}] {host}");
        let guest = nobody(&[
            "--root",
            &root.to_string_lossy(),
            "--",
            "/bin/bash",
            "-c",
            "id -u; cat /etc/debian_version",
        ]);
        assert_eq!(guest.stdout_str(), format!("65534\n{version}"), "[{backend}] {guest}");
    }
}

#[test]
fn a_closed_stderr_does_not_stop_lxrun_answering_the_guest() {
    use std::io::Read;
    // lxrun's own log goes to stderr; when that is a pipe nobody reads any more (`| head`),
    // a failed write must not take down the thread answering the guest's calls.
    for backend in backends() {
        let mut child = Command::new(lxrun())
            .env("LXRUN_LOG", "trace")
            // A mount makes the view differ from the host's, so path calls are answered by lxrun.
            .args(["--backend", backend, "--tmpfs", "/lxrun-scratch", "--", "/bin/sh", "-c"])
            .arg("i=0; while [ $i -lt 300 ]; do test -e /; i=$((i+1)); done; echo finished")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take()); // the reader goes away at once
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            sleep(Duration::from_millis(20));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("[{backend}] lxrun hung once its stderr was closed");
        }
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        assert_eq!(out, "finished\n", "[{backend}]");
    }
}
