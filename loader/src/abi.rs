//! The wire format between the supervisor and the loader stub.
//!
//! This file is shared verbatim by the std `loader` crate (which encodes plans) and the
//! `no_std` stub (which decodes them, via `#[path]`), so it uses `core` only.
//! All addresses in a plan are unbiased ELF virtual addresses: the stub picks the load base
//! (the kernel's mmap randomization gives PIE and the interpreter their ASLR) and adds it.

/// The private syscall number the stub uses to fetch its plan: `syscall(NR, buf, len)` returns
/// the plan's length (or -errno). Far above every number Linux assigns, below the x32 bit.
pub const SYS_LXRUN_PLAN: u64 = 0x4c58;

/// Systrap mode (no ptrace): the stub's SIGSYS handler hands a guest's execve/execveat here,
/// `syscall(NR, &ExecRequest)`; lxrun checks it as an execve, leaves the plan pending, puts
/// the loader stub into the process and answers with its fd number (and `argv_out`).
pub const SYS_LXRUN_EXEC: u64 = 0x4c59;
/// Systrap mode: `syscall(NR, path)` for a guest's chdir: lxrun resolves it, records the new
/// cwd and answers with an O_PATH fd of the directory, which the handler fchdirs to.
pub const SYS_LXRUN_CHDIR: u64 = 0x4c5a;
/// Systrap mode: `syscall(NR, nr, a0, a1, a2, a3)` for a guest's open, openat or openat2
/// (`nr`, and its first four arguments) with O_PATH, which lxrun opens as it would answer the
/// call but cannot install (SECCOMP_IOCTL_NOTIF_ADDFD refuses O_PATH files): it answers with
/// the number of a socket it put into the process, on which the descriptor waits (SCM_RIGHTS).
pub const SYS_LXRUN_OPEN_PATH: u64 = 0x4c5b;
/// seccomp-ptrace mode: an open that ptrace caught (openat2, whose flags no filter can read),
/// performed by lxrun on its descriptors; the guest's call becomes `syscall(NR)`, which the
/// user-notification worker answers by installing that descriptor (ADDFD), so the kernel never
/// reads a path from the guest's memory again.
pub const SYS_LXRUN_TAKE_FD: u64 = 0x4c5c;
/// Systrap mode: `syscall(NR, buf, len)` with `len` bytes of linux_dirent64s the kernel just
/// listed from /proc: lxrun drops the entries of processes outside the guest (as a pid
/// namespace of its own would show) and answers with the length left.
pub const SYS_LXRUN_PROC_PIDS: u64 = 0x4c5d;
/// The ptrace modes, for a process a guest tracer traces (`FLAG_ANNOUNCE_ENTRY`): the stub's
/// last call, `syscall(NR, entry, sp)`, made just before it jumps to the program, so that
/// lxrun can report the exec to the tracer at the program's first instruction (never in the
/// stub), with the registers the kernel's exec would leave.
pub const SYS_LXRUN_ENTRY: u64 = 0x4c5e;

/// Systrap mode: `syscall(NR)` for a guest's seccomp(SECCOMP_SET_MODE_STRICT) or
/// prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT): lxrun answers 0 where Linux would let the
/// process enter strict mode (no seccomp filter of its own yet), -EINVAL otherwise; the handler
/// then installs the filter that stands for it.
pub const SYS_LXRUN_STRICT: u64 = 0x4c5f;

/// What the handler passes with SYS_LXRUN_EXEC.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ExecRequest {
    /// The guest's call: execve or execveat, and its arguments.
    pub nr: u64,
    pub args: [u64; 6],
    /// Filled by lxrun: the argv to exec the stub with.
    pub argv_out: u64,
    /// Room lxrun may use for a new argv (a `#!` chain's).
    pub buf: u64,
    pub buf_len: u64,
}

/// Where the stub puts the copy of its last instructions (the page just below its image), so
/// that its calls from there are still recognizably the stub's.
pub const TRAMPOLINE_AT: u64 = 0x7ff0_0000_0000 - 4096;

/// First eight bytes of every plan.
pub const PLAN_MAGIC: u64 = u64::from_le_bytes(*b"LXPLAN01");

/// The largest plan the stub accepts (its static buffer).
pub const PLAN_MAX: usize = 64 * 1024;

/// `PlanHeader::flags`: the program asked for an executable stack (PT_GNU_STACK with PF_X).
pub const FLAG_EXEC_STACK: u32 = 1;

