//! The guest's own mounts (linux-binaries/mounts, LTP-style mount and umount2 cases): made by
//! the kernel in lxrun's private mount namespace where lxrun runs as root, refused with EPERM
//! where it does not, as Linux refuses an unprivileged user. Each run is compared with the same
//! program run natively: as root in a private mount namespace of its own (`unshare -m`), in the
//! host's tree and under `chroot` into the Debian root; as nobody without one.

mod common;

use common::*;
use std::ffi::OsString;
use std::path::Path;

/// The lines of this process's mountinfo that name `dir`: a guest's mount must never reach the
/// host's namespace.
fn host_mounts_under(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let needle = dir.display().to_string();
    info.lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

fn run_everywhere(failures: &mut Vec<String>, native_prefix: &[&str], lxrun_prefix: &[&str], world_readable: bool) {
    ensure_built();
    for variant in VARIANTS {
        let exe = binary(variant, "mounts");
        let fresh = || {
            let d = TempDir::new("mounts");
            if world_readable {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777));
            }
            d
        };
        let command = |prefix: &[&str], dir: &Path| {
            let mut args: Vec<OsString> = prefix[1..].iter().map(OsString::from).collect();
            args.push(exe.clone().into());
            args.push(dir.into());
            Cmd::new(prefix[0]).args(args)
        };
        let native_dir = fresh();
        let native = run_native(&command(native_prefix, native_dir.path()));
        let label = format!("mounts/{variant}");
        if !native.success() || !String::from_utf8_lossy(&native.stdout).contains("nobody's status") {
            failures.push(format!(
                "=== {label} [native]: the test program failed natively\n{native}\n"
            ));
            continue;
        }
        for backend in backends() {
            let dir = fresh();
            let mut prefix: Vec<&str> = lxrun_prefix.to_vec();
            let lx_path = lxrun().to_string_lossy().into_owned();
            prefix.extend([lx_path.as_str(), "--backend", backend, "--"]);
            let lx = run_native(&command(&prefix, dir.path()));
            if let Err(e) = compare(&format!("{label} [{backend}]"), &native, &lx) {
                failures.push(e);
            }
            let leaked = host_mounts_under(dir.path());
            if !leaked.is_empty() {
                failures.push(format!(
                    "{label} [{backend}]: the guest's mounts reached the host: {leaked:?}"
                ));
            }
        }
    }
}

/// As root (CI): every mount call of the program acts as the kernel's, on every backend; as
/// another user, the run is the unprivileged one below.
#[test]
fn the_guests_mounts_are_the_kernels() {
    let mut failures = Vec::new();
    if is_root() {
        run_everywhere(
            &mut failures,
            &["unshare", "-m", "--propagation", "private", "--"],
            &[],
            false,
        );
    } else {
        run_everywhere(&mut failures, &["env", "--"], &[], true);
    }
    assert_no_failures(&failures);
}

/// Without CAP_SYS_ADMIN every call is EPERM (after the target's lookup, as Linux orders it):
/// as root the test drops both runs to nobody first.
#[test]
fn an_unprivileged_guest_is_refused_as_linux_refuses() {
    let mut failures = Vec::new();
    let drop_to: &[&str] = if is_root() { &AS_NOBODY } else { &["env", "--"] };
    run_everywhere(&mut failures, drop_to, drop_to, true);
    assert_no_failures(&failures);
}

/// In the Debian root: the same program under `chroot` (in a private mount namespace with the
/// root's /proc) and under `lxrun --root`, its mounts shown in the guest's /proc/self/mounts
/// with the guest's paths.
#[test]
fn the_guests_mounts_in_a_foreign_root() {
    if needs_root("the chroot oracle") {
        return;
    }
    let mut failures = Vec::new();
    let dir = InRoot::new("mounts");
    dir.compare_runs("mounts", false, &mut failures, |backend, failures| {
        let leaked = host_mounts_under(dir.host());
        if !leaked.is_empty() {
            failures.push(format!("[{backend}]: the guest's mounts reached the host: {leaked:?}"));
        }
    });
    drop(dir);
    assert_no_failures(&failures);
}

/// A block-device filesystem, as LTP's setup makes one: ext2 on a loop device, mounted,
/// written, remounted read-only (EROFS), listed and unmounted, against `unshare -m`.
#[test]
fn an_ext2_image_on_a_loop_device_mounts_as_natively() {
    if needs_root("attaching a loop device") {
        return;
    }
    if !Path::new("/dev/loop-control").exists() {
        skip("this kernel has no loop devices (/dev/loop-control is missing)");
        return;
    }
    let dir = TempDir::new("ext2");
    let image = dir.path().join("fs.img");
    let made = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "truncate -s 8M '{0}' && mkfs.ext2 -q -F '{0}'",
            image.display()
        ))
        .status()
        .is_ok_and(|s| s.success());
    assert!(made, "truncate and mkfs.ext2 (e2fsprogs) make the image");
    let attach = std::process::Command::new("losetup")
        .args(["-f", "--show"])
        .arg(&image)
        .output()
        .expect("losetup (util-linux) runs");
    assert!(
        attach.status.success(),
        "losetup -f: {}",
        String::from_utf8_lossy(&attach.stderr)
    );
    let dev = String::from_utf8_lossy(&attach.stdout).trim().to_string();
    let script = |point: &Path| {
        format!(
            "d='{p}'; mkdir -p \"$d\" && mount -t ext2 {dev} \"$d\" && echo written > \"$d\"/f && cat \"$d\"/f \
             && mount -o remount,ro \"$d\"; touch \"$d\"/g 2>/dev/null; echo touch=$?; \
             grep \" $d \" /proc/self/mounts | cut -d' ' -f1,3,4; umount \"$d\"; echo umount=$?; \
             grep -c \" $d \" /proc/self/mounts",
            p = point.display()
        )
    };
    let mut failures = Vec::new();
    let point = dir.path().join("native");
    let native =
        run_native(&Cmd::new("unshare").args(["-m", "--propagation", "private", "--", "sh", "-c", &script(&point)]));
    if !native.success() && native.code != Some(1) {
        failures.push(format!("the native run failed: {native}"));
    }
    for backend in backends() {
        let point = dir.path().join(backend);
        let lx = run_native(&Cmd::new(lxrun()).args(["--backend", backend, "--", "sh", "-c", &script(&point)]));
        if let Err(e) = compare(&format!("ext2 on {dev} [{backend}]"), &native, &lx) {
            failures.push(e);
        }
    }
    let _ = std::process::Command::new("losetup").args(["-d", &dev]).status();
    assert_no_failures(&failures);
}
