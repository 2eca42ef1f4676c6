//! The mount table from the command line: --bind (read-write and read-only, files and
//! directories), --tmpfs, glue directories, -w and --no-default-mounts, in the Debian test root.
//! Binds are checked against chroot with the same bind mounts made for real.

mod common;

use common::*;
use std::path::PathBuf;

fn lx_on(backend: &str, args: &[&str], script: &str) -> Outcome {
    run_native(
        &Cmd::new(lxrun())
            .args(["--backend", backend, "--root"])
            .arg(debian_root())
            .args(args)
            .args(["--", "/bin/bash", "-c", script]),
    )
}

/// Runs on every backend; they must agree, and the common outcome is returned.
fn lx(args: &[&str], script: &str) -> Outcome {
    let mut outs = backends().into_iter().map(|b| (b, lx_on(b, args, script)));
    let (first_backend, first) = outs.next().expect("a backend");
    for (b, o) in outs {
        assert_eq!(
            (o.stdout_str(), o.status()),
            (first.stdout_str(), first.status()),
            "{b} and {first_backend} disagree: {o}"
        );
    }
    first
}

fn host_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lxrun-mounts-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("f"), "from the host\n").unwrap();
    d
}

#[test]
fn binds_match_real_bind_mounts() {
    if needs_root("the chroot oracle") {
        return;
    }
    let rw = host_dir("rw");
    let ro = host_dir("ro");
    let script = "cat /mnt/f /opt/f; echo new > /mnt/g && cat /mnt/g; echo no > /opt/g; echo status $?; ls /opt; \
                  cat /etc/hostname-bind; stat -c %F /mnt /etc/hostname-bind";
    let mounts = format!(
        "touch '{{r}}/etc/hostname-bind' && mount --bind {rw} '{{r}}/mnt' && mount --bind {ro} '{{r}}/opt' && \
         mount -o remount,bind,ro '{{r}}/opt' && mount --bind /etc/hostname '{{r}}/etc/hostname-bind'",
        rw = rw.display(),
        ro = ro.display()
    );
    let native = run_native(&chroot_oracle(debian_root(), &mounts, script));
    std::fs::remove_file(rw.join("g")).unwrap();
    let binds = [
        format!("--bind={}:/mnt", rw.display()),
        format!("--bind={}:/opt:ro", ro.display()),
        "--bind=/etc/hostname:/etc/hostname-bind".to_string(),
    ];
    let args: Vec<&str> = binds.iter().map(String::as_str).collect();
    assert!(native.success(), "oracle: {native}");
    for backend in backends() {
        let lxr = lx_on(backend, &args, script);
        assert_same(&native, &lxr);
        assert_eq!(
            std::fs::read_to_string(rw.join("g")).unwrap(),
            "new\n",
            "[{backend}] the write reached the host"
        );
        std::fs::remove_file(rw.join("g")).unwrap();
        assert!(!ro.join("g").exists());
    }
}

#[test]
fn tmpfs_is_private_and_empty() {
    let out = lx(
        &["--tmpfs", "/scratch"],
        "ls -A /scratch | wc -l; echo x > /scratch/f && cat /scratch/f && ls /scratch",
    );
    assert_eq!(out.stdout_str(), "0\nx\nf\n", "{out}");
    assert!(
        !debian_root().join("scratch").exists(),
        "nothing was written into the guest's root"
    );
}

#[test]
fn glue_directories_lead_to_deep_mount_points() {
    let d = host_dir("glue");
    let out = lx(
        &[
            &format!("--bind={}:/lxglue/deep/data", d.display()),
            &format!("--bind={}:/lxglue/other", d.display()),
        ],
        "test -d /lxglue && test -d /lxglue/deep && cat /lxglue/deep/data/f && cd /lxglue/deep/data/../.. && pwd && ls /lxglue /lxglue/deep && cd deep && readlink /proc/self/cwd",
    );
    // Listed, the made-up directories hold what leads on, as a real mount's parents would.
    assert_eq!(
        out.stdout_str(),
        "from the host\n/lxglue\n/lxglue:\ndeep\nother\n\n/lxglue/deep:\ndata\n/lxglue/deep\n",
        "{out}"
    );
    assert!(
        !debian_root().join("lxglue").exists(),
        "the glue was not written into the guest's root"
    );
}

#[test]
fn working_directory() {
    assert_eq!(lx(&["-w", "/etc"], "pwd").stdout_str(), "/etc\n");
    assert_eq!(lx(&["-w", "/usr/share/../lib"], "pwd").stdout_str(), "/usr/lib\n");
    let bad = lx(&["-w", "/no/such/dir"], "pwd");
    assert_eq!(bad.code, Some(125), "{bad}");
    assert!(bad.stderr_str().contains("--cwd"), "{bad}");
}

