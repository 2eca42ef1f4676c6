//! lxrun's user-space ELF loader.
//!
//! The supervisor side (std) parses and validates ELF files and `#!` lines, and computes a pure
//! [`plan::LoadPlan`]. The stub side is a tiny `no_std` static program ([`STUB`]) that lxrun
//! execs in place of the guest's program; it fetches the plan, maps the program and its
//! interpreter, builds the initial stack with [`stack::build`] and jumps to the entry point.
//! [`abi`] and [`stack`] are shared by both sides, byte for byte.

pub mod abi;
pub mod elf;
pub mod gate;
pub mod plan;
pub mod script;
pub mod stack;

#[cfg(test)]
mod tests;

/// The loader stub, a static ELF executable built by build.rs from `stub/src/main.rs`.
pub static STUB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lxrun-stub"));

/// A name for the stub's bytes (their FNV-1a hash): a copy on disk under this name can serve
/// every run of this lxrun build.
pub const STUB_ID: u64 = fnv1a(include_bytes!(concat!(env!("OUT_DIR"), "/lxrun-stub")));

const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// Why a file cannot be executed. Each maps to the errno Linux's execve would return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("not an ELF executable and no #! line (Exec format error)")]
    NotExecutable,
    #[error("truncated file: the {0} is cut short")]
    Truncated(&'static str),
    #[error("malformed ELF: {0}")]
    Malformed(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("wrong architecture: the program is built for {0}, lxrun runs x86_64 programs")]
    WrongArch(String),
    #[error("bad #! line: {0}")]
    BadScript(&'static str),
    #[error("too many levels of #! interpreters")]
    TooDeep,
    #[error("read error: {0}")]
    Io(String),
}

impl LoadError {
    /// The errno the guest's execve returns for this failure.
    pub fn errno(&self) -> i32 {
        match self {
            LoadError::TooDeep => libc::ELOOP,
            LoadError::Io(_) => libc::EIO,
            _ => libc::ENOEXEC,
        }
    }
}
