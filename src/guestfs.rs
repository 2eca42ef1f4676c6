//! Building the guest's filesystem view from the command line: the root, the default mounts,
//! `--bind` and `--tmpfs`, and where the first program starts.

use anyhow::{bail, Context};
use lxrun_vfs::{Base, MountKind, MountTable, NoGuests, Resolved, Vfs, View};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A private directory for this run (glue directories, `--tmpfs` storage), removed at exit,
/// inside lxrun's per-user directory (which also keeps the loader stub, shared by runs).
pub struct RunDir {
    dir: PathBuf,
    user: PathBuf,
}

impl RunDir {
    pub fn create() -> anyhow::Result<RunDir> {
        // /tmp itself, not $TMPDIR, and a dot name: a guest that lists its TMPDIR (or runs with
        // the host's tree) should not find lxrun's files there. LXRUN_TMPDIR overrides.
        // One directory per user holds the runs' directories, so cleaning up after killed runs
        // reads only lxrun's own entries. It must stay searchable by every uid: a guest that
        // drops its privileges still execs the loader stub inside.
        let base = std::env::var_os("LXRUN_TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
        // SAFETY: getuid has no preconditions.
        let user = base.join(format!(".lxrun-{}", unsafe { libc::getuid() }));
        if std::fs::create_dir(&user).is_ok() {
            std::fs::set_permissions(&user, std::fs::Permissions::from_mode(0o755))?;
        }
        // The loader every guest execs lives there: nobody else may own or write it.
        let meta = std::fs::symlink_metadata(&user).with_context(|| format!("creating {}", user.display()))?;
        // SAFETY: getuid has no preconditions.
        if !meta.is_dir() || meta.uid() != unsafe { libc::getuid() } || meta.mode() & 0o022 != 0 {
            bail!("{} is not a directory only you can write: remove it", user.display());
        }
        remove_stale(&user);
        // Made by its first use (`--tmpfs`, a glue directory): most runs need none.
        let dir = user.join(std::process::id().to_string());
        Ok(RunDir { dir, user })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// lxrun's per-user directory, shared by its runs.
    pub fn user_dir(&self) -> &Path {
        &self.user
    }
}

/// Removes the run directories of lxrun processes that no longer exist (killed with SIGKILL,
/// which gives no chance to clean up).
fn remove_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    let current = format!("loader-{:016x}", lxrun_loader::STUB_ID);
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_str().unwrap_or_default();
        // Other builds' loaders, once a day has passed (a run of that build may still use it).
        if name.starts_with("loader-") && name != current {
            let old = e
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok());
            if old.is_some_and(|age| age.as_secs() > 24 * 3600) {
                let _ = std::fs::remove_file(e.path());
            }
            continue;
        }
        // Run directories, and loaders being written (`.loader-PID`), of dead lxrun processes.
        let (pid, is_dir) = match name.strip_prefix(".loader-") {
            Some(pid) => (pid, false),
            None => (name, true),
        };
        let Ok(pid) = pid.parse::<i32>() else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks whether the process exists.
        if unsafe { libc::kill(pid, 0) } != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
            let _ = if is_dir {
                std::fs::remove_dir_all(e.path())
            } else {
                std::fs::remove_file(e.path())
            };
        }
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        // Usually it was never made, or holds only the empty glue directory: two rmdirs beat a
        // recursive walk.
        let _ = std::fs::remove_dir(self.dir.join("glue"));
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            if e.raw_os_error() != Some(libc::ENOENT) {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
        }
    }
}

/// What the command line asks of the filesystem.
pub struct FsOptions<'a> {
    pub root: Option<&'a Path>,
    pub binds: &'a [String],
    pub tmpfs: &'a [String],
    pub default_mounts: bool,
}

/// `HOST[:GUEST][:ro]` → (host, guest, read-only).
fn parse_bind(spec: &str) -> anyhow::Result<(PathBuf, String, bool)> {
    let (spec, ro) = match spec.strip_suffix(":ro") {
        Some(s) => (s, true),
        None => (spec.strip_suffix(":rw").unwrap_or(spec), false),
    };
    let (host, guest) = match spec.split_once(':') {
        Some((h, g)) if !g.is_empty() => (h, g.to_string()),
        Some((h, _)) => (h, h.to_string()),
        None => (spec, spec.to_string()),
    };
    if host.is_empty() {
        bail!("--bind {spec}: empty host path");
    }
    let host = std::fs::canonicalize(host).with_context(|| format!("--bind {host}"))?;
    if !guest.starts_with('/') {
        bail!("--bind {spec}: the guest path must be absolute");
    }
    Ok((host, guest, ro))
}

