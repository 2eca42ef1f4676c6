//! The fake root (`-0`): an unprivileged user (nobody) runs as root inside lxrun, and the
//! owners, modes and devices its programs set are kept on the files. Oracles: the kernel's own
//! credential rules (the same script run as real root), and dpkg installing the same package
//! as real root under chroot (on an overlay of the Debian test root).

mod common;

use common::*;

const NOBODY: &str = "65534";

/// `cmd` as nobody (no groups), from /.
fn as_nobody(cmd: Cmd) -> Cmd {
    let mut c = Cmd::new("setpriv").args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups", "--"]);
    c.args.push(cmd.program);
    c.args.extend(cmd.args);
    c.env = cmd.env;
    c.timeout = cmd.timeout;
    c.cwd("/")
}

fn lxrun_as_nobody(backend: &str, options: &[&str], program: &str, args: &[&str]) -> Outcome {
    let cmd = Cmd::new(lxrun())
        .args(["--backend", backend])
        .args(options)
        .arg("--")
        .arg(program)
        .args(args);
    run_native(&as_nobody(cmd))
}

/// A sequence of id changes, each branch in a child of its own, printing what the process
/// then is: its ids, its groups and its capability sets.
const IDS_SCRIPT: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def show(tag):
    st = {}
    for line in open('/proc/self/status'):
        k, _, v = line.partition(':')
        if k in ('Uid', 'Gid', 'CapInh', 'CapPrm', 'CapEff', 'CapAmb', 'NoNewPrivs'):
            st[k] = ' '.join(v.split())
    print(tag, os.getresuid(), os.getresgid(), sorted(os.getgroups()), [st[k] for k in sorted(st)])
def branch(tag, f):
    pid = os.fork()
    if pid == 0:
        try:
            f()
            show(tag)
        except OSError as e:
            print(tag, 'errno', e.errno)
        sys.stdout.flush()
        os._exit(0)
    os.waitpid(pid, 0)
def prctl(*a):
    if libc.prctl(*a) < 0:
        raise OSError(ctypes.get_errno(), 'prctl')
    return libc.prctl(*a)
show('start')
branch('drop', lambda: (os.setgroups([1, 2, 3]), os.setresgid(5, 6, 7), os.setresuid(10, 11, 12)))
branch('drop-then-setuid0', lambda: (os.setresuid(10, 10, 10), os.setuid(0)))
branch('euid-only', lambda: (os.setresuid(10, 20, 0)))
branch('euid-back', lambda: (os.setresuid(10, 20, 0), os.seteuid(0)))
branch('setreuid', lambda: (os.setreuid(-1, 1000), os.setreuid(-1, 0)))
branch('setreuid-saved', lambda: (os.setreuid(1000, 1000), os.seteuid(0)))
branch('setfsuid', lambda: (libc.setfsuid(1234),))
branch('setfsuid-back', lambda: (libc.setfsuid(1234), libc.setfsuid(0)))
branch('keepcaps', lambda: (prctl(8, 1, 0, 0, 0), os.setresuid(7, 7, 7)))
branch('keepcaps-read', lambda: (prctl(8, 1, 0, 0, 0), print('keep', prctl(7, 0, 0, 0, 0)), os.setresuid(7, 7, 7)))
branch('bounding', lambda: (prctl(24, 21, 0, 0, 0), print('bset', prctl(23, 21, 0, 0, 0), prctl(23, 0, 0, 0, 0))))
branch('nnp', lambda: (prctl(38, 1, 0, 0, 0), print('nnp', prctl(39, 0, 0, 0, 0))))
branch('user-setgroups', lambda: (os.setresuid(9, 9, 9), os.setgroups([4])))
branch('user-setgid', lambda: (os.setresgid(3, 3, 3), os.setresuid(9, 9, 9), os.setgid(3), os.setgid(0)))
branch('setuid-as-root', lambda: (os.setgid(100), os.setuid(100), os.setuid(0)))
"#;

