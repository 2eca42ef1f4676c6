//! Guest memory, read and written through one typed accessor.
//!
//! Everything here takes addresses from the guest, so nothing may panic: a NULL or wild pointer
//! is EFAULT, a string without its NUL within bounds is ENAMETOOLONG (or E2BIG for argv).
//! `process_vm_readv`/`process_vm_writev` do the work, split at page boundaries so a partly
//! mapped range is read as far as it goes; writes to read-only pages (the guest's `.rodata`)
//! fall back to `/proc/PID/mem`, which the kernel lets a tracer write through.

use crate::Errno;
use std::fs::File;
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;

const PAGE: u64 = 4096;

/// Plain old data: every bit pattern is a valid value and the type has no padding, so copying
/// bytes from the guest into it (or from it to the guest) is sound.
///
/// # Safety
/// Implement only for `#[repr(C)]` or primitive types meeting the contract above.
pub unsafe trait Pod: Copy + 'static {}

unsafe impl Pod for u8 {}
unsafe impl Pod for u16 {}
unsafe impl Pod for u32 {}
unsafe impl Pod for u64 {}
unsafe impl Pod for i32 {}
unsafe impl Pod for i64 {}
unsafe impl<const N: usize> Pod for [u8; N] {}

/// An address in the guest's address space, typed by what it points at.
pub struct GuestPtr<T> {
    addr: u64,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for GuestPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for GuestPtr<T> {}

impl<T> std::fmt::Debug for GuestPtr<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.addr)
    }
}

impl<T> GuestPtr<T> {
    pub const fn new(addr: u64) -> Self {
        GuestPtr { addr, _t: PhantomData }
    }

    pub const fn addr(self) -> u64 {
        self.addr
    }

    pub const fn is_null(self) -> bool {
        self.addr == 0
    }

    /// The `i`-th element after this one; EFAULT when the address would wrap.
    pub fn element(self, i: u64) -> Result<Self, Errno> {
        let bytes = i.checked_mul(size_of::<T>() as u64).ok_or(Errno::EFAULT)?;
        self.addr.checked_add(bytes).map(Self::new).ok_or(Errno::EFAULT)
    }
}

/// Whether `len` bytes at `addr` lie below the top of user space, as the kernel's access_ok
/// checks a range (not whether it is mapped).
pub fn user_range(addr: u64, len: u64) -> bool {
    addr.checked_add(len).is_some_and(|end| end <= task_size_max())
}

