//! ELF parsing and validation: everything the kernel's `load_elf_binary` checks before the
//! point of no return, so a bad file fails the guest's execve with an errno and leaves the
//! process intact, instead of killing it half-loaded.

use crate::LoadError;
use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header;
use goblin::elf::program_header::{self as ph, ProgramHeader};
use std::fs::File;
use std::os::unix::fs::FileExt;

pub const PAGE: u64 = 4096;
/// The size of an ELF64 header.
pub const EHDR_SIZE: u64 = header::header64::SIZEOF_EHDR as u64;
/// Linux's limit on the size of the program header table.
const MAX_PHDR_BYTES: u64 = 65536;
/// Linux's limit on a PT_INTERP path (PATH_MAX).
const MAX_INTERP: u64 = 4096;
/// Lowest address the loader stub occupies: fixed-address programs must stay below it.
pub const STUB_BASE: u64 = 0x7ff0_0000_0000;
/// Lowest address an unprivileged process may map (vm.mmap_min_addr's usual value).
const MIN_MAP_ADDR: u64 = 0x1_0000;

/// Anything the loader can read bytes from at an offset: a file, or a byte slice in tests.
pub trait Source {
    fn len(&self) -> u64;
    /// Reads as many bytes as are available at `off` into `buf`.
    fn read_at(&self, off: u64, buf: &mut [u8]) -> std::io::Result<usize>;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads exactly `len` bytes at `off`, or fails with `err` if the file is shorter.
    fn read_exact_at(&self, off: u64, len: u64, err: LoadError) -> Result<Vec<u8>, LoadError> {
        let end = off.checked_add(len).ok_or_else(|| err.clone())?;
        if end > self.len() {
            return Err(err);
        }
        let mut buf = vec![0u8; len as usize];
        let mut done = 0;
        while done < buf.len() {
            match self.read_at(off + done as u64, &mut buf[done..]) {
                Ok(0) => return Err(err),
                Ok(n) => done += n,
                Err(e) => return Err(LoadError::Io(e.to_string())),
            }
        }
        Ok(buf)
    }
}

/// A file read by offset, its length taken once: every `metadata` of a `File` is an fstat,
/// and execve's checks read a program's headers piece by piece.
pub struct FileSource<'a> {
    file: &'a File,
    len: u64,
}

impl<'a> FileSource<'a> {
    pub fn new(file: &'a File) -> std::io::Result<FileSource<'a>> {
        Ok(FileSource {
            file,
            len: file.metadata()?.len(),
        })
    }

    /// A file whose length an fstat already gave.
    pub fn with_len(file: &'a File, len: u64) -> FileSource<'a> {
        FileSource { file, len }
    }
}

impl Source for FileSource<'_> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        FileExt::read_at(self.file, buf, off)
    }
}

impl Source for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        let start = (off as usize).min(<[u8]>::len(self));
        let n = buf.len().min(<[u8]>::len(self) - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
}

/// ET_EXEC (fixed addresses) or ET_DYN (PIE, static-pie, shared objects, ld.so).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Exec,
    Dyn,
}

/// One validated PT_LOAD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    pub vaddr: u64,
    pub offset: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
    /// PF_R/PF_W/PF_X.
    pub flags: u32,
}

/// A validated ELF executable or interpreter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfImage {
    pub kind: Kind,
    pub entry: u64,
    pub phnum: u16,
    pub phentsize: u16,
    /// Unbiased address of the program headers in memory (AT_PHDR).
    pub phdr_vaddr: u64,
    pub loads: Vec<Load>,
    /// PT_INTERP, without its NUL.
    pub interp: Option<Vec<u8>>,
    /// PT_GNU_STACK asked for an executable stack.
    pub exec_stack: bool,
    /// Why the kernel's load of it fails past exec's point of no return, where it kills the
    /// process with SIGSEGV instead of failing the execve.
    pub fatal: Option<String>,
}

/// Whether the first bytes of a file look like ELF at all.
pub fn is_elf(prefix: &[u8]) -> bool {
    prefix.starts_with(b"\x7fELF")
}