#[test]
fn fake_ids_follow_the_kernels_rules() {
    if needs_root("the oracle runs the script as real root") {
        return;
    }
    let native = run_native(&Cmd::new("python3").args(["-c", IDS_SCRIPT]).cwd("/"));
    assert!(native.success(), "the native oracle failed: {native}");
    for backend in backends() {
        let lx = lxrun_as_nobody(backend, &["-0"], "python3", &["-c", IDS_SCRIPT]);
        assert!(lx.success(), "[{backend}] {lx}");
        assert_eq!(
            lx.stdout_str(),
            native.stdout_str(),
            "[{backend}] ids differ from the kernel's:\n{lx}"
        );
    }
}

#[test]
fn without_a_fake_root_nothing_changes() {
    if needs_root("become nobody (setpriv)") {
        return;
    }
    let script = "import os\nprint(os.getresuid(), os.getgroups())\ntry:\n    os.chown('/etc/passwd', 65534, 65534)\nexcept OSError as e:\n    print('chown', e.errno)\ntry:\n    os.setuid(0)\nexcept OSError as e:\n    print('setuid', e.errno)\nprint(os.stat('/etc/passwd').st_uid)\n";
    let native = run_native(&as_nobody(Cmd::new("python3").args(["-c", script])));
    assert!(native.stdout_str().contains("chown 1"), "{native}");
    for backend in backends() {
        let lx = lxrun_as_nobody(backend, &[], "python3", &["-c", script]);
        assert_eq!(lx.stdout_str(), native.stdout_str(), "[{backend}] {lx}");
    }
}

/// A directory nobody owns with the Debian root unpacked in it by `tar -p` under the fake
/// root: the owners, modes and devices of the tarball recorded as xattrs. The tarball is
/// root's `tar c` of the test root (its /tmp left out), piped, never stored.
fn unpacked_for_nobody(tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    run_native(&Cmd::new("chmod").args(["755"]).arg(dir.path()));
    run_native(&Cmd::new("chown").args([NOBODY]).arg(dir.path()));
    let script = format!(
        "set -o pipefail; tar -C '{root}' --exclude=./tmp/* -cf - . | setpriv --reuid {n} --regid {n} --clear-groups -- '{lxrun}' --backend seccomp -0 -- tar --numeric-owner -xpf - -C '{dir}'",
        root = debian_root().display(),
        n = NOBODY,
        lxrun = lxrun().display(),
        dir = dir.path().display(),
    );
    let out = run_native(&Cmd::new("/bin/bash").args(["-c", &script]).cwd("/"));
    assert!(out.success(), "unpacking the root as nobody under -0: {out}");
    dir
}

/// Builds a package whose files need root (set-user-id, another owner, a device), installs it
/// with dpkg and shows what it made, then what the users it names can do.
const DPKG_SCRIPT: &str = r#"
set -e
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cd /tmp && rm -rf pkg && mkdir -p pkg/DEBIAN pkg/usr/bin pkg/var/lib/lxdemo
printf 'Package: lxdemo\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: demo\n' > pkg/DEBIAN/control
cat > pkg/DEBIAN/postinst <<'EOF'
#!/bin/sh
chown daemon:daemon /var/lib/lxdemo
chmod 0750 /var/lib/lxdemo
mknod /var/lib/lxdemo/null c 1 3
ln -s /usr/bin/lxdemo /var/lib/lxdemo/link
install -o bin -g mail -m 2751 /dev/null /var/lib/lxdemo/installed
EOF
chmod 755 pkg/DEBIAN/postinst
printf '#!/bin/sh\necho lxdemo\n' > pkg/usr/bin/lxdemo
chmod 4755 pkg/usr/bin/lxdemo
dpkg-deb --root-owner-group --build pkg /tmp/lxdemo.deb >/dev/null
dpkg -i /tmp/lxdemo.deb >/dev/null
"#;

/// What the guest sees of the files dpkg and the users made, and what those users can do.
const SHOW_SCRIPT: &str = r#"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
for f in /usr/bin/lxdemo /var/lib/lxdemo /var/lib/lxdemo/null /var/lib/lxdemo/installed /usr/bin/passwd /etc/shadow /var/log/wtmp; do
    stat -c '%n %U %G %A %F %t,%T' "$f"
