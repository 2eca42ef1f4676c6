//! The escape suite: ways a guest could try to reach a host file outside its root (and its
//! binds), each run under `lxrun --root`. File-reading attempts are first run on the host,
//! where each of them does reach the secret (so the attempt is real); under lxrun none may.
//! Syscall-level attempts must get the errno lxrun promises.

mod common;

use common::*;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A host file that no guest may read, with unguessable content.
fn secret() -> &'static (PathBuf, String) {
    static S: OnceLock<(PathBuf, String)> = OnceLock::new();
    S.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("lxrun-escape-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let content = format!("HOST-SECRET-{:x}", std::process::id() as u64 * 0x9e37_79b9_7f4a_7c15);
        let file = dir.join("secret");
        std::fs::write(&file, &content).unwrap();
        (file, content)
    })
}

/// Attempts to read the secret, as shell snippets with $SECRET the host path. Each reads it
/// when run on the host as root.
const READ_ATTEMPTS: &[(&str, &str)] = &[
    ("direct", "cat $SECRET"),
    ("dotdot from /", "cat /../../../..$SECRET"),
    ("dotdot relative", "cd / && cat ../../../..$SECRET"),
    ("absolute symlink", "ln -s $SECRET l && cat l"),
    ("relative symlink climbing", "ln -s ../../../../../../../..$SECRET l && cat l"),
    ("symlinked directory", "ln -s / r && cat r/../../..$SECRET"),
    ("/proc/self/root", "cat /proc/self/root$SECRET"),
    ("/proc/1/root", "cat /proc/1/root$SECRET"),
    ("/proc/PPID/root (lxrun)", "cat /proc/$PPID/root$SECRET"),
    ("/proc/PPID/cwd (lxrun)", "cat /proc/$PPID/cwd/../../../../../../..$SECRET"),
    ("/proc/self/cwd", "cat /proc/self/cwd/../../../../../../..$SECRET"),
    ("/proc/thread-self/root", "cat /proc/thread-self/root$SECRET"),
    ("/dev/fd climbing", "cat /dev/fd/../../../..$SECRET"),
    ("/sys climbing", "cat /sys/../../..$SECRET"),
    ("/proc/PPID/fd (lxrun's descriptors)", "for f in /proc/$PPID/fd/*; do cat $f$SECRET $f/../../../..$SECRET; done 2>/dev/null; cat $SECRET"),
    ("/proc/1/cwd", "cat /proc/1/cwd/../../../..$SECRET"),
    ("chroot then climb", "python3 -c \"import os; os.mkdir('jail'); os.chroot('jail'); os.chdir('../../../../../..'); print(open('.' + os.environ['SECRET']).read())\""),
    ("dirfd outside a chroot", "python3 -c \"import os; fd=os.open('/', os.O_RDONLY); os.mkdir('j'); os.chroot('j'); os.fchdir(fd); os.chdir('../../../..'); print(open('.' + os.environ['SECRET']).read())\""),
    ("exec through /proc/PPID/exe", "/proc/$PPID/exe --version >/dev/null 2>&1; cat $SECRET"),
    ("openat2 from a dirfd", "python3 -c \"import os; fd=os.open('/proc/self/root', os.O_RDONLY); print(open(os.environ['SECRET'], opener=lambda p, f: os.open(p, f, dir_fd=fd)).read())\""),
    ("bind mount dotdot", "cat /etc/hosts/../../../..$SECRET"),
];

fn guest_run(backend: &str, script: &str, secret_path: &str) -> Outcome {
    guest_run_in(backend, script, secret_path, &[])
}

/// `guest_run` with more lxrun options (binds) before the program.
fn guest_run_in(backend: &str, script: &str, secret_path: &str, options: &[String]) -> Outcome {
    let wrapped = format!("d=$(mktemp -d) && cd \"$d\" && {{\n{script}\n}}; cd /; rm -rf \"$d\"; true");
    run_native(
        &Cmd::new(lxrun())
            .args(["--backend", backend, "--root"])
            .arg(debian_root())
            .args(options)
            .args(["--", "/bin/bash", "-c", &wrapped])
            .env("SECRET", secret_path),
    )
}

