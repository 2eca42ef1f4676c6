//! The pure load plan: which pages to map from which file with which protections, which bytes
//! to clear, where the entry point and program headers are. Computed by the supervisor from
//! validated ELF images, encoded in the `abi` wire format, carried out by the stub.

use crate::abi::{self, Object, PlanHeader, Segment, Str};
use crate::elf::{ElfImage, Kind, Load, PAGE};

fn page_down(x: u64) -> u64 {
    x & !(PAGE - 1)
}

fn page_up(x: u64) -> u64 {
    x.div_ceil(PAGE) * PAGE
}

const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// PF_* segment flags to PROT_* bits.
fn prot(flags: u32) -> u32 {
    let mut p = 0;
    if flags & PF_R != 0 {
        p |= 1;
    }
    if flags & PF_W != 0 {
        p |= 2;
    }
    if flags & PF_X != 0 {
        p |= 4;
    }
    p
}

/// Cuts one PT_LOAD into a file mapping, a partial-page clear and anonymous .bss pages, as
/// the kernel's elf_load maps it.
pub fn segment(l: &Load) -> Segment {
    let map_start = page_down(l.vaddr);
    let file_end = l.vaddr + l.filesz;
    let mem_end = l.vaddr + l.memsz;
    let map_len = if l.filesz > 0 { page_up(file_end) - map_start } else { 0 };
    // padzero: with a .bss, the rest of the last file page is cleared to its end (ld.so's
    // early allocator uses the space after its _end), but only in a writable segment: the
    // kernel's clear of a read-only one fails and is ignored, the file's bytes stay.
    let clears = l.memsz > l.filesz && l.filesz > 0 && l.flags & PF_W != 0;
    let (zero_start, zero_end) = if clears && !file_end.is_multiple_of(PAGE) {
        (file_end, page_up(file_end))
    } else {
        (0, 0)
    };
    let anon_start = if l.filesz > 0 { page_up(file_end) } else { map_start };
    let anon_end = page_up(mem_end);
    let (anon_start, anon_end) = if anon_end > anon_start && l.memsz > l.filesz {
        (anon_start, anon_end)
    } else {
        (0, 0)
    };
    Segment {
        map_start,
        map_len,
        file_off: page_down(l.offset),
        zero_start,
        zero_end,
        anon_start,
        anon_end,
        prot: prot(l.flags),
        // The kernel maps the rest of .bss as brk memory: read-write whatever the flags.
        anon_prot: prot(l.flags | PF_R | PF_W),
    }
}

/// One object of a plan, before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPlan {
    pub path: Vec<u8>,
    pub fixed: bool,
    pub span: (u64, u64),
    pub align: u64,
    pub entry: u64,
    pub phdr: u64,
    pub phnum: u16,
    pub phent: u16,
    pub segments: Vec<Segment>,
    /// The file, already open in the new process (the stub opens `path` otherwise).
    pub fd: Option<i32>,
}

impl ObjectPlan {
    pub fn new(path: &[u8], image: &ElfImage) -> ObjectPlan {
        ObjectPlan {
            path: path.to_vec(),
            fixed: image.kind == Kind::Exec,
            span: image.span(),
            align: image.align(),
            entry: image.entry,
            phdr: image.phdr_vaddr,
            phnum: image.phnum,
            phent: image.phentsize,
            segments: image.loads.iter().map(segment).collect(),
            fd: None,
        }
    }
}

/// Everything the stub needs to turn itself into the guest program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadPlan {
    /// AT_EXECFN: the path the guest passed to execve.
    pub execfn: Vec<u8>,
    /// The process name, as Linux sets it: the file name, at most 15 bytes.
    pub comm: [u8; 16],
    pub exec_stack: bool,
    /// The program, then its interpreter if it has one.
    pub objects: Vec<ObjectPlan>,
    /// Install the in-process fast path (`abi::fast`) with this configuration.
    pub fast_path: Option<FastPathConfig>,
    /// The auxv's AT_UID, AT_EUID, AT_GID, AT_EGID and AT_SECURE, where they are not the
    /// kernel's (a fake root's).
    pub ids: Option<[u32; 5]>,
    /// The kernel would kill the process while loading it (see `ElfImage::fatal`).
    pub fatal: bool,
    /// A guest tracer traces the process: the stub announces its jump to the program.
    pub announce_entry: bool,
    /// The kernel's memory layout fields of the process (`abi::FLAG_MM`), where known.
    pub mm: Option<[u64; 10]>,
}