fn machine_name(m: u16) -> String {
    match m {
        header::EM_386 => "i386 (32-bit x86)".into(),
        header::EM_AARCH64 => "aarch64".into(),
        header::EM_ARM => "arm".into(),
        header::EM_RISCV => "riscv".into(),
        header::EM_PPC64 => "ppc64".into(),
        header::EM_S390 => "s390x".into(),
        258 => "loongarch".into(),
        other => format!("{} (e_machine {other})", header::machine_to_str(other)),
    }
}

impl ElfImage {
    /// Parses and validates the program behind `src`, as load_elf_binary does.
    pub fn parse(src: &(impl Source + ?Sized)) -> Result<ElfImage, LoadError> {
        ElfImage::parse_as(src, true)
    }

    /// Parses its interpreter: the kernel reads no PT_INTERP there (ld.so's own is ignored).
    pub fn parse_interpreter(src: &(impl Source + ?Sized)) -> Result<ElfImage, LoadError> {
        ElfImage::parse_as(src, false)
    }

    fn parse_as(src: &(impl Source + ?Sized), program: bool) -> Result<ElfImage, LoadError> {
        let magic = src.read_exact_at(0, 4.min(src.len()), LoadError::NotExecutable)?;
        if !is_elf(&magic) {
            return Err(LoadError::NotExecutable);
        }
        // The kernel reads the header from its zero-filled first-page buffer: a short file is
        // read as if padded with zeros.
        let mut raw = src.read_exact_at(0, src.len().min(EHDR_SIZE), LoadError::Truncated("ELF header"))?;
        raw.resize(EHDR_SIZE as usize, 0);
        let u16_at = |o: usize| u16::from_le_bytes([raw[o], raw[o + 1]]);
        let u64_at = |o: usize| u64::from_le_bytes(raw[o..o + 8].try_into().unwrap_or_default());
        // x86_64's elf_check_arch looks at e_machine only: EI_CLASS, EI_DATA, EI_VERSION and
        // the OS ABI are never checked, and the header is read as ELF64 little-endian.
        let (e_type, e_machine) = (u16_at(16), u16_at(18));
        let (e_entry, e_phoff) = (u64_at(24), u64_at(32));
        let (e_phentsize, e_phnum) = (u16_at(54), u16_at(56));
        match e_machine {
            header::EM_X86_64 => {}
            header::EM_386 => {
                return Err(LoadError::Unsupported(
                    "32-bit ELF (ELFCLASS32) programs are not supported".into(),
                ))
            }
            m => return Err(LoadError::WrongArch(machine_name(m))),
        }
        let mut fatal = None;
        let kind = match e_type {
            header::ET_EXEC => Kind::Exec,
            header::ET_DYN => Kind::Dyn,
            // An interpreter's type is checked only when it is loaded (load_elf_interp).
            t if !program => {
                fatal = Some(format!("interpreter of ELF type {}", header::et_to_str(t)));
                Kind::Dyn
            }
            t => {
                return Err(LoadError::Unsupported(format!(
                    "ELF type {} is not executable",
                    header::et_to_str(t)
                )))
            }
        };
        if e_phentsize as usize != ph::program_header64::SIZEOF_PHDR {
            return Err(LoadError::Malformed(format!("program header size {e_phentsize}")));
        }
        let table = u64::from(e_phnum) * u64::from(e_phentsize);
        if table == 0 || table > MAX_PHDR_BYTES {
            return Err(LoadError::Malformed(format!("{e_phnum} program headers")));
        }
        let raw = src.read_exact_at(e_phoff, table, LoadError::Truncated("program headers"))?;
        let ctx = Ctx::new(Container::Big, Endian::Little);
        let phdrs =
            ProgramHeader::parse(&raw, 0, e_phnum as usize, ctx).map_err(|e| LoadError::Malformed(e.to_string()))?;

        let mut image = ElfImage {
            kind,
            entry: e_entry,
            phnum: e_phnum,
            phentsize: e_phentsize,
            phdr_vaddr: 0,
            loads: Vec::new(),
            interp: None,
            exec_stack: false,
            fatal,
        };
        for p in &phdrs {
            match p.p_type {
                // In program-header order, as the kernel maps them: later ones over earlier.
                ph::PT_LOAD => match validate_load(p, src.len()) {
                    Ok(l) => image.loads.push(l),
                    Err(why) => {
                        image.fatal.get_or_insert(why);
                    }
                },
                ph::PT_INTERP if program && image.interp.is_none() => image.interp = Some(read_interp(src, p)?),
                ph::PT_GNU_STACK => image.exec_stack = p.p_flags & ph::PF_X != 0,
                _ => {}
            }
            // AT_PHDR, as the kernel computes it: from the last PT_LOAD whose file range holds
            // the table's start (PT_PHDR is not looked at), else the load bias itself.
            if p.p_type == ph::PT_LOAD && p.p_offset <= e_phoff && e_phoff - p.p_offset < p.p_filesz {
                image.phdr_vaddr = p.p_vaddr.wrapping_add(e_phoff - p.p_offset);
            }
        }
        if image.loads.is_empty() {
            image.fatal.get_or_insert_with(|| "no PT_LOAD segment".into());
        }
        if kind == Kind::Exec && image.fatal.is_none() {
            let (lo, hi) = image.span();
            if lo < MIN_MAP_ADDR || hi > STUB_BASE {
                return Err(LoadError::Malformed(format!(
                    "fixed segments at {lo:#x}..{hi:#x} are outside the user address range lxrun can load"
                )));
            }
        }
        Ok(image)
    }