/// TASK_SIZE_MAX: below 2^47 with 4-level page tables, 2^56 with 5-level ones (where an mmap
/// hint above 2^47 is honoured).
fn task_size_max() -> u64 {
    static TOP: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TOP.get_or_init(|| {
        let hint = 1u64 << 48;
        // SAFETY: a fresh anonymous mapping, unmapped at once; the hint is only a hint.
        let got = unsafe {
            libc::mmap(
                hint as *mut libc::c_void,
                PAGE as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        let five_level = got != libc::MAP_FAILED && got as u64 >= 1 << 47;
        if got != libc::MAP_FAILED {
            // SAFETY: the mapping made just above.
            unsafe { libc::munmap(got, PAGE as usize) };
        }
        if five_level {
            (1 << 56) - PAGE
        } else {
            (1 << 47) - PAGE
        }
    })
}

/// The memory of one guest process (any thread id of it will do).
#[derive(Clone, Copy, Debug)]
pub struct GuestMemory {
    pid: i32,
}

impl GuestMemory {
    pub fn new(pid: i32) -> Self {
        GuestMemory { pid }
    }

    /// Fills `buf` from guest address `addr`. EFAULT unless every byte was readable.
    pub fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        if buf.is_empty() {
            return Ok(());
        }
        if addr == 0 || addr.checked_add(buf.len() as u64).is_none() {
            return Err(Errno::EFAULT);
        }
        let n = self.readv(addr, buf)?;
        if n == buf.len() {
            Ok(())
        } else {
            Err(Errno::EFAULT)
        }
    }

    /// Reads up to `buf.len()` bytes, stopping at the first unreadable page; returns the count.
    fn readv(&self, addr: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // SAFETY: `local` describes `buf`, which we own mutably; the remote side is checked by the kernel.
        let n = unsafe { libc::process_vm_readv(self.pid, &local, 1, &remote, 1, 0) };
        if n < 0 {
            let e = Errno::last();
            return if e == Errno::EFAULT { Ok(0) } else { Err(e) };
        }
        Ok(n as usize)
    }

    /// Writes `data` at guest address `addr`, through read-only mappings if need be.
    pub fn write_bytes(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        if data.is_empty() {
            return Ok(());
        }
        if addr == 0 || addr.checked_add(data.len() as u64).is_none() {
            return Err(Errno::EFAULT);
        }
        let local = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: data.len(),
        };
        // SAFETY: `local` describes `data`, which outlives the call; the kernel only reads it.
        let n = unsafe { libc::process_vm_writev(self.pid, &local, 1, &remote, 1, 0) };
        if n >= 0 && n as usize == data.len() {
            return Ok(());
        }
        let done = n.max(0) as usize;
        self.write_via_proc_mem(addr + done as u64, &data[done..])
    }

    fn write_via_proc_mem(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        let mem = File::options()
            .write(true)
            .open(format!("/proc/{}/mem", self.pid))
            .map_err(|e| Errno::from_io(&e))?;
        mem.write_all_at(data, addr).map_err(|_| Errno::EFAULT)
    }

    /// Reads one value of a plain-data type.
    pub fn read<T: Pod>(&self, ptr: GuestPtr<T>) -> Result<T, Errno> {
        let mut value = std::mem::MaybeUninit::<T>::zeroed();
        // SAFETY: T is Pod, so any bytes form a valid T, and the slice covers exactly `value`.
        let bytes = unsafe { std::slice::from_raw_parts_mut(value.as_mut_ptr().cast::<u8>(), size_of::<T>()) };
        self.read_bytes(ptr.addr(), bytes)?;
        // SAFETY: fully initialized by read_bytes (zeroed before, and Pod accepts any bytes).
        Ok(unsafe { value.assume_init() })
    }

    /// Writes one value of a plain-data type.
    pub fn write<T: Pod>(&self, ptr: GuestPtr<T>, value: &T) -> Result<(), Errno> {
        // SAFETY: T is Pod: no padding, so all its bytes are initialized.
        let bytes = unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), size_of::<T>()) };
        self.write_bytes(ptr.addr(), bytes)
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL).
    /// EFAULT for an unreadable string, `too_long` when no NUL comes within `max` bytes.
    pub fn read_cstring(&self, ptr: GuestPtr<u8>, max: usize, too_long: Errno) -> Result<Vec<u8>, Errno> {
        if ptr.is_null() {
            return Err(Errno::EFAULT);
        }
        let mut out = Vec::new();
        let mut addr = ptr.addr();
        let mut chunk = [0u8; PAGE as usize];
        loop {
            // Never cross a page boundary in one read: the next page may be unmapped.
            let to_page_end = (PAGE - addr % PAGE) as usize;
            let want = to_page_end.min(max + 1 - out.len());
            let n = self.readv(addr, &mut chunk[..want])?;
            if n == 0 {
                return Err(Errno::EFAULT);
            }
            if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..end]);
                return Ok(out);
            }
            out.extend_from_slice(&chunk[..n]);
            if out.len() > max {
                return Err(too_long);
            }
            addr = addr.checked_add(n as u64).ok_or(Errno::EFAULT)?;
        }
    }

    /// Reads at most `max` bytes of a NUL-terminated string, for display: the bytes before the
    /// NUL and whether the NUL came within `max`. EFAULT when memory ends before either.
    pub fn read_cstring_prefix(&self, ptr: GuestPtr<u8>, max: usize) -> Result<(Vec<u8>, bool), Errno> {
        if ptr.is_null() {
            return Err(Errno::EFAULT);
        }
        let mut out = Vec::new();
        let mut addr = ptr.addr();
        let mut chunk = [0u8; PAGE as usize];
        while out.len() < max {
            let to_page_end = (PAGE - addr % PAGE) as usize;
            let want = to_page_end.min(max - out.len());
            let n = self.readv(addr, &mut chunk[..want])?;
            if n == 0 {
                return Err(Errno::EFAULT);
            }
            if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..end]);
                return Ok((out, true));
            }
            out.extend_from_slice(&chunk[..n]);
            addr = addr.checked_add(n as u64).ok_or(Errno::EFAULT)?;
        }
        // Exactly `max` bytes: terminated if the next byte is the NUL.
        let mut next = [0u8; 1];
        let terminated = self.read_bytes(addr, &mut next).is_ok() && next[0] == 0;
        Ok((out, terminated))
    }

    /// Reads a NULL-terminated array of pointers (argv, envp) of at most `max` entries.
    /// A NULL array is empty, as Linux treats it.
    pub fn read_ptr_array(&self, ptr: GuestPtr<u64>, max: usize) -> Result<Vec<u64>, Errno> {
        let mut out = Vec::new();
        if ptr.is_null() {
            return Ok(out);
        }
        loop {
            let p = self.read(ptr.element(out.len() as u64)?)?;
            if p == 0 {
                return Ok(out);
            }
            if out.len() >= max {
                return Err(Errno::E2BIG);
            }
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> GuestMemory {
        GuestMemory::new(std::process::id() as i32)
    }

    #[test]
    fn reads_and_writes_own_memory() {
        let src = *b"hello\0world";
        let got = me()
            .read_cstring(GuestPtr::new(src.as_ptr() as u64), 64, Errno::ENAMETOOLONG)
            .unwrap();
        assert_eq!(got, b"hello");
        let mut dst = [0u8; 4];
        me().write_bytes(dst.as_mut_ptr() as u64, b"abcd").unwrap();
        assert_eq!(&dst, b"abcd");
        let v: u64 = 0x1122334455667788;
        assert_eq!(me().read(GuestPtr::<u64>::new(&v as *const u64 as u64)).unwrap(), v);
    }

    #[test]
    fn null_and_wild_pointers_are_efault() {
        assert_eq!(me().read(GuestPtr::<u64>::new(0)), Err(Errno::EFAULT));
        assert_eq!(me().read(GuestPtr::<u64>::new(8)), Err(Errno::EFAULT));
        assert_eq!(me().read(GuestPtr::<u64>::new(u64::MAX - 3)), Err(Errno::EFAULT));
        assert_eq!(
            me().read_cstring(GuestPtr::new(16), 10, Errno::ENAMETOOLONG),
            Err(Errno::EFAULT)
        );
        assert_eq!(me().write_bytes(0, b"x"), Err(Errno::EFAULT));
    }

    #[test]
    fn string_limits() {
        let s = b"abcdefgh\0";
        let p = GuestPtr::new(s.as_ptr() as u64);
        assert_eq!(me().read_cstring(p, 8, Errno::ENAMETOOLONG).unwrap(), b"abcdefgh");
        assert_eq!(me().read_cstring(p, 7, Errno::ENAMETOOLONG), Err(Errno::ENAMETOOLONG));
    }

    #[test]
    fn string_ending_at_a_page_boundary_before_unmapped_memory() {
        // Map two pages, unmap the second: a string ending right at the boundary must still read.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            ) as *mut u8;
            assert!(!p.is_null());
            libc::munmap(p.add(4096).cast(), 4096);
            let start = p.add(4096 - 4);
            std::ptr::copy_nonoverlapping(c"abc".as_ptr().cast::<u8>(), start, 4);
            assert_eq!(
                me().read_cstring(GuestPtr::new(start as u64), 100, Errno::ENAMETOOLONG)
                    .unwrap(),
                b"abc"
            );
            std::ptr::copy_nonoverlapping(b"abcd".as_ptr(), start, 4);
            assert_eq!(
                me().read_cstring(GuestPtr::new(start as u64), 100, Errno::ENAMETOOLONG),
                Err(Errno::EFAULT)
            );
            libc::munmap(p.cast(), 4096);
        }
    }

    #[test]
    fn pointer_arrays() {
        let a = [1u64, 2, 3, 0];
        let p = GuestPtr::new(a.as_ptr() as u64);
        assert_eq!(me().read_ptr_array(p, 10).unwrap(), vec![1, 2, 3]);
        assert_eq!(me().read_ptr_array(p, 2), Err(Errno::E2BIG));
        assert!(me().read_ptr_array(GuestPtr::new(0), 2).unwrap().is_empty());
    }
}