/// `PlanHeader::flags`: install the in-process fast path (see `fast`): the SIGSYS handler that
/// answers the commonest path calls inside the guest, and keep the stub's pages mapped, sealed.
pub const FLAG_FAST_PATH: u32 = 2;

/// `PlanHeader::flags`, with FLAG_FAST_PATH: the handler answers only O_PATH opens itself.
pub const FLAG_PATH_OPENS_ONLY: u32 = 4;

/// `PlanHeader::flags`: the auxv's ids are the plan's (`PlanHeader::ids`).
pub const FLAG_IDS: u32 = 8;

/// `PlanHeader::flags`: the kernel's load would fail past exec's point of no return: the stub
/// dies of SIGSEGV, as the kernel kills such a process (its objects may have no segments).
pub const FLAG_FATAL: u32 = 16;

/// `PlanHeader::flags`: announce the jump to the program with SYS_LXRUN_ENTRY (a guest
/// tracer traces the process).
pub const FLAG_ANNOUNCE_ENTRY: u32 = 32;

/// `PlanHeader::flags`: `PlanHeader::mm` holds the kernel's memory layout fields of the
/// process as the stub's exec left them (lxrun read them from /proc/PID/stat while the stub
/// waited for its plan): the stub's PR_SET_MM_MAP takes them instead of opening
/// /proc/self/stat, a round trip to lxrun fewer per exec.
pub const FLAG_MM: u32 = 64;

/// The fields of /proc/PID/stat (numbered from 1, as proc(5) does) that `PlanHeader::mm` holds,
/// in its order: start_code, end_code, start_data, end_data, start_brk, start_stack, arg_start,
/// arg_end, env_start, env_end.
pub const MM_FIELDS: [usize; 10] = [26, 27, 45, 46, 47, 28, 48, 49, 50, 51];

/// `MM_FIELDS` of a /proc/PID/stat text (a field that is not a number reads 0); None if the
/// text has no command name's closing parenthesis.
pub fn mm_of_stat(text: &[u8]) -> Option<[u64; 10]> {
    // The fields after the command name, which ends with the last ')', start at field 3.
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = text.get(close + 1..)?;
    let words = rest.split(|&b| b == b' ' || b == b'\n').filter(|w| !w.is_empty());
    let mut mm = [0u64; 10];
    for (field, word) in (3..).zip(words) {
        let value = word
            .iter()
            .try_fold(0u64, |v, &d| {
                d.is_ascii_digit()
                    .then(|| v.wrapping_mul(10).wrapping_add(u64::from(d - b'0')))
            })
            .unwrap_or(0);
        for (slot, _) in mm.iter_mut().zip(MM_FIELDS).filter(|(_, f)| *f == field) {
            *slot = value;
        }
    }
    Some(mm)
}

/// The in-process fast path's contract between lxrun's seccomp filter and the stub.
///
/// The filter sends the hot path calls (stat, lstat, open, openat, newfstatat; and openat2, for
/// its O_PATH opens) made anywhere but the stub to SECCOMP_RET_TRAP with [`fast::TRAP_DATA`]; the stub's SIGSYS handler tries
/// them as `openat2` beneath the caller's directory fd, without symlinks or mount crossings,
/// issued from one `syscall` instruction (the gate) that the filter lets through only with an
/// `open_how` from [`fast::HOW`], all read-only and all confined by RESOLVE_BENEATH. What the
/// handler cannot answer it re-issues from the stub, which the filter sends to lxrun as usual.
pub mod fast {
    /// `si_errno` of the SIGSYS the filter raises (the low 16 bits of SECCOMP_RET_DATA).
    pub const TRAP_DATA: u32 = 0x4c58;
    /// `si_errno` of the SIGSYS a guest's emulated strict mode raises for a call it forbids:
    /// the handler kills the process with SIGKILL, as the kernel's strict mode does.
    pub const STRICT_DATA: u32 = 0x4c59;
    /// Marks the gate in the stub's text so lxrun can find its address in the stub file.
    pub const MARKER: [u8; 16] = *b"LXRUN-FASTGATE01";
    /// RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH.
    pub const RESOLVE: u64 = 0x0f;
    /// The same with RESOLVE_IN_ROOT for BENEATH: absolute paths, from the root's fd.
    pub const RESOLVE_ROOTED: u64 = 0x17;
    /// Index bit of the entries with RESOLVE_ROOTED.
    pub const ROOTED: usize = 1 << BITS.len();
    pub const O_NONBLOCK: u64 = 0o4000;
    pub const O_DIRECTORY: u64 = 0o200000;
    pub const O_NOFOLLOW: u64 = 0o400000;
    pub const O_CLOEXEC: u64 = 0o2000000;
    pub const O_PATH: u64 = 0o10000000;
    /// The open flags the table varies, in index bit order.
    pub const BITS: [u64; 5] = [O_PATH, O_NOFOLLOW, O_DIRECTORY, O_CLOEXEC, O_NONBLOCK];
    /// Entries in [`HOW`]: one per combination of [`BITS`], beneath or rooted.
    pub const ENTRIES: usize = 2 << BITS.len();
    /// Bytes between entries (an `open_how` is 24; the filter checks 32-byte alignment).
    pub const STRIDE: usize = 32;