done
dpkg --verify && echo verified
id
su -s /bin/sh daemon -c 'id; cat /etc/shadow 2>&1 | head -1; ls /var/lib/lxdemo >/dev/null && echo daemon-lists; touch /tmp/by-daemon; stat -c "%U %G %a" /tmp/by-daemon; rm /tmp/by-daemon'
runuser -u nobody -- sh -c 'id; ls /var/lib/lxdemo 2>&1 | head -1'
setpriv --reuid=1 --regid=1 --clear-groups sh -c 'id; grep CapEff /proc/self/status'
echo x > /var/lib/lxdemo/null && head -c 3 /var/lib/lxdemo/null | wc -c
mkdir -p /tmp/into && cp /etc/hostname /tmp/into/ && stat -c '%U %G %a' /tmp/into/hostname && rm -r /tmp/into
echo root > /tmp/by-root && chmod 666 /tmp/by-root
su -s /bin/sh daemon -c 'cat /root/.bashrc >/dev/null 2>&1 || echo no search in /root; rm -f /etc/motd 2>&1 | head -c 40; echo; rm -f /tmp/by-root 2>&1 | head -c 40; echo; mkdir /etc/x 2>&1 | head -c 30; echo; echo daemon >> /tmp/by-root; cat /tmp/by-root'
rm /tmp/by-root
"#;

#[test]
fn an_unprivileged_user_installs_a_package_as_dpkg_does_as_root() {
    if needs_root("the chroot oracle and becoming nobody") {
        return;
    }
    // The oracle: real root, under chroot, on an overlay of the test root (left unchanged).
    let upper = TempDir::new("fake-root-overlay");
    let mounts = format!(
        "mkdir -p {u}/up {u}/work {u}/merged && mount -t overlay overlay -o lowerdir='{{r}}',upperdir={u}/up,workdir={u}/work {u}/merged && mount -t proc proc {u}/merged/proc && mount --rbind /dev {u}/merged/dev",
        u = upper.path().display()
    );
    let merged = upper.path().join("merged");
    let setup = format!(
        "{} && exec /usr/sbin/chroot {} /bin/bash -c \"$0\"",
        mounts.replace("{r}", &debian_root().display().to_string()),
        merged.display()
    );
    let script = format!("{DPKG_SCRIPT}\n{SHOW_SCRIPT}");
    let native = run_native(
        &Cmd::new("unshare")
            .args(["-m", "--propagation", "private", "--", "/bin/sh", "-c", &setup, &script])
            .env("HOME", "/root"),
    );
    assert!(native.success(), "the chroot oracle failed: {native}");

    let root = unpacked_for_nobody("fake-root-dpkg");
    let dir = root.path().to_string_lossy().into_owned();
    let lx = lxrun_as_nobody("seccomp", &["-0", "--root", &dir], "/bin/bash", &["-c", &script]);
    assert_eq!(
        lx.stdout_str(),
        native.stdout_str(),
        "dpkg under -0 as nobody differs from root under chroot:\n{lx}"
    );
    // A second run reads what the first recorded, on every backend.
    for backend in backends() {
        let again = lxrun_as_nobody(backend, &["-0", "--root", &dir], "/bin/bash", &["-c", SHOW_SCRIPT]);
        let want: String = native
            .stdout_str()
            .lines()
            .skip_while(|l| !l.starts_with("/usr/bin/lxdemo "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            again.stdout_str(),
            want,
            "[{backend}] the second run does not see the first's records:\n{again}"
        );
    }
    // On the host, all of it is nobody's: nothing was given away for real.
    let host = std::fs::metadata(root.path().join("var/lib/lxdemo/installed")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&host), 65534);
}

