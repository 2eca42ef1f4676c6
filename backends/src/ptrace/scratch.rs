//! Scratch memory for rewritten calls: new strings (a translated path, the stub's path, a
//! script's argv) are written just below the thread's red zone, where nothing live is, and the
//! call's registers point at them. The call runs before the thread can use that stack again.

use lxrun_syscalls::memory::GuestMemory;
use lxrun_syscalls::{Argv, Errno, ExecRewrite};

/// The x86_64 red zone below the stack pointer that leaf functions may use.
const RED_ZONE: u64 = 128;

/// Blobs laid out downward from just below the red zone, each 16-byte aligned.
pub struct Scratch {
    top: u64,
    cur: u64,
    /// (address, bytes), in push order.
    blobs: Vec<(u64, Vec<u8>)>,
}

impl Scratch {
    pub fn new(sp: u64) -> Result<Scratch, Errno> {
        let top = sp.checked_sub(RED_ZONE).ok_or(Errno::EFAULT)? & !15;
        Ok(Scratch {
            top,
            cur: top,
            blobs: Vec::new(),
        })
    }

    /// Reserves room for `bytes`; returns the address they will have.
    pub fn push(&mut self, bytes: Vec<u8>) -> Result<u64, Errno> {
        let addr = self.cur.checked_sub(bytes.len() as u64).ok_or(Errno::EFAULT)? & !15;
        self.cur = addr;
        self.blobs.push((addr, bytes));
        Ok(addr)
    }

    /// Writes everything into the guest in one go.
    pub fn write(self, mem: &GuestMemory) -> Result<(), Errno> {
        let mut image = vec![0u8; (self.top - self.cur) as usize];
        for (addr, bytes) in &self.blobs {
            let off = (addr - self.cur) as usize;
            image[off..off + bytes.len()].copy_from_slice(bytes);
        }
        mem.write_bytes(self.cur, &image)
    }
}

/// Where a rewritten execve's arguments are: (path, argv).
pub fn place_exec(mem: &GuestMemory, sp: u64, stub_path: &[u8], rewrite: &ExecRewrite) -> Result<(u64, u64), Errno> {
    let mut s = Scratch::new(sp)?;
    let path = s.push([stub_path, b"\0"].concat())?;
    let argv = match &rewrite.argv {
        Argv::Guest(p) => *p,
        Argv::Prefixed { prefix, rest } => {
            let mut ptrs = Vec::with_capacity(8 * (prefix.len() + rest.len() + 1));
            for p in prefix {
                ptrs.extend_from_slice(&s.push([p.as_slice(), b"\0"].concat())?.to_le_bytes());
            }
            for p in rest.iter().chain(std::iter::once(&0)) {
                ptrs.extend_from_slice(&p.to_le_bytes());
            }
            s.push(ptrs)?
        }
    };
    s.write(mem)?;
    Ok((path, argv))
}