/// What the stub's fast path must know of the guest's filesystem view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastPathConfig {
    /// The last component of every mount point, `/`-separated.
    pub mount_names: Vec<u8>,
    /// st_dev of the guest's /proc.
    pub proc_dev: u64,
    /// st_dev and st_ino of the guest root's directory.
    pub root_dev: u64,
    pub root_ino: u64,
    /// The root's directory, open in the new process (set when the stub asks for the plan).
    pub root_fd: Option<i32>,
    /// The handler answers only O_PATH opens (a fake root's other opens check its fake ids
    /// against recorded modes, in lxrun).
    pub path_opens_only: bool,
}

impl LoadPlan {
    /// `exe` is the program at guest path `exe_path`, `interp` its PT_INTERP, if any.
    pub fn new(execfn: &[u8], exe_path: &[u8], exe: &ElfImage, interp: Option<(&[u8], &ElfImage)>) -> LoadPlan {
        let mut comm = [0u8; 16];
        let base = execfn.rsplit(|&c| c == b'/').next().unwrap_or_default();
        let n = base.len().min(15);
        comm[..n].copy_from_slice(&base[..n]);
        let mut objects = vec![ObjectPlan::new(exe_path, exe)];
        let mut fatal = exe.fatal.is_some();
        if let Some((path, image)) = interp {
            objects.push(ObjectPlan::new(path, image));
            fatal |= image.fatal.is_some();
        }
        LoadPlan {
            execfn: execfn.to_vec(),
            comm,
            exec_stack: exe.exec_stack,
            objects,
            fast_path: None,
            ids: None,
            fatal,
            announce_entry: false,
            mm: None,
        }
    }

    /// The wire form the stub reads (see `abi`).
    pub fn encode(&self) -> Vec<u8> {
        let nsegs: usize = self.objects.iter().map(|o| o.segments.len()).sum();
        let mut strings = Vec::new();
        let strings_at = abi::HEADER_SIZE + nsegs * abi::SEGMENT_SIZE;
        let mut add_string = |s: &[u8]| {
            let r = Str {
                off: (strings_at + strings.len()) as u32,
                len: s.len() as u32,
            };
            strings.extend_from_slice(s);
            strings.push(0);
            r
        };
        let mut header = PlanHeader {
            magic: abi::PLAN_MAGIC,
            flags: if self.exec_stack { abi::FLAG_EXEC_STACK } else { 0 }
                | if self.fatal { abi::FLAG_FATAL } else { 0 }
                | if self.announce_entry {
                    abi::FLAG_ANNOUNCE_ENTRY
                } else {
                    0
                },
            execfn: add_string(&self.execfn),
            comm: self.comm,
            nobjects: self.objects.len() as u32,
            ..Default::default()
        };
        if let Some(ids) = self.ids {
            header.flags |= abi::FLAG_IDS;
            header.ids = ids;
        }
        if let Some(mm) = self.mm {
            header.flags |= abi::FLAG_MM;
            header.mm = mm;
        }
        if let Some(fast) = &self.fast_path {
            header.flags |= abi::FLAG_FAST_PATH;
            if fast.path_opens_only {
                header.flags |= abi::FLAG_PATH_OPENS_ONLY;
            }
            header.mount_names = add_string(&fast.mount_names);
            header.proc_dev = fast.proc_dev;
            header.root_dev = fast.root_dev;
            header.root_ino = fast.root_ino;
            header.root_fd = fast.root_fd.map_or(0, |fd| fd as u32 + 1);
        }
        let mut segs = Vec::with_capacity(nsegs);
        for (slot, o) in header.objects.iter_mut().zip(&self.objects) {
            *slot = Object {
                path: add_string(&o.path),
                fixed: o.fixed as u32,
                nsegs: o.segments.len() as u32,
                first_seg: segs.len() as u32,
                phnum: u32::from(o.phnum),
                phent: u32::from(o.phent),
                fd: o.fd.map_or(0, |fd| fd as u32 + 1),
                span_start: o.span.0,
                span_end: o.span.1,
                align: o.align,
                entry: o.entry,
                phdr: o.phdr,
            };
            segs.extend_from_slice(&o.segments);
        }
        header.len = (strings_at + strings.len()) as u32;
        let mut out = Vec::with_capacity(header.len as usize);
        out.extend_from_slice(as_bytes(&header));
        for s in &segs {
            out.extend_from_slice(as_bytes(s));
        }
        out.extend_from_slice(&strings);
        out
    }
}

/// The bytes of a plain `#[repr(C)]` wire struct.
fn as_bytes<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: only used on the abi structs, which are repr(C), padding-free integer records.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
}