    /// The gate: its `syscall; ret` code, then every `open_how` it may be given
    /// (`[flags, mode, resolve, pad]`). Lives in the stub's text (read-only, sealed).
    #[repr(C, align(64))]
    pub struct Gate {
        pub marker: [u8; 16],
        pub code: [u8; 16],
        pub how: [[u64; 4]; ENTRIES],
    }

    /// Offset of the `syscall` instruction from the marker.
    pub const CODE_OFFSET: u64 = 16;
    /// Offset of the table from the marker.
    pub const HOW_OFFSET: u64 = 32;

    /// The `open_how` for a combination of [`BITS`] (index bit i set: BITS[i] set). O_PATH
    /// takes no O_NONBLOCK in openat2 (openat ignores it there).
    pub const fn how(index: usize) -> [u64; 4] {
        let mut flags = 0;
        let mut i = 0;
        while i < BITS.len() {
            if index & (1 << i) != 0 {
                flags |= BITS[i];
            }
            i += 1;
        }
        if flags & O_PATH != 0 {
            flags &= !O_NONBLOCK;
        }
        let resolve = if index & ROOTED != 0 { RESOLVE_ROOTED } else { RESOLVE };
        [flags, 0, resolve, 0]
    }

    /// The index of the entry for open `flags` (bits outside [`BITS`] ignored).
    pub const fn index(flags: u64) -> usize {
        let mut index = 0;
        let mut i = 0;
        while i < BITS.len() {
            if flags & BITS[i] != 0 {
                index |= 1 << i;
            }
            i += 1;
        }
        index
    }

    pub const fn table() -> [[u64; 4]; ENTRIES] {
        let mut t = [[0u64; 4]; ENTRIES];
        let mut i = 0;
        while i < ENTRIES {
            t[i] = how(i);
            i += 1;
        }
        t
    }

    /// `syscall`, `ret`, then `int3` padding.
    pub const CODE: [u8; 16] = [
        0x0f, 0x05, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
    ];

    /// Longest list of mount-point names (`PlanHeader::mount_names`) the stub keeps.
    pub const NAMES_MAX: usize = 1024;
}

/// A string inside the plan: `len` bytes at `off`, followed by a NUL (not counted).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Str {
    pub off: u32,
    pub len: u32,
}

/// One ELF object to map: the program, or its interpreter.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Object {
    /// The guest path the stub opens (already resolved and checked by the supervisor).
    pub path: Str,
    /// 1 for ET_EXEC (mapped at its own addresses), 0 for ET_DYN (anywhere).
    pub fixed: u32,
    pub nsegs: u32,
    pub first_seg: u32,
    pub phnum: u32,
    pub phent: u32,
    /// The object's file, already open in the process (lxrun put it there), as fd + 1;
    /// 0: the stub opens `path`.
    pub fd: u32,
    /// Page-aligned bounds of all PT_LOAD segments.
    pub span_start: u64,
    pub span_end: u64,
    /// Alignment of the load base (the largest PT_LOAD p_align, at least a page).
    pub align: u64,
    pub entry: u64,
    /// Where the program headers are in memory (for AT_PHDR).
    pub phdr: u64,
}

/// One PT_LOAD segment, already cut into page-granular steps.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// File-backed mapping `[map_start, map_start + map_len)` from `file_off` (0 length: none).
    pub map_start: u64,
    pub map_len: u64,
    pub file_off: u64,
    /// Bytes to clear inside the last file-backed page (the start of .bss).
    pub zero_start: u64,
    pub zero_end: u64,
    /// Anonymous zero pages for the rest of .bss.
    pub anon_start: u64,
    pub anon_end: u64,
    /// PROT_* bits of the file mapping.
    pub prot: u32,
    /// PROT_* bits of the anonymous pages (the kernel's brk-like mapping: always writable).
    pub anon_prot: u32,
}