#[test]
fn no_guest_reads_a_host_file() {
    let (path, content) = secret();
    let p = path.to_string_lossy().into_owned();
    let mut failures = Vec::new();
    let mut reached_natively = 0;
    for (name, script) in READ_ATTEMPTS {
        // The attempt is real: on the host it reaches the secret (as root, like CI).
        let native = run_native(
            &Cmd::new("/bin/bash")
                .args(["-c", &format!("cd $(mktemp -d) && {script}")])
                .env("SECRET", &p),
        );
        if native.stdout_str().contains(content.as_str()) {
            reached_natively += 1;
        }
        for backend in backends() {
            let out = guest_run(backend, script, &p);
            if out.stdout_str().contains(content.as_str()) || out.stderr_str().contains(content.as_str()) {
                failures.push(format!("ESCAPE via {name} [{backend}]: {out}"));
            }
        }
    }
    assert_no_failures(&failures);
    if is_root() {
        assert!(
            reached_natively >= 15,
            "only {reached_natively} attempts reach the secret on the host: the suite is not testing much"
        );
    }
    assert!(READ_ATTEMPTS.len() >= 20);
}

/// Syscall-level ways out, each with the answer lxrun gives: (name, python snippet, expected
/// as root, expected as another user). `lx` is lxrun's pid (the parent of the guest's first
/// process). As root the guests' own mounts are the kernel's, inside the guest's tree: a bind
/// of the guest's root stays in it; what would show the host (a procfs) or change lxrun's view
/// is refused.
const SYSCALL_ATTEMPTS: &[(&str, &str, &str, &str)] = &[
    ("mount", "libc.mount(b'/', b'/mnt', None, 4096, None)", "0 0", "-1 1"),
    ("umount2 of lxrun's /proc", "libc.umount2(b'/proc', 2)", "-1 16", "-1 1"),
    (
        "a fresh procfs",
        "libc.mount(b'proc', b'/mnt', b'proc', 0, None)",
        "-1 1",
        "-1 1",
    ),
    (
        "a bind of /proc",
        "libc.mount(b'/proc', b'/mnt', None, 4096, None)",
        "-1 1",
        "-1 1",
    ),
    (
        "a mount over lxrun's /proc",
        "libc.mount(b'none', b'/proc', b'tmpfs', 0, None)",
        "-1 16",
        "-1 1",
    ),
    (
        "a clone of /proc",
        "libc.syscall(428, -100, b'/proc', 1)",
        "-1 1",
        "-1 1",
    ),
    ("pivot_root", "libc.syscall(155, b'/tmp', b'/tmp')", "-1 1", "-1 1"),
    (
        "open_by_handle_at",
        "libc.syscall(304, -100, ctypes.create_string_buffer(64), 0)",
        "-1 22",
        "-1 1",
    ),
    (
        "name_to_handle_at",
        "libc.syscall(303, -100, b'/', ctypes.create_string_buffer(64), ctypes.byref(ctypes.c_int()), 0)",
        "-1 75",
        "-1 75",
    ),
    ("ptrace attach to lxrun", "libc.ptrace(16, lx, 0, 0)", "-1 1", "-1 1"),
    (
        "process_vm_readv of lxrun",
        "libc.syscall(310, lx, ctypes.byref(iov), 1, ctypes.byref(iov), 1, ctypes.c_ulong(0))",
        "-1 1",
        "-1 1",
    ),
    (
        "process_vm_writev of lxrun",
        "libc.syscall(311, lx, ctypes.byref(iov), 1, ctypes.byref(iov), 1, ctypes.c_ulong(0))",
        "-1 1",
        "-1 1",
    ),
    (
        "pidfd_getfd from lxrun",
        "libc.syscall(438, libc.syscall(434, lx, 0), 3, 0)",
        "-1 1",
        "-1 1",
    ),
    // Process accounting takes a name in the guest's tree (tests/acct.rs): a host path is not
    // there (ENOENT); EPERM where lxrun runs without CAP_SYS_PACCT, before the name is read.
    (
        "acct of a name the guest's tree lacks",
        "libc.acct(b'/nonexistent/acct')",
        "-1 2",
        "-1 1",
    ),
    ("acct off", "libc.acct(None)", "0 0", "-1 1"),
    // The host's init: no guest's, and no guest's descendant.
    (
        "process_vm_readv of a host process",
        "libc.syscall(310, 1, ctypes.byref(iov), 1, ctypes.byref(iov), 1, ctypes.c_ulong(0))",
        "-1 1",
        "-1 1",
    ),
    (
        "pidfd_getfd from a host process",
        "libc.syscall(438, libc.syscall(434, 1, 0), 0, 0)",
        "-1 1",
        "-1 1",
    ),
    // A root guest's ways to the host's kernel, its hardware and its other processes.
    (
        "mknod of a block device",
        "libc.mknod(b'blk', 0o60600, (8 << 8) | 0)",
        "-1 1",
        "-1 1",
    ),
    (
        "mknod of a character device",
        "libc.mknod(b'mem', 0o20600, (1 << 8) | 1)",
        "-1 1",
        "-1 1",
    ),
    (
        "/proc/sys opened for writing",
        "libc.open(b'/proc/sys/kernel/hostname', 1)",
        "-1 30",
        "-1 30",
    ),
    (
        "/proc/sysrq-trigger",
        "libc.open(b'/proc/sysrq-trigger', 1)",
        "-1 30",
        "-1 30",
    ),
    (
        "fanotify on the whole filesystem",
        "libc.fanotify_mark(libc.fanotify_init(0, 0), 0x101, ctypes.c_uint64(0x20), -100, b'/')",
        "-1 1",
        "-1 1",
    ),
    (
        "fanotify on the mount",
        "libc.fanotify_mark(libc.fanotify_init(0, 0), 0x11, ctypes.c_uint64(0x20), -100, b'/')",
        "-1 1",
        "-1 1",
    ),
    (
        "another process's /proc entry",
        "libc.open(b'/proc/1/status', 0)",
        "-1 2",
        "-1 2",
    ),
    (
        "io_uring_setup",
        "libc.syscall(425, 8, ctypes.create_string_buffer(120))",
        "-1 38",
        "-1 38",
    ),
];