    /// Page-aligned [start, end) of all PT_LOAD segments.
    pub fn span(&self) -> (u64, u64) {
        let lo = self.loads.iter().map(|l| l.vaddr).min().unwrap_or(0) & !(PAGE - 1);
        let hi = self.loads.iter().map(|l| l.vaddr + l.memsz).max().unwrap_or(0);
        (lo, hi.div_ceil(PAGE) * PAGE)
    }

    /// The load base alignment: the largest PT_LOAD p_align, at least a page.
    pub fn align(&self) -> u64 {
        self.loads
            .iter()
            .map(|l| l.align)
            .filter(|a| a.is_power_of_two())
            .max()
            .unwrap_or(PAGE)
            .max(PAGE)
    }
}

/// A PT_LOAD as the kernel maps it, or why its mapping fails (past the point of no return).
/// The kernel maps a file range past the end of the file (touching it is SIGBUS) and uses
/// p_align only where it is a power of two: neither is refused.
fn validate_load(p: &ProgramHeader, file_len: u64) -> Result<Load, String> {
    let bad = |why: &str| format!("PT_LOAD at {:#x}: {why}", p.p_vaddr);
    if p.p_vaddr % PAGE != p.p_offset % PAGE {
        return Err(bad("offset and address disagree modulo the page size"));
    }
    if p.p_filesz > p.p_memsz {
        return Err(bad("file size exceeds memory size"));
    }
    let Some(file_end) = p.p_offset.checked_add(p.p_filesz) else {
        return Err(bad("extends past the largest file offset"));
    };
    match p.p_vaddr.checked_add(p.p_memsz) {
        Some(end) if end <= STUB_BASE => {}
        _ => return Err(bad("extends past the user address space")),
    }
    // padzero clears the rest of a writable segment's last file page; past the file's last
    // page that faults, and the exec fails.
    let clears = p.p_flags & ph::PF_W != 0 && p.p_memsz > p.p_filesz && p.p_filesz > 0 && file_end % PAGE != 0;
    if clears && file_end & !(PAGE - 1) >= file_len.div_ceil(PAGE) * PAGE {
        return Err(bad("its .bss starts in a page past the end of the file"));
    }
    Ok(Load {
        vaddr: p.p_vaddr,
        offset: p.p_offset,
        filesz: p.p_filesz,
        memsz: p.p_memsz,
        align: p.p_align,
        flags: p.p_flags,
    })
}

/// The kernel checks only that the last byte is a NUL: the path ends at the first one.
fn read_interp(src: &(impl Source + ?Sized), p: &ProgramHeader) -> Result<Vec<u8>, LoadError> {
    if p.p_filesz < 2 || p.p_filesz > MAX_INTERP {
        return Err(LoadError::Malformed("PT_INTERP has a bad size".into()));
    }
    // A short read of it is EIO (elf_read), not ENOEXEC.
    let short = LoadError::Io("PT_INTERP extends past the end of the file".into());
    let mut path = src.read_exact_at(p.p_offset, p.p_filesz, short)?;
    if path.last() != Some(&0) {
        return Err(LoadError::Malformed("PT_INTERP is not NUL-terminated".into()));
    }
    let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
    path.truncate(end);
    Ok(path)
}
