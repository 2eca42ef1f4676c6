//! Turning a trapped execve into an execve of the loader stub: the stub's path (and, for `#!`
//! chains, the new argv) is written just below the thread's red zone, where nothing live is,
//! and the call's registers are pointed at it. If the exec succeeds that memory is gone anyway.

use lxrun_syscalls::memory::GuestMemory;
use lxrun_syscalls::{Argv, Errno, ExecRewrite};

/// The x86_64 red zone below the stack pointer that leaf functions may use.
const RED_ZONE: u64 = 128;

/// Where the rewritten call's arguments are: (path, argv).
pub struct Placed {
    pub path: u64,
    pub argv: u64,
}

/// Writes the stub path and argv below `sp` and returns their addresses.
pub fn place(mem: &GuestMemory, sp: u64, stub_path: &[u8], rewrite: &ExecRewrite) -> Result<Placed, Errno> {
    let mut strings: Vec<u8> = Vec::new();
    let mut offsets = Vec::new();
    let mut add = |s: &[u8]| {
        offsets.push(strings.len() as u64);
        strings.extend_from_slice(s);
        strings.push(0);
    };
    add(stub_path);
    let (prefix, rest): (&[Vec<u8>], &[u64]) = match &rewrite.argv {
        Argv::Guest(_) => (&[], &[]),
        Argv::Prefixed { prefix, rest } => (prefix, rest),
    };
    for s in prefix {
        add(s);
    }
    let nptrs = if prefix.is_empty() {
        0
    } else {
        prefix.len() + rest.len() + 1
    };
    let top = sp.checked_sub(RED_ZONE).ok_or(Errno::EFAULT)?;
    let strings_at = top.checked_sub(strings.len() as u64).ok_or(Errno::EFAULT)? & !15;
    let array_at = strings_at.checked_sub(8 * nptrs as u64).ok_or(Errno::EFAULT)? & !15;

    let mut image = Vec::with_capacity((top - array_at) as usize);
    for off in offsets.iter().skip(1) {
        image.extend_from_slice(&(strings_at + off).to_le_bytes());
    }
    for p in rest {
        image.extend_from_slice(&p.to_le_bytes());
    }
    if nptrs > 0 {
        image.extend_from_slice(&0u64.to_le_bytes());
    }
    image.resize((strings_at - array_at) as usize, 0);
    image.extend_from_slice(&strings);
    mem.write_bytes(array_at, &image)?;
    let argv = match rewrite.argv {
        Argv::Guest(p) => p,
        Argv::Prefixed { .. } => array_at,
    };
    Ok(Placed { path: strings_at, argv })
}