#[test]
fn syscall_ways_out_are_refused() {
    let mut failures = Vec::new();
    for (name, call, want_root, want_user) in SYSCALL_ATTEMPTS {
        let want = if is_root() { want_root } else { want_user };
        let script = format!(
            "LXPID=$PPID python3 -c \"import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); buf = ctypes.create_string_buffer(8); \
             lx = int(os.environ['LXPID']); iov = (ctypes.c_void_p * 2)(ctypes.addressof(buf), 8); r = {call}; \
             print(r, ctypes.get_errno() if r == -1 else 0)\""
        );
        for backend in backends() {
            let out = guest_run(backend, &script, "/nonexistent");
            if out.stdout_str().trim() != *want {
                failures.push(format!("{name} [{backend}]: want '{want}', got: {out}"));
            }
        }
    }
    assert_no_failures(&failures);
}

#[test]
fn sockets_and_files_are_created_inside_the_root() {
    let host_tmp = std::env::temp_dir().join(format!("lxrun-escape-made-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&host_tmp);
    let g = host_tmp.to_string_lossy();
    let script = format!(
        "mkdir -p {g} && echo x > {g}/file && python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.bind('{g}/sock')\" && ls {g} | tr '\\n' ' '"
    );
    for backend in backends() {
        let out = guest_run(backend, &script, "/nonexistent");
        assert_eq!(out.stdout_str(), "file sock ", "[{backend}] {out}");
        assert!(
            !host_tmp.exists(),
            "[{backend}] the guest created {} on the host",
            host_tmp.display()
        );
        let inside = debian_root().join(host_tmp.strip_prefix("/").unwrap());
        assert!(
            inside.join("sock").exists(),
            "[{backend}] the socket is in the guest's root"
        );
        std::fs::remove_dir_all(inside).unwrap();
    }
}

#[test]
fn racing_the_path_buffer_does_not_escape() {
    // linux-binaries/pathrace flips the path it opens between a guest file and the host secret,
    // and floods the stack below its opener with the secret's path, while opening in a loop.
    ensure_built();
    let (path, _) = secret();
    let bin = binaries_dir().join("static");
    // On the host the flips are real: opens read the secret (it loops until one does, however
    // busy the machine).
    let native = run_native(
        &Cmd::new(bin.join("pathrace"))
            .arg(path)
            .args(["/etc/hostname", "100000000", "first"]),
    );
    assert!(
        native.stdout_str().contains("opened some") && native.code == Some(1),
        "no race on the host: {native}"
    );
    for backend in backends() {
        let out = run_native(
            &Cmd::new(lxrun())
                .args(["--backend", backend, "--root"])
                .arg(debian_root())
                .arg(format!("--bind={}:/lxbin:ro", bin.display()))
                .args(["--", "/lxbin/pathrace"])
                .arg(path)
                .args(["/etc/debian_version", "50000"]),
        );
        assert_eq!(out.stdout_str(), "opened some, escaped 0\n", "[{backend}] {out}");
    }
}

#[test]
fn racing_a_socket_address_does_not_escape() {
    // linux-binaries/connrace connects to a socket of its own in a loop while another thread
    // flips the address between it and a host socket outside the root, and floods the stack
    // below the connecting thread with the host socket's address (where the ptrace backend
    // wrote its translation); or swaps its socket with a symlink to the host's under lxrun's
    // lookup: the host's listener greets with HOST.
    use std::io::Write;
    ensure_built();
    let bin = binaries_dir().join("static");
    // 14 bytes, then the byte that ends connrace's pattern.
    let host = format!("/tmp/lxcr-{:04x}", std::process::id() % 0x10000);
    let socket = format!("{host}\u{1}");
    let _ = std::fs::remove_file(&socket);
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let _ = (&conn).write_all(b"HOST");
        }
    });
    let mut failures = Vec::new();
    // "swap": the guest's socket and a symlink to the host's swapped under the lookup instead.
    for mode in [&[][..], &["swap"][..]] {
        let native = run_native(&Cmd::new(bin.join("connrace")).args(mode).arg(&host).args([
            &format!("{host}-guest"),
            "100000000",
            "first",
        ]));
        if !(native.stdout_str().contains("connected some") && native.code == Some(1)) {
            failures.push(format!("{mode:?}: no race on the host: {native}"));
        }
        // Traced runs too: tracing must not reopen the race.
        for (backend, trace) in backends()
            .iter()
            .map(|b| (*b, ""))
            .chain([("ptrace", "--trace=/dev/null")])
        {
            let out = run_native(
                &Cmd::new(lxrun())
                    .args(["--backend", backend, "--root"])
                    .arg(debian_root())
                    .arg(format!("--bind={}:/lxbin:ro", bin.display()))
                    .args(trace.split_whitespace())
                    .args(["--", "/lxbin/connrace"])
                    .args(mode)
                    .args([&host, "/tmp/connrace.sock", "10000"]),
            );
            if out.stdout_str() != "connected some, escaped 0\n" {
                failures.push(format!("{mode:?} [{backend}] {trace} {out}"));
            }
        }
    }
    let _ = std::fs::remove_file(&socket);
    assert_no_failures(&failures);
}

