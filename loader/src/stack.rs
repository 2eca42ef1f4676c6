//! The initial process stack, laid out as Linux's `create_elf_tables` does.
//!
//! Shared verbatim by the std loader crate (where it is unit- and property-tested) and the
//! `no_std` stub (which runs it on the real stack), so it uses `core` only.
//!
//! From the top down: the AT_EXECFN string, the 16 AT_RANDOM bytes, padding, then at the
//! 16-byte aligned stack pointer: argc, argv[], NULL, envp[], NULL, auxv pairs, AT_NULL.
//! argv and envp strings are not copied: the pointers given are used as they are (the stub
//! points them at the strings the kernel already placed, so /proc/PID/cmdline stays right).

pub const AT_NULL: u64 = 0;
pub const AT_PHDR: u64 = 3;
pub const AT_PHENT: u64 = 4;
pub const AT_PHNUM: u64 = 5;
pub const AT_PAGESZ: u64 = 6;
pub const AT_BASE: u64 = 7;
pub const AT_FLAGS: u64 = 8;
pub const AT_ENTRY: u64 = 9;
pub const AT_UID: u64 = 11;
pub const AT_EUID: u64 = 12;
pub const AT_GID: u64 = 13;
pub const AT_EGID: u64 = 14;
pub const AT_PLATFORM: u64 = 15;
pub const AT_HWCAP: u64 = 16;
pub const AT_CLKTCK: u64 = 17;
pub const AT_SECURE: u64 = 23;
pub const AT_RANDOM: u64 = 25;
pub const AT_HWCAP2: u64 = 26;
pub const AT_EXECFN: u64 = 31;
pub const AT_SYSINFO_EHDR: u64 = 33;
pub const AT_MINSIGSTKSZ: u64 = 51;
pub const AT_EXECFD: u64 = 2;

/// What goes onto the stack.
pub struct StackSpec<'a> {
    /// argv string addresses (already in the target address space).
    pub argv: &'a [u64],
    /// envp string addresses.
    pub envp: &'a [u64],
    /// Auxiliary vector entries, without AT_NULL, AT_EXECFN and AT_RANDOM (added here).
    pub auxv: &'a [(u64, u64)],
    /// AT_EXECFN, copied onto the stack with a NUL.
    pub execfn: &'a [u8],
    /// AT_RANDOM's 16 bytes, copied onto the stack.
    pub random: [u8; 16],
}

const WORD: usize = 8;

fn align_down(x: u64, a: u64) -> u64 {
    x & !(a - 1)
}

impl StackSpec<'_> {
    fn words(&self) -> usize {
        // argc, argv + NULL, envp + NULL, auxv pairs + AT_EXECFN + AT_RANDOM + AT_NULL.
        1 + self.argv.len() + 1 + self.envp.len() + 1 + 2 * (self.auxv.len() + 3)
    }

    /// Bytes needed below `top`, whatever `top`'s alignment: an upper bound for `build`.
    pub fn size(&self) -> usize {
        self.execfn.len() + 1 + 16 + 15 + self.words() * WORD + 15
    }
}

/// Lays the stack out in `mem`, which holds the target addresses `[top - mem.len(), top)`.
/// Returns the initial stack pointer (16-byte aligned, pointing at argc), or None when `mem`
/// is too small or the addresses would wrap.
pub fn build(spec: &StackSpec<'_>, mem: &mut [u8], top: u64) -> Option<u64> {
    let base = top.checked_sub(mem.len() as u64)?;
    let mut put = |addr: u64, bytes: &[u8]| -> Option<()> {
        let off = addr.checked_sub(base)? as usize;
        mem.get_mut(off..off.checked_add(bytes.len())?)?.copy_from_slice(bytes);
        Some(())
    };

    let execfn_at = top.checked_sub(spec.execfn.len() as u64 + 1)?;
    put(execfn_at, spec.execfn)?;
    put(execfn_at + spec.execfn.len() as u64, &[0])?;
    let random_at = execfn_at.checked_sub(16)?;
    put(random_at, &spec.random)?;

    let block = (spec.words() * WORD) as u64;
    let sp = align_down(random_at.checked_sub(block)?, 16);
    if sp < base {
        return None;
    }
    let mut at = sp;
    let mut word = |v: u64| -> Option<()> {
        put(at, &v.to_le_bytes())?;
        at += WORD as u64;
        Some(())
    };
    word(spec.argv.len() as u64)?;
    for &p in spec.argv {
        word(p)?;
    }
    word(0)?;
    for &p in spec.envp {
        word(p)?;
    }
    word(0)?;
    for &(k, v) in spec.auxv {
        word(k)?;
        word(v)?;
    }
    word(AT_EXECFN)?;
    word(execfn_at)?;
    word(AT_RANDOM)?;
    word(random_at)?;
    word(AT_NULL)?;
    word(0)?;
    Some(sp)
}