#[test]
fn default_mounts_can_be_left_out() {
    assert_eq!(lx(&[], "cat /proc/self/comm").stdout_str(), "cat\n");
    let out = lx(&["--no-default-mounts"], "cat /proc/self/comm 2>/dev/null; echo $?");
    assert_eq!(out.stdout_str(), "1\n", "{out}");
}

#[test]
fn descriptor_writes_to_a_read_only_bind_are_refused() {
    // Every call that changes a file through a descriptor (or AT_EMPTY_PATH, or a NULL path),
    // on an O_RDONLY and an O_PATH descriptor of a file under a read-only bind, against a real
    // read-only bind mount under chroot; the same calls on a read-write bind succeed.
    if needs_root("the chroot oracle") {
        return;
    }
    let rw = host_dir("fdrw");
    let ro = host_dir("fdro");
    let script = r#"python3 - <<'PY'
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def e(r):
    return 0 if r >= 0 else ctypes.get_errno()
for d in ('/mnt', '/opt'):
    for how in (os.O_RDONLY, os.O_PATH):
        fd = os.open(d + '/f', how)
        out = [
            e(libc.fchmod(fd, 0o600)),
            e(libc.fchown(fd, 1, 1)),
            e(libc.fsetxattr(fd, b'user.x', b'1', 1, 0)),
            e(libc.fremovexattr(fd, b'user.x')),
            e(libc.syscall(280, fd, None, None, 0)),
            e(libc.syscall(280, fd, b'', None, 0x1000)),
            e(libc.syscall(260, fd, b'', 2, 2, 0x1000)),
            e(libc.syscall(452, fd, b'', 0o640, 0x1000)),
            e(libc.syscall(265, fd, b'', -100, b'/tmp/lnk-%d' % how, 0x1000)),
            e(libc.ftruncate(fd, 0)),
            e(libc.syscall(285, fd, 0, 0, 10)),
        ]
        print(d, how, out)
        os.close(fd)
PY
stat -c '%a %u %g %s' /mnt/f /opt/f; cat /opt/f; ls /tmp/lnk-* 2>/dev/null | wc -l; rm -f /tmp/lnk-*"#;
    let mounts = format!(
        "mount --bind {rw} '{{r}}/mnt' && mount --bind {ro} '{{r}}/opt' && mount -o remount,bind,ro '{{r}}/opt'",
        rw = rw.display(),
        ro = ro.display()
    );
    let reset = || {
        for d in [&rw, &ro] {
            std::fs::write(d.join("f"), "from the host\n").unwrap();
            std::os::unix::fs::chown(d.join("f"), Some(0), Some(0)).unwrap();
            std::fs::set_permissions(d.join("f"), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        }
    };
    reset();
    let native = run_native(&chroot_oracle(debian_root(), &mounts, script));
    assert!(native.success(), "oracle: {native}");
    let binds = [
        format!("--bind={}:/mnt", rw.display()),
        format!("--bind={}:/opt:ro", ro.display()),
    ];
    let args: Vec<&str> = binds.iter().map(String::as_str).collect();
    for backend in backends() {
        reset();
        let lxr = lx_on(backend, &args, script);
        assert_same(&native, &lxr);
        let meta = std::fs::metadata(ro.join("f")).unwrap();
        assert_eq!(
            (
                std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777,
                std::os::unix::fs::MetadataExt::uid(&meta)
            ),
            (0o644, 0),
            "[{backend}] the read-only host file changed"
        );
    }
}

/// /proc lists only the guest's processes, as a pid namespace of its own would: every pid
/// listed is one the guest may look at (lxrun answers ENOENT for any other), its own among
/// them. In the default backend (systrap mode); the ptrace-assisted modes still list the host's
/// pids (issue 17).
#[test]
fn proc_lists_only_the_guests_processes() {
    let script = r#"sleep 5 & python3 -c "
import os
pids = [p for p in os.listdir('/proc') if p.isdigit()]
print('self listed', str(os.getpid()) in pids, 'parent listed', str(os.getppid()) in pids)
print('unreachable', [p for p in pids if not os.path.exists('/proc/%s/stat' % p)])
print('few', len(pids) < 10)
"; kill %1"#;
    let out = lx_on("seccomp", &[], script);
    assert_eq!(
        out.stdout_str(),
        "self listed True parent listed True\nunreachable []\nfew True\n",
        "{out}"
    );
}