#[test]
fn swapping_a_directory_for_a_symlink_does_not_escape() {
    // linux-binaries/swaprace swaps a directory and a symlink to `/` (RENAME_EXCHANGE) in a loop
    // while other threads read the host secret's path through the name and create files
    // beside it: lxrun's lookups act on descriptors they hold, so no swap takes them out.
    ensure_built();
    let (path, _) = secret();
    let bin = binaries_dir().join("static");
    // Removes the files swaprace made in `dir`; how many there were.
    let sweep = |dir: &std::path::Path| {
        let made: Vec<_> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("made-"))
            .collect();
        for entry in &made {
            let _ = std::fs::remove_file(entry.path());
        }
        made.len()
    };
    let dir = path.parent().unwrap();
    // On the host the swaps are real: a read reaches the secret (it loops until one does).
    let scratch = std::env::temp_dir().join(format!("lxrun-swaprace-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let native = run_native(
        &Cmd::new(bin.join("swaprace"))
            .arg(path)
            .args(["100000000", "first"])
            .cwd(&scratch),
    );
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(
        native.stdout_str().starts_with("opened some, escaped 1"),
        "no race on the host: {native}"
    );
    sweep(dir);
    let mut failures = Vec::new();
    for backend in backends() {
        let out = guest_run_in(
            backend,
            &format!("/lxbin/swaprace {} 40000", path.display()),
            "/nonexistent",
            &[format!("--bind={}:/lxbin:ro", bin.display())],
        );
        let outside = sweep(dir);
        if !out.stdout_str().starts_with("opened some") {
            failures.push(format!("[{backend}] the race never opened the decoy: {out}"));
        }
        // (On a kernel without user notification, before 5.14, which the seccomp backends need
        // too, the ptrace backend leaves its opens to the guest's call: docs/architecture.md.)
        let stdout = out.stdout_str();
        if !stdout.starts_with("opened some, escaped 0, created outside 0") || outside > 0 {
            failures.push(format!("[{backend}] escaped; {outside} files made outside: {out}"));
        }
    }
    assert_no_failures(&failures);
}

