//! Where the stub's fast-path gate (`abi::fast`) lies once the stub is mapped, read from the
//! stub file itself: the seccomp filter names these addresses.

use crate::abi::fast;
use goblin::elf::program_header::PT_LOAD;
use goblin::elf::Elf;

/// The stub's addresses the filter checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateAddrs {
    /// The instruction pointer the kernel reports for a call from the gate (just past its
    /// `syscall` instruction).
    pub ip: u64,
    /// The table of `open_how` entries the gate accepts, and its length in bytes.
    pub how: u64,
    pub how_len: u64,
    /// The stub's image, `[start, end)`.
    pub start: u64,
    pub end: u64,
}

/// The gate of stub image `stub`, if it has one.
pub fn find(stub: &[u8]) -> Option<GateAddrs> {
    let elf = Elf::parse(stub).ok()?;
    let mut hits = stub
        .windows(fast::MARKER.len())
        .enumerate()
        .filter(|(_, w)| *w == fast::MARKER);
    let off = hits.next()?.0 as u64;
    if hits.next().is_some() {
        return None;
    }
    let loads = || elf.program_headers.iter().filter(|p| p.p_type == PT_LOAD);
    let seg = loads().find(|p| (p.p_offset..p.p_offset + p.p_filesz).contains(&off))?;
    let marker = seg.p_vaddr + (off - seg.p_offset);
    let start = loads().map(|p| p.p_vaddr).min()?;
    let end = loads().map(|p| p.p_vaddr + p.p_memsz).max()?;
    let how_len = (fast::ENTRIES * fast::STRIDE) as u64;
    // The whole gate must be in the file, as the stub's own code sees it.
    let gate_end = off + fast::HOW_OFFSET + how_len;
    if gate_end > seg.p_offset + seg.p_filesz || !marker.is_multiple_of(64) {
        return None;
    }
    Some(GateAddrs {
        ip: marker + fast::CODE_OFFSET + 2,
        how: marker + fast::HOW_OFFSET,
        how_len,
        start,
        end,
    })
}
