//! The /proc files lxrun writes itself, because the host's would show host paths.

use crate::kernel_mounts::MountInfo;
use crate::mounts::join;
use crate::{MountKind, Vfs};
use std::path::Path;

impl Vfs {
    /// `/proc/PID/maps` with every pathname as the guest names it.
    pub fn proc_maps(&self, pid: i32) -> std::io::Result<Vec<u8>> {
        let host = std::fs::read(format!("/proc/{pid}/maps"))?;
        let mut out = Vec::with_capacity(host.len());
        for line in host.split_inclusive(|&c| c == b'\n') {
            // Five fields, then spaces, then the pathname (which may contain spaces).
            let mut fields = 0;
            let mut i = 0;
            while i < line.len() && fields < 5 {
                if line[i] == b' ' {
                    fields += 1;
                }
                i += 1;
            }
            while i < line.len() && line[i] == b' ' {
                i += 1;
            }
            let name = line[i..].strip_suffix(b"\n").unwrap_or(&line[i..]);
            let deleted = name.ends_with(b" (deleted)");
            let bare = name.strip_suffix(b" (deleted)").unwrap_or(name);
            match (bare.first(), self.guest_of(crate::path(bare))) {
                (Some(b'/'), Some(guest)) if !self.is_identity() => {
                    out.extend_from_slice(&line[..i]);
                    out.extend_from_slice(&guest);
                    if deleted {
                        out.extend_from_slice(b" (deleted)");
                    }
                    out.push(b'\n');
                }
                _ => out.extend_from_slice(line),
            }
        }
        Ok(out)
    }

    /// The guest's mount table in /proc/mounts format.
    pub fn proc_mounts(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for m in self.mounts().mounts().iter().rev() {
            let fstype = match m.kind {
                MountKind::Proc => "proc",
                MountKind::Bind => fs_type(&m.host),
            };
            let opts = if m.readonly { "ro" } else { "rw" };
            out.extend_from_slice(format!("{} ", m.source).as_bytes());
            out.extend_from_slice(&escape(&join(&m.guest)));
            out.extend_from_slice(format!(" {fstype} {opts} 0 0\n").as_bytes());
        }
        for (m, guest) in self.guest_made_mounts() {
            out.extend_from_slice(&escape(&m.source));
            out.push(b' ');
            out.extend_from_slice(&escape(&guest));
            // The mount's options, then the filesystem's without their ro/rw, as Linux joins them.
            let fs_opts = m.super_opts.split(',').filter(|o| *o != "rw" && *o != "ro");
            let opts: Vec<&str> = m.mount_opts.split(',').chain(fs_opts).collect();
            out.extend_from_slice(format!(" {} {} 0 0\n", m.fstype, opts.join(",")).as_bytes());
        }
        out
    }

    /// The mounts the guests made (`kernel_mounts`) that they can see, with their guest paths.
    fn guest_made_mounts(&self) -> Vec<(MountInfo, Vec<u8>)> {
        let Some(km) = self.kernel_mounts() else {
            return Vec::new();
        };
        km.made_by_guests()
            .into_iter()
            .filter_map(|m| {
                let guest = self.guest_of(&m.mount_point)?;
                Some((m, guest))
            })
            .collect()
    }

    /// The guest's mount table in /proc/PID/mountinfo format.
    pub fn proc_mountinfo(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, m) in self.mounts().mounts().iter().rev().enumerate() {
            let id = 100 + i;
            let parent = if i == 0 { 1 } else { 100 };
            let fstype = match m.kind {
                MountKind::Proc => "proc",
                MountKind::Bind => fs_type(&m.host),
            };
            let opts = if m.readonly { "ro" } else { "rw" };
            out.extend_from_slice(format!("{id} {parent} 0:0 / ").as_bytes());
            out.extend_from_slice(&escape(&join(&m.guest)));
            out.extend_from_slice(format!(" {opts} - {fstype} {} {opts}\n", m.source).as_bytes());
        }
        let made = self.guest_made_mounts();
        for (m, guest) in &made {
            // A parent that is not one of the guests' is shown as the root's (lxrun's ids).
            let parent = if made.iter().any(|(p, _)| p.id == m.parent) {
                m.parent
            } else {
                100
            };
            out.extend_from_slice(format!("{} {parent} {} ", m.id, m.dev).as_bytes());
            out.extend_from_slice(&escape(&m.root));
            out.push(b' ');
            out.extend_from_slice(&escape(guest));
            out.extend_from_slice(format!(" {} - {} ", m.mount_opts, m.fstype).as_bytes());
            out.extend_from_slice(&escape(&m.source));
            out.extend_from_slice(format!(" {}\n", m.super_opts).as_bytes());
        }
        out
    }
}

/// The filesystem type of a host path, as statfs names the common ones.
fn fs_type(p: &Path) -> &'static str {
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) else {
        return "none";
    };
    // SAFETY: statfs fills the zeroed struct; `c` is a valid C string.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return "none";
    }
    match st.f_type {
        0xEF53 => "ext4",
        0x01021994 => "tmpfs",
        0x9123683E => "btrfs",
        0x58465342 => "xfs",
        0x794c7630 => "overlay",
        0x62656572 => "sysfs",
        0x1373 => "devtmpfs",
        0x9fa0 => "proc",
        _ => "none",
    }
}

/// Octal escapes for the characters /proc/mounts escapes (space, tab, newline, backslash).
fn escape(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len());
    for &c in p {
        match c {
            b' ' | b'\t' | b'\n' | b'\\' => out.extend_from_slice(format!("\\{c:03o}").as_bytes()),
            _ => out.push(c),
        }
    }
    out
}