#[test]
fn a_killed_install_is_finished_by_dpkg_configure() {
    if needs_root("become nobody (setpriv)") {
        return;
    }
    let root = unpacked_for_nobody("fake-root-kill");
    let dir = root.path().to_string_lossy().into_owned();
    // The package's postinst records owners, then waits (on its first run only) until killed.
    let build = r#"
set -e
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cd /tmp && rm -rf pkg && mkdir -p pkg/DEBIAN pkg/srv/slow
printf 'Package: lxslow\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: slow\n' > pkg/DEBIAN/control
printf '#!/bin/sh\nchown -R daemon:mail /srv/slow\nif [ ! -e /srv/slow/again ]; then touch /srv/slow/again /srv/slow/started; sleep 60; fi\n' > pkg/DEBIAN/postinst
chmod 755 pkg/DEBIAN/postinst
for i in 1 2 3; do echo $i > pkg/srv/slow/f$i; done
dpkg-deb --root-owner-group --build pkg /tmp/lxslow.deb >/dev/null
"#;
    let out = lxrun_as_nobody("seccomp", &["-0", "--root", &dir], "/bin/sh", &["-c", build]);
    assert!(out.success(), "{out}");
    let mut install = std::process::Command::new("setpriv")
        .args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups", "--"])
        .arg(lxrun())
        .args(["-0", "--root", &dir, "--", "/bin/sh", "-c"])
        .arg("PATH=/usr/sbin:/usr/bin:/sbin:/bin exec dpkg -i /tmp/lxslow.deb")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = root.path().join("srv/slow/started");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !started.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(started.exists(), "the postinst never started");
    // SAFETY: a signal to the child we spawned.
    unsafe { libc::kill(install.id() as i32, libc::SIGKILL) };
    let _ = install.wait();
    let finish = "export PATH=/usr/sbin:/usr/bin:/sbin:/bin; dpkg -s lxslow | grep Status; dpkg --configure -a >/dev/null; dpkg -s lxslow | grep Status; stat -c '%n %U %G' /srv/slow/f1 /srv/slow/f3; dpkg --verify lxslow && echo verified";
    let out = lxrun_as_nobody("seccomp", &["-0", "--root", &dir], "/bin/sh", &["-c", finish]);
    assert_eq!(
        out.stdout_str(),
        "Status: install ok half-configured\nStatus: install ok installed\n/srv/slow/f1 daemon mail\n/srv/slow/f3 daemon mail\nverified\n",
        "{out}"
    );
}

/// The mirror the Debian test root came from (its apt source, or LXRUN_DEBIAN_MIRROR), if it
/// answers.
fn reachable_mirror() -> Option<String> {
    let from_root = || {
        let list = std::fs::read_to_string(debian_root().join("etc/apt/sources.list")).ok()?;
        let line = list.lines().find(|l| l.starts_with("deb "))?;
        Some(line.split_whitespace().nth(1)?.to_string())
    };
    let mirror = std::env::var("LXRUN_DEBIAN_MIRROR").ok().or_else(from_root)?;
    let probe = run_native(
        &Cmd::new("curl")
            .args(["-sfI", "--max-time", "10"])
            .arg(format!("{mirror}/dists/trixie/Release")),
    );
    probe.success().then_some(mirror)
}

#[test]
fn rootfs_create_builds_a_debian_root_an_unprivileged_user_installs_packages_in() {
    if needs_root("become nobody (setpriv)") {
        return;
    }
    if find_in_path("debootstrap").is_none() {
        skip("debootstrap is not installed (tests/setup.sh installs it)");
        return;
    }
    let Some(mirror) = reachable_mirror() else {
        skip("the Debian mirror does not answer (no network)");
        return;
    };
    let base = TempDir::new("fake-root-rootfs");
    run_native(&Cmd::new("chmod").args(["755"]).arg(base.path()));
    run_native(&Cmd::new("chown").args([NOBODY]).arg(base.path()));
    let dir = base.path().join("trixie").to_string_lossy().into_owned();
    let mut create =
        as_nobody(Cmd::new(lxrun()).args(["rootfs", "create", "debian:trixie", &dir, "--mirror", &mirror]));
    create.timeout = std::time::Duration::from_secs(600);
    let out = run_native(&create);
    assert!(out.success(), "lxrun rootfs create as nobody: {out}");
    let script = "export PATH=/usr/sbin:/usr/bin:/sbin:/bin; apt-get update >/dev/null 2>&1; apt-get install -y hello >/dev/null 2>&1; hello; stat -c '%U %G %A' /usr/bin/passwd /etc/shadow; dpkg --verify && echo verified";
    let mut use_it = as_nobody(Cmd::new(lxrun()).args(["-0", "--root", &dir, "--", "/bin/sh", "-c", script]));
    use_it.timeout = std::time::Duration::from_secs(300);
    let out = run_native(&use_it);
    assert_eq!(
        out.stdout_str(),
        "Hello, world!\nroot root -rwsr-xr-x\nroot shadow -rw-r-----\nverified\n",
        "{out}"
    );
}