/// The plan's fixed-size head; segments follow it, then strings.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanHeader {
    pub magic: u64,
    /// Total length of the plan in bytes.
    pub len: u32,
    pub flags: u32,
    /// AT_EXECFN: the path the guest passed to execve.
    pub execfn: Str,
    /// The process name (PR_SET_NAME): the program's file name, NUL-padded.
    pub comm: [u8; 16],
    /// 1 (static program) or 2 (program, then its PT_INTERP).
    pub nobjects: u32,
    pub _pad: u32,
    pub objects: [Object; 2],
    /// With FLAG_FAST_PATH: the last component of every mount point, `/`-separated (a path
    /// naming one of them may cross into a mount: the fast path leaves it to lxrun).
    pub mount_names: Str,
    pub _pad2: u32,
    pub _pad3: u32,
    /// With FLAG_FAST_PATH: st_dev of the guest's /proc, whose answers are lxrun's own.
    pub proc_dev: u64,
    /// With FLAG_FAST_PATH: the guest root's directory, open in the process (fd + 1; 0: none),
    /// and its st_dev and st_ino (the handler checks the fd still is it).
    pub root_fd: u32,
    pub _pad4: u32,
    pub root_dev: u64,
    pub root_ino: u64,
    /// With FLAG_IDS: AT_UID, AT_EUID, AT_GID, AT_EGID and AT_SECURE for the auxv, in that
    /// order (a fake root's, which the kernel does not know).
    pub ids: [u32; 5],
    pub _pad5: u32,
    /// With FLAG_MM: the process's memory layout, as `MM_FIELDS` lists it.
    pub mm: [u64; 10],
}

pub const HEADER_SIZE: usize = core::mem::size_of::<PlanHeader>();
pub const SEGMENT_SIZE: usize = core::mem::size_of::<Segment>();

/// A decoded view of a plan held in a byte buffer. Every accessor is bounds-checked.
pub struct PlanView<'a> {
    bytes: &'a [u8],
    header: PlanHeader,
}

impl<'a> PlanView<'a> {
    /// Checks the magic, the length and that every object's segments and strings lie inside.
    pub fn parse(bytes: &'a [u8]) -> Option<PlanView<'a>> {
        if bytes.len() < HEADER_SIZE {
            return None;
        }
        // SAFETY: the length was checked; PlanHeader is plain integers, any bytes are valid.
        let header: PlanHeader = unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast()) };
        if header.magic != PLAN_MAGIC || header.len as usize != bytes.len() {
            return None;
        }
        if header.nobjects == 0 || header.nobjects > 2 {
            return None;
        }
        let view = PlanView { bytes, header };
        view.string(header.execfn)?;
        if header.flags & FLAG_FAST_PATH != 0 {
            view.string(header.mount_names)?;
        }
        for obj in view.objects() {
            view.string(obj.path)?;
            let end = (obj.first_seg as usize).checked_add(obj.nsegs as usize)?;
            let seg_bytes = end.checked_mul(SEGMENT_SIZE)?.checked_add(HEADER_SIZE)?;
            if seg_bytes > bytes.len() || (obj.nsegs == 0 && header.flags & FLAG_FATAL == 0) {
                return None;
            }
        }
        Some(view)
    }

    pub fn header(&self) -> &PlanHeader {
        &self.header
    }

    pub fn objects(&self) -> &[Object] {
        self.header
            .objects
            .get(..self.header.nobjects as usize)
            .unwrap_or_default()
    }

    /// The string's bytes including its NUL terminator.
    pub fn string(&self, s: Str) -> Option<&'a [u8]> {
        let start = s.off as usize;
        let end = start.checked_add(s.len as usize)?;
        let with_nul = self.bytes.get(start..=end)?;
        (with_nul.last() == Some(&0)).then_some(with_nul)
    }

    /// Segment `i` of object `obj`.
    pub fn segment(&self, obj: &Object, i: u32) -> Option<Segment> {
        if i >= obj.nsegs {
            return None;
        }
        let idx = (obj.first_seg as usize).checked_add(i as usize)?;
        let off = HEADER_SIZE.checked_add(idx.checked_mul(SEGMENT_SIZE)?)?;
        let raw = self.bytes.get(off..off.checked_add(SEGMENT_SIZE)?)?;
        // SAFETY: `raw` is SEGMENT_SIZE bytes; Segment is plain integers.
        Some(unsafe { core::ptr::read_unaligned(raw.as_ptr().cast()) })
    }
}