/// The mount table and the VFS over it.
/// Where lxrun may mount (CAP_SYS_ADMIN), a private mount namespace for it and its guests, in
/// which it makes the guests' mounts; None (the guests then get EPERM, as unprivileged users
/// do) elsewhere.
pub fn private_mounts() -> Option<lxrun_vfs::kernel_mounts::KernelMounts> {
    const CAP_SYS_ADMIN: u32 = 21;
    if !lxrun_syscalls::creds::Status::of(0)?.has_cap(CAP_SYS_ADMIN) {
        return None;
    }
    match lxrun_vfs::kernel_mounts::KernelMounts::private() {
        Ok(km) => Some(km),
        Err(e) => {
            tracing::info!("the guests' mounts are refused: no private mount namespace for them: {e}");
            None
        }
    }
}

pub fn build(opts: &FsOptions<'_>, run: &RunDir) -> anyhow::Result<Vfs> {
    let Some(root) = opts.root.filter(|r| *r != Path::new("/")) else {
        if opts.binds.is_empty() && opts.tmpfs.is_empty() {
            return Ok(Vfs::host_root());
        }
        return with_mounts(MountTable::new("/".into()), opts, run);
    };
    let root = std::fs::canonicalize(root).with_context(|| format!("--root {}", root.display()))?;
    if !root.is_dir() {
        bail!("--root {}: not a directory", root.display());
    }
    let mut table = MountTable::new(root);
    if opts.default_mounts {
        table.add(b"/proc", "/proc".into(), false, MountKind::Proc, "proc");
        table.add(b"/dev", "/dev".into(), false, MountKind::Bind, "devtmpfs");
        table.add(b"/sys", "/sys".into(), true, MountKind::Bind, "sysfs");
        for f in ["/etc/resolv.conf", "/etc/hosts"] {
            if let Ok(host) = std::fs::canonicalize(f) {
                table.add(f.as_bytes(), host, true, MountKind::Bind, "bind");
            }
        }
    }
    with_mounts(table, opts, run)
}

fn with_mounts(mut table: MountTable, opts: &FsOptions<'_>, run: &RunDir) -> anyhow::Result<Vfs> {
    if opts.root.is_none_or(|r| r == Path::new("/")) {
        table.add(b"/proc", "/proc".into(), false, MountKind::Proc, "proc");
    }
    for spec in opts.binds {
        let (host, guest, ro) = parse_bind(spec)?;
        table.add(guest.as_bytes(), host, ro, MountKind::Bind, "bind");
    }
    for (i, guest) in opts.tmpfs.iter().enumerate() {
        if !guest.starts_with('/') {
            bail!("--tmpfs {guest}: the guest path must be absolute");
        }
        let dir = run.path().join(format!("tmpfs-{i}"));
        std::fs::create_dir_all(&dir)?;
        table.add(guest.as_bytes(), dir, false, MountKind::Bind, "tmpfs");
    }
    Ok(Vfs::new(table, run.path().join("glue")))
}

/// Looks `path` up as the first program would, from guest directory `cwd`.
pub fn lookup(vfs: &Vfs, cwd: &[u8], path: &[u8]) -> Option<Resolved> {
    let view = View {
        root: b"/",
        cwd,
        guests: &NoGuests,
    };
    vfs.resolve(&view, Base::Cwd, path, true).ok().filter(|r| r.exists)
}

/// Where the first program starts: `-w DIR`, else lxrun's own directory when the guest has it,
/// else `/`. Returns (guest path, host path).
pub fn initial_cwd(vfs: &Vfs, requested: Option<&Path>) -> anyhow::Result<(Vec<u8>, PathBuf)> {
    let dir_of = |p: &[u8]| lookup(vfs, b"/", p).filter(|r| r.host.is_dir());
    if let Some(dir) = requested {
        let want = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir()?.join(dir)
        };
        return match dir_of(want.as_os_str().as_bytes()) {
            Some(r) => Ok((r.guest, r.host)),
            None => bail!("--cwd {}: not a directory in the guest", dir.display()),
        };
    }
    let here = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let r = dir_of(here.as_os_str().as_bytes())
        .or_else(|| dir_of(b"/"))
        .context("the guest root is not a directory")?;
    Ok((r.guest, r.host))
}
