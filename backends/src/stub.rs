//! The loader stub as a file every guest process can exec, whatever its credentials.
//!
//! Preferred: a read-only copy in lxrun's per-user directory, named by the stub's hash and
//! shared by every run of this build (a guest that dropped its privileges, or entered a user
//! namespace, can still exec it; writing it once saves every later start a create, a write
//! and an unlink). Where that directory's filesystem is mounted noexec: a sealed memfd, named
//! `/proc/<lxrun>/fd/<n>`, which only processes with lxrun's own credentials can reach.

use lxrun_syscalls::Errno;
use std::ffi::CStr;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The stub, kept available for as long as lxrun runs.
pub struct StubFile {
    _memfd: Option<OwnedFd>,
    path: Vec<u8>,
}

fn noexec(dir: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return true;
    };
    // SAFETY: statvfs fills the zeroed struct; `c` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    unsafe { libc::statvfs(c.as_ptr(), &mut st) != 0 || st.f_flag & libc::ST_NOEXEC != 0 }
}

impl StubFile {
    /// The stub in `dir` (lxrun's own per-user directory), written there if it is not yet; or
    /// a memfd when that cannot be exec'd.
    pub fn create(dir: &Path) -> Result<StubFile, Errno> {
        if !noexec(dir) {
            let path = dir.join(format!("loader-{:016x}", lxrun_loader::STUB_ID));
            if Self::ours(&path) || Self::write(dir, &path).is_ok() {
                return Ok(StubFile {
                    _memfd: None,
                    path: path.as_os_str().as_bytes().to_vec(),
                });
            }
            tracing::debug!(
                "cannot write the loader stub to {}: falling back to a memfd",
                path.display()
            );
        }
        Self::memfd()
    }

    /// A copy an earlier run left: ours, read-only, of the stub's size (its name is its hash).
    fn ours(path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(path).is_ok_and(|m| {
            // SAFETY: geteuid has no preconditions.
            m.is_file()
                && m.uid() == unsafe { libc::geteuid() }
                && m.mode() & 0o7777 == 0o555
                && m.len() == lxrun_loader::STUB.len() as u64
        })
    }

    /// Writes the stub under a private name and renames it into place, so that a concurrent
    /// run never sees it half written.
    fn write(dir: &Path, path: &Path) -> std::io::Result<()> {
        let tmp = dir.join(format!(".loader-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(&tmp)
            .and_then(|mut f| f.write_all(lxrun_loader::STUB))
            .and_then(|()| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o555)))
            .and_then(|()| std::fs::rename(&tmp, path))
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })
    }

    fn memfd() -> Result<StubFile, Errno> {
        let name: &CStr = c"lxrun-loader";
        let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
        // MFD_EXEC (Linux 6.3) keeps the memfd executable where vm.memfd_noexec would not.
        // SAFETY: `name` is a valid C string.
        let mut fd = unsafe { libc::memfd_create(name.as_ptr(), base | libc::MFD_EXEC) };
        if fd < 0 && Errno::last() == Errno::EINVAL {
            // SAFETY: as above.
            fd = unsafe { libc::memfd_create(name.as_ptr(), base) };
        }
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: memfd_create returned a fresh descriptor that we now own.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut file = std::fs::File::from(owned.try_clone().map_err(|e| Errno::from_io(&e))?);
        file.write_all(lxrun_loader::STUB).map_err(|e| Errno::from_io(&e))?;
        let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        // SAFETY: plain fcntl on a descriptor we own.
        if unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) } < 0 {
            return Err(Errno::last());
        }
        let path = format!("/proc/{}/fd/{}", std::process::id(), owned.as_raw_fd()).into_bytes();
        Ok(StubFile {
            _memfd: Some(owned),
            path,
        })
    }

    /// The path a guest process execs to run the stub.
    pub fn path(&self) -> &[u8] {
        &self.path
    }
}
