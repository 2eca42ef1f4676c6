//! acct(2) (linux-binaries/acct): accounting switched on to a file the guest names and off
//! again, the kernel's errnos for names that are no regular file, EPERM without
//! CAP_SYS_PACCT. Compared with native runs: in the host's tree (plainly, and with a bind that
//! makes lxrun translate paths), in the Debian root under `chroot`, and with lxrun itself
//! unprivileged. Accounting is one switch for the whole pid namespace: the runs take turns.

mod common;

use common::*;
use std::path::Path;
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn world_writable(d: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777));
}

fn in_the_hosts_tree(failures: &mut Vec<String>, prefix: &[&str]) {
    ensure_built();
    let with_prefix = |cmd: Cmd| match prefix.split_first() {
        Some((first, rest)) => Cmd::new(first).args(rest).arg(cmd.program).args(cmd.args),
        None => cmd,
    };
    for variant in VARIANTS {
        let exe = binary(variant, "acct");
        let native_dir = TempDir::new("acct");
        world_writable(native_dir.path());
        let native = run_native(&with_prefix(Cmd::new(&exe).arg(native_dir.path())));
        let label = format!("acct/{variant}");
        if !native.success() {
            failures.push(format!(
                "=== {label} [native]: the test program failed natively\n{native}\n"
            ));
            continue;
        }
        for backend in backends() {
            for bind in [false, true] {
                let dir = TempDir::new("acct");
                world_writable(dir.path());
                let mut cmd = Cmd::new(lxrun()).args(["--backend", backend]);
                if bind {
                    cmd = cmd.arg("-b").arg(format!("{0}:{0}", dir.path().display()));
                }
                let lx = run_native(&with_prefix(cmd.arg("--").arg(&exe).arg(dir.path())));
                if let Err(e) = compare(
                    &format!("{label} [{backend}{}]", if bind { ", bind" } else { "" }),
                    &native,
                    &lx,
                ) {
                    failures.push(e);
                }
            }
        }
    }
}

#[test]
fn acct_in_the_hosts_tree() {
    let _turn = ONE_AT_A_TIME.lock();
    let mut failures = Vec::new();
    in_the_hosts_tree(&mut failures, &[]);
    assert_no_failures(&failures);
}

/// Without CAP_SYS_PACCT everything is EPERM: as root the test drops both runs to nobody.
#[test]
fn acct_unprivileged() {
    let _turn = ONE_AT_A_TIME.lock();
    let mut failures = Vec::new();
    let prefix: &[&str] = if is_root() { &AS_NOBODY } else { &[] };
    in_the_hosts_tree(&mut failures, prefix);
    assert_no_failures(&failures);
}

/// In the Debian root: the file named in the guest's tree.
#[test]
fn acct_in_a_foreign_root() {
    if needs_root("the chroot oracle") {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock();
    let mut failures = Vec::new();
    let dir = InRoot::new("acct");
    dir.compare_runs("acct", false, &mut failures, |_, _| {});
    drop(dir);
    assert_no_failures(&failures);
}
