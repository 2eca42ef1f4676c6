//! The loader stub as an executable memfd, named by a path every guest process can exec.

use lxrun_syscalls::Errno;
use std::ffi::CStr;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The stub, sealed in a memfd that lives as long as lxrun.
pub struct StubFile {
    _fd: OwnedFd,
    path: Vec<u8>,
}

impl StubFile {
    pub fn create() -> Result<StubFile, Errno> {
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
        Ok(StubFile { _fd: owned, path })
    }

    /// The path a guest process execs to run the stub.
    pub fn path(&self) -> &[u8] {
        &self.path
    }
}
