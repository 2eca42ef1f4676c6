//! statmount and listmount (linux-binaries/mountids): the kernel's errnos in its order, the
//! listing (ascending, reversed, paged) and the mounts a guest makes, described with their
//! mount points in the guest's tree. Each run is compared with the same program run natively:
//! in the host's tree (a bind of the test directory onto itself makes lxrun translate the
//! calls), and in the Debian root under `chroot`; as root, and as nobody.

mod common;

use common::*;
use std::path::Path;

fn world_readable(d: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777));
}

/// In the host's tree, every variant: `native_prefix` (a private mount namespace as root, or
/// nobody) natively, `lxrun_prefix` before lxrun.
fn in_the_hosts_tree(failures: &mut Vec<String>, native_prefix: &[&str], lxrun_prefix: &[&str]) {
    ensure_built();
    for variant in VARIANTS {
        let exe = binary(variant, "mountids");
        let native_dir = TempDir::new("mountids");
        world_readable(native_dir.path());
        let native = run_native(
            &Cmd::new(native_prefix[0])
                .args(&native_prefix[1..])
                .arg(&exe)
                .arg(native_dir.path()),
        );
        let label = format!("mountids/{variant}");
        if !native.success() {
            failures.push(format!(
                "=== {label} [native]: the test program failed natively\n{native}\n"
            ));
            continue;
        }
        for backend in backends() {
            let dir = TempDir::new("mountids");
            world_readable(dir.path());
            let bind = format!("{0}:{0}", dir.path().display());
            let cmd = match lxrun_prefix.split_first() {
                Some((first, rest)) => Cmd::new(first).args(rest).arg(lxrun()),
                None => Cmd::new(lxrun()),
            };
            let lx = run_native(
                &cmd.args(["--backend", backend, "-b", &bind, "--"])
                    .arg(&exe)
                    .arg(dir.path()),
            );
            if let Err(e) = compare(&format!("{label} [{backend}]"), &native, &lx) {
                failures.push(e);
            }
        }
    }
}

/// As root (CI): the guest's own mounts listed and described; otherwise the listing only.
#[test]
fn statmount_and_listmount_in_the_hosts_tree() {
    let mut failures = Vec::new();
    if is_root() {
        in_the_hosts_tree(&mut failures, &["unshare", "-m", "--propagation", "private", "--"], &[]);
    } else {
        in_the_hosts_tree(&mut failures, &["env", "--"], &[]);
    }
    assert_no_failures(&failures);
}

/// A guest without privileges (as root the test drops both runs to nobody first).
#[test]
fn statmount_and_listmount_unprivileged() {
    let mut failures = Vec::new();
    let drop_to: &[&str] = if is_root() { &AS_NOBODY } else { &["env", "--"] };
    in_the_hosts_tree(&mut failures, drop_to, drop_to);
    assert_no_failures(&failures);
}

/// In the Debian root: `chroot` (in a private mount namespace with the root's /proc) against
/// `lxrun --root`, as root and as nobody (lxrun itself unprivileged then: no mounts of its own).
#[test]
fn statmount_and_listmount_in_a_foreign_root() {
    if needs_root("the chroot oracle") {
        return;
    }
    let mut failures = Vec::new();
    let dir = InRoot::new("mountids");
    world_readable(dir.host());
    for nobody in [false, true] {
        dir.compare_runs("mountids", nobody, &mut failures, |_, _| {});
    }
    drop(dir);
    assert_no_failures(&failures);
}