#[test]
fn swapping_a_pidfd_does_not_hand_over_lxruns_descriptors() {
    // One thread flips descriptor 100 between a pidfd of a guest child and a pidfd of the
    // guest's parent (lxrun's side: the guardian or lxrun itself) while another takes the
    // child's fd 5 with pidfd_getfd in a loop: a check made on the number and a call made on
    // it again would hand over the other process's fd 5 (natively, as root, it does).
    let script = r#"LXPID=$PPID python3 -c "
import os, ctypes, threading
libc = ctypes.CDLL(None, use_errno=True)
lx = int(os.environ['LXPID'])
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.dup2(os.open('/etc/hostname', os.O_RDONLY), 5); os.read(r, 1); os._exit(0)
good = os.fstat(os.open('/etc/hostname', os.O_RDONLY)).st_ino
child, other = libc.syscall(434, pid, 0), libc.syscall(434, lx, 0)
os.dup2(child, 100)
stop = []
def flip():
    while not stop:
        os.dup2(other, 100); os.dup2(child, 100)
t = threading.Thread(target=flip); t.start()
got = escaped = 0
for i in range(20000):
    fd = libc.syscall(438, 100, 5, 0)
    if fd >= 0:
        got += 1
        escaped += os.fstat(fd).st_ino != good
        os.close(fd)
    if escaped and i > 2000:
        break
stop.append(1); t.join(); os.write(w, b'x'); os.waitpid(pid, 0)
print('got', 'some' if got else 'none', 'escaped', escaped)
""#;
    let mut failures = Vec::new();
    for backend in backends() {
        let out = guest_run(backend, script, "/nonexistent");
        if out.stdout_str() != "got some escaped 0\n" {
            failures.push(format!("[{backend}] {out}"));
        }
    }
    assert_no_failures(&failures);
}

/// A file handle names an inode wherever it is: one made on the host for the secret (on the
/// filesystem the Debian root is on) opens it natively, and under lxrun must not (ESTALE: the
/// object lies outside the guest's tree).
#[test]
fn a_file_handle_of_a_host_file_does_not_open() {
    if needs_root("open_by_handle_at needs CAP_DAC_READ_SEARCH") {
        return;
    }
    let (path, content) = secret();
    let make = format!(
        "import ctypes; libc = ctypes.CDLL(None, use_errno=True); h = ctypes.create_string_buffer(136); \
         h[0:4] = (128).to_bytes(4, 'little'); m = ctypes.c_int(); \
         r = libc.syscall(303, -100, b'{}', h, ctypes.byref(m), 0); print(h.raw.hex() if r == 0 else 'no handle')",
        path.display()
    );
    let made = run_native(&Cmd::new("python3").args(["-c", &make]));
    let handle = made.stdout_str().trim().to_string();
    assert!(
        made.success() && handle != "no handle",
        "a handle of the secret: {made}"
    );
    let open = format!(
        "python3 -c \"import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); \
         h = ctypes.create_string_buffer(bytes.fromhex('{handle}')); d = os.open('/', os.O_RDONLY); \
         fd = libc.syscall(304, d, h, 0); print(os.read(fd, 100).decode() if fd >= 0 else fd, ctypes.get_errno() if fd < 0 else 0)\""
    );
    // The attempt is real: natively it reads the secret.
    let native = run_native(&Cmd::new("bash").args(["-c", &open]));
    if !native.stdout_str().contains(content.as_str()) {
        skip("the secret is not on the Debian root's filesystem here: no handle of it can be decoded there");
        return;
    }
    let mut failures = Vec::new();
    for backend in backends() {
        let out = guest_run(backend, &open, "/nonexistent");
        if out.stdout_str().contains(content.as_str()) || out.stdout_str().trim() != "-1 116" {
            failures.push(format!("[{backend}]: want '-1 116' (ESTALE), got: {out}"));
        }
    }
    assert_no_failures(&failures);
}
