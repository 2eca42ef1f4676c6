//! Whether this run can use the stub's in-process fast path (`lxrun_loader::abi::fast`), and
//! what the stub must know for it.

use lxrun_loader::abi::fast;
use lxrun_loader::gate::{self, GateAddrs};
use lxrun_loader::plan::FastPathConfig;
use lxrun_syscalls::filter;
use lxrun_syscalls::world::World;
use lxrun_vfs::MountKind;
use std::os::unix::fs::MetadataExt;

/// The gate the filter must know, once the world is set up for the fast path; None (with the
/// reason at -v) where it cannot be used.
pub(crate) fn prepare(world: &World) -> Option<GateAddrs> {
    let refuse = |why: &str| {
        tracing::info!("seccomp with ptrace for execve: the in-process fast path is off: {why}");
        None
    };
    let Some(gate) = gate::find(lxrun_loader::STUB).filter(filter::gate_fits) else {
        return refuse("the stub has no usable gate");
    };
    // mseal (6.10) keeps the gate's table what the filter was told; a zero length only checks.
    // SAFETY: sealing nothing has no effect.
    if unsafe { libc::syscall(462, 0usize, 0usize, 0usize) } != 0 {
        return refuse("the kernel has no mseal");
    }
    let mut names = Vec::new();
    let mut proc_dev = u64::MAX;
    // The last component of every mount point (a path naming one may lead into the mount),
    // and every directory on the way to one that the tree under it lacks (lxrun's glue: the
    // kernel would call it missing).
    let mut seen: Vec<Vec<u8>> = Vec::new();
    for m in world.vfs.mounts().mounts() {
        let mut prefix = Vec::new();
        for (i, name) in m.guest.iter().enumerate() {
            prefix.push(b'/');
            prefix.extend_from_slice(name);
            let last = i + 1 == m.guest.len();
            let glue = || std::fs::symlink_metadata(world.vfs.host_of_canonical(&prefix)).is_err();
            if seen.contains(name) || !(last || glue()) {
                continue;
            }
            seen.push(name.clone());
            if !names.is_empty() {
                names.push(b'/');
            }
            names.extend_from_slice(name);
        }
        if m.kind == MountKind::Proc {
            proc_dev = std::fs::metadata(&m.host).map_or(u64::MAX, |md| md.dev());
        }
    }
    if names.len() >= fast::NAMES_MAX {
        return refuse("too many mount points");
    }
    let root = std::fs::metadata(world.vfs.host_of_canonical(b"/")).ok();
    let _ = world.fast_path.set(FastPathConfig {
        mount_names: names,
        proc_dev,
        root_dev: root.as_ref().map_or(u64::MAX, |m| m.dev()),
        root_ino: root.as_ref().map_or(u64::MAX, |m| m.ino()),
        root_fd: None,
        path_opens_only: world.fake.is_some(),
    });
    tracing::info!(
        "seccomp without ptrace: the in-process fast path is on (gate at {:#x})",
        gate.ip
    );
    Some(gate)
}
