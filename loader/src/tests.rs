//! Tests of the pure loader parts: ELF validation, the load plan and the initial stack.

use crate::abi::{PlanView, SEGMENT_SIZE};
use crate::elf::{ElfImage, Kind, Load, PAGE};
use crate::plan::{segment, LoadPlan};
use crate::stack::{self, StackSpec};
use crate::LoadError;
use proptest::prelude::*;

/// A minimal ELF64 x86_64 file: header, program headers, then `body` bytes.
fn elf(e_type: u16, machine: u16, phdrs: &[[u64; 7]], extra_len: usize) -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // ELFCLASS64
    f[5] = 1; // little endian
    f[6] = 1;
    f[16..18].copy_from_slice(&e_type.to_le_bytes());
    f[18..20].copy_from_slice(&machine.to_le_bytes());
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..32].copy_from_slice(&0x401000u64.to_le_bytes()); // e_entry
    f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    f[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
    // Each phdr: [type|flags<<32, offset, vaddr, paddr, filesz, memsz, align].
    for p in phdrs {
        f.extend_from_slice(&(p[0] as u32).to_le_bytes());
        f.extend_from_slice(&((p[0] >> 32) as u32).to_le_bytes());
        for v in &p[1..] {
            f.extend_from_slice(&v.to_le_bytes());
        }
    }
    f.resize(f.len() + extra_len, 0);
    f
}

const PT_LOAD: u64 = 1;
const RX: u64 = 5 << 32;
const RW: u64 = 6 << 32;

fn load(flags: u64, off: u64, vaddr: u64, filesz: u64, memsz: u64) -> [u64; 7] {
    [PT_LOAD | flags, off, vaddr, vaddr, filesz, memsz, PAGE]
}

#[test]
fn parses_a_fixed_two_segment_program() {
    let f = elf(
        2,
        62,
        &[
            load(RX, 0, 0x400000, 0x1000, 0x1000),
            load(RW, 0x1000, 0x601000, 0x100, 0x3000),
        ],
        0x1100,
    );
    let img = ElfImage::parse(f.as_slice()).unwrap();
    assert_eq!(img.kind, Kind::Exec);
    assert_eq!(img.loads.len(), 2);
    assert_eq!(img.span(), (0x400000, 0x604000));
    assert_eq!(img.phdr_vaddr, 0x400040, "headers found inside the first PT_LOAD");
    assert!(img.interp.is_none());
}

#[test]
fn rejects_what_linux_rejects() {
    let ok_load = load(RX, 0, 0x400000, 0x100, 0x100);
    let arm = elf(2, 183, &[ok_load], 0x100);
    assert!(matches!(ElfImage::parse(arm.as_slice()), Err(LoadError::WrongArch(m)) if m.contains("aarch64")));
    let rel = elf(1, 62, &[ok_load], 0x100);
    assert!(matches!(
        ElfImage::parse(rel.as_slice()),
        Err(LoadError::Unsupported(_))
    ));
    let mut c32 = elf(2, 3, &[ok_load], 0x100);
    c32[4] = 1;
    assert!(matches!(ElfImage::parse(c32.as_slice()), Err(LoadError::Unsupported(m)) if m.contains("32-bit")));
    let f = elf(2, 62, &[ok_load], 0x100);
    assert!(
        matches!(ElfImage::parse(&f[..40]), Err(LoadError::Malformed(_))),
        "a short header reads as zero-padded: no program headers"
    );
    assert!(
        matches!(ElfImage::parse(&f[..80]), Err(LoadError::Truncated(_))),
        "program headers cut short"
    );
    assert_eq!(ElfImage::parse(&b"#!/bin/sh\n"[..]), Err(LoadError::NotExecutable));

    let bad = |phdrs: &[[u64; 7]]| ElfImage::parse(elf(2, 62, phdrs, 0x2000).as_slice());
    assert!(bad(&[]).is_err(), "no program headers");
    assert!(
        bad(&[load(RX, 0, 0x1000, 0x100, 0x100)]).is_err(),
        "below mmap_min_addr"
    );
}

#[test]
fn what_linux_fails_only_past_the_point_of_no_return_is_fatal() {
    let fatal = |phdrs: &[[u64; 7]]| {
        let img = ElfImage::parse(elf(2, 62, phdrs, 0x2000).as_slice()).expect("execve does not fail");
        img.fatal.is_some()
    };
    assert!(
        fatal(&[load(RX, 0x10, 0x400000, 0x100, 0x100)]),
        "offset and vaddr incongruent"
    );
    assert!(fatal(&[load(RX, 0, 0x400000, 0x200, 0x100)]), "filesz > memsz");
    assert!(fatal(&[[3, 0x1000, 0, 0, 4, 4, 1]]), "no PT_LOAD");
    assert!(
        fatal(&[load(RW, 0x3000, 0x403000, 0x10, 0x100)]),
        "clearing .bss past EOF"
    );
    assert!(
        !fatal(&[load(RW, 0x1000, 0x401000, 0x10, 0x100)]),
        "clearing .bss in the last page"
    );
    let rel = elf(1, 62, &[load(RX, 0, 0x400000, 0x100, 0x100)], 0x100);
    assert!(
        ElfImage::parse_interpreter(rel.as_slice()).unwrap().fatal.is_some(),
        "an ET_REL interpreter"
    );
}

#[test]
fn accepts_what_linux_accepts() {
    let ok = |phdrs: &[[u64; 7]]| ElfImage::parse(elf(2, 62, phdrs, 0x2000).as_slice());
    ok(&[load(RX, 0, 0x400000, 0x100000, 0x100000)]).expect("file range past the end of the file");
    let img = ok(&[
        load(RW, 0x1000, 0x501000, 0x10, 0x10),
        load(RX, 0, 0x400000, 0x100, 0x2000),
        load(RW, 0x1000, 0x401000, 0x10, 0x10),
    ])
    .expect("unsorted and overlapping");
    assert_eq!(img.loads[0].vaddr, 0x501000, "kept in program-header order");
    assert_eq!(img.span(), (0x400000, 0x502000));
    let img = ok(&[[PT_LOAD | RX, 0, 0x400000, 0, 0x100, 0x100, 0x3000]]).expect("alignment 0x3000");
    assert_eq!(img.align(), PAGE, "a p_align that is no power of two is ignored");
    for (class, data) in [(0, 0), (1, 2), (3, 1)] {
        let mut f = elf(2, 62, &[load(RX, 0, 0x400000, 0x100, 0x100)], 0x100);
        (f[4], f[5], f[6], f[7]) = (class, data, 0, 9);
        ElfImage::parse(f.as_slice()).expect("EI_CLASS, EI_DATA, EI_VERSION and OSABI are not checked");
    }
}

#[test]
fn at_phdr_comes_from_the_last_pt_load_holding_the_table() {
    let pt_phdr = [6, 64, 0x123000, 0x123000, 112, 112, 8];
    let img = ElfImage::parse(elf(2, 62, &[pt_phdr, load(RX, 0, 0x400000, 0x100, 0x100)], 0x100).as_slice()).unwrap();
    assert_eq!(img.phdr_vaddr, 0x400040, "PT_PHDR is not looked at");
    let two = [load(RX, 0, 0x400000, 0x100, 0x100), load(RX, 0, 0x500000, 0x41, 0x41)];
    let img = ElfImage::parse(elf(2, 62, &two, 0x100).as_slice()).unwrap();
    assert_eq!(
        img.phdr_vaddr, 0x500040,
        "the later one wins; it need hold only the start"
    );
    let img = ElfImage::parse(elf(2, 62, &[load(RX, 0x1000, 0x401000, 0x100, 0x100)], 0x1100).as_slice()).unwrap();
    assert_eq!(img.phdr_vaddr, 0, "none: the load bias alone");
}

#[test]
fn reads_pt_interp_and_gnu_stack() {
    let path = b"/lib64/ld-linux-x86-64.so.2\0";
    let mut f = elf(
        3,
        62,
        &[
            load(RX, 0, 0, 0x1000, 0x1000),
            [3, 0x200, 0x200, 0x200, path.len() as u64, path.len() as u64, 1],
            [0x6474e551 | (7 << 32), 0, 0, 0, 0, 0, 16],
        ],
        0x1000,
    );
    f[0x200..0x200 + path.len()].copy_from_slice(path);
    let img = ElfImage::parse(f.as_slice()).unwrap();
    assert_eq!(img.kind, Kind::Dyn);
    assert_eq!(img.interp.as_deref(), Some(&path[..path.len() - 1]));
    assert!(img.exec_stack);
    f[0x200 + 5] = 0;
    let img = ElfImage::parse(f.as_slice()).unwrap();
    assert_eq!(
        img.interp.as_deref(),
        Some(&b"/lib6"[..]),
        "the path ends at its first NUL"
    );
    assert!(ElfImage::parse_interpreter(f.as_slice()).unwrap().interp.is_none());
    f[0x200 + path.len() - 1] = b'x';
    assert!(ElfImage::parse(f.as_slice()).is_err(), "PT_INTERP without NUL");
    assert!(
        ElfImage::parse_interpreter(f.as_slice()).is_ok(),
        "an interpreter's is not read"
    );
}

#[test]
fn parses_real_binaries() {
    for p in ["/bin/true", "/bin/sh", "/lib64/ld-linux-x86-64.so.2"] {
        let file = std::fs::File::open(p).unwrap();
        let img = ElfImage::parse(&crate::elf::FileSource::new(&file).unwrap()).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(!img.loads.is_empty());
    }
}

#[test]
fn bss_clears_the_rest_of_the_last_file_page() {
    // ld.so's RW segment on Debian 12: .bss ends mid-page, its early allocator uses the rest.
    let s = segment(&Load {
        vaddr: 0x31900,
        offset: 0x31900,
        filesz: 0x2810,
        memsz: 0x29d8,
        align: PAGE,
        flags: 6,
    });
    assert_eq!((s.map_start, s.map_len, s.file_off), (0x31000, 0x4000, 0x31000));
    assert_eq!((s.zero_start, s.zero_end), (0x34110, 0x35000));
    assert_eq!((s.anon_start, s.anon_end), (0, 0));
    assert_eq!(s.prot, 3);
    let ro = segment(&Load { flags: 4, ..ro_load() });
    assert_eq!(
        (ro.zero_start, ro.zero_end),
        (0, 0),
        "a read-only segment's last page keeps the file's bytes"
    );
    assert_eq!(
        (ro.anon_start, ro.anon_end, ro.prot, ro.anon_prot),
        (0x2000, 0x4000, 1, 3),
        "brk-like .bss"
    );
    let rx = segment(&Load { flags: 5, ..ro_load() });
    assert_eq!((rx.prot, rx.anon_prot), (5, 7));
    let empty = segment(&Load {
        vaddr: 0x1800,
        offset: 0x800,
        filesz: 0,
        memsz: 0,
        align: PAGE,
        flags: 6,
    });
    assert_eq!(
        (empty.map_len, empty.anon_start, empty.anon_end),
        (0, 0, 0),
        "nothing to map"
    );
}

fn ro_load() -> Load {
    Load {
        vaddr: 0x1000,
        offset: 0x1000,
        filesz: 0x800,
        memsz: 0x2800,
        align: PAGE,
        flags: 4,
    }
}

fn arb_load() -> impl Strategy<Value = Load> {
    (
        0u64..0x1000_0000,
        0u64..0x10_0000,
        0u64..0x10_0000,
        0u64..0x2_0000,
        0u32..8,
    )
        .prop_map(|(page, off_page, filesz, extra, flags)| {
            let vaddr = page * PAGE + (off_page % PAGE);
            Load {
                vaddr: vaddr + 0x10000,
                offset: off_page,
                filesz,
                memsz: filesz + extra,
                align: PAGE,
                flags,
            }
        })
}

proptest! {
    #[test]
    fn segment_plan_covers_exactly_what_the_elf_asks(l in arb_load()) {
        let s = segment(&l);
        let end = l.vaddr + l.memsz;
        // The file mapping is page aligned, congruent, and covers [vaddr, vaddr + filesz).
        prop_assert_eq!(s.map_start % PAGE, 0);
        prop_assert_eq!(s.map_len % PAGE, 0);
        prop_assert_eq!(s.file_off % PAGE, 0);
        prop_assert_eq!(l.vaddr - s.map_start, l.offset - s.file_off);
        if l.filesz > 0 {
            prop_assert!(s.map_start + s.map_len >= l.vaddr + l.filesz);
            prop_assert!(s.map_start + s.map_len < l.vaddr + l.filesz + PAGE);
        } else {
            prop_assert_eq!(s.map_len, 0);
        }
        // Every byte past filesz up to memsz reads as zero: cleared (if writable), or anonymous.
        let writable = l.flags & 2 != 0;
        if l.memsz > l.filesz && (writable || l.filesz == 0) {
            let bss = l.vaddr + l.filesz;
            let zeroed = |a: u64| (a >= s.zero_start && a < s.zero_end) || (a >= s.anon_start && a < s.anon_end);
            prop_assert!(zeroed(bss));
            prop_assert!(zeroed(end - 1));
            prop_assert!(s.map_start + s.map_len >= end || s.anon_end >= end, "memsz is mapped");
            prop_assert_eq!(s.anon_end % PAGE, 0);
        }
        if l.memsz > l.filesz && !writable && l.filesz > 0 {
            prop_assert_eq!((s.zero_start, s.zero_end), (0, 0));
            let file_end = s.map_start + s.map_len;
            prop_assert!(file_end >= end || (s.anon_end >= end && s.anon_start == file_end));
        }
        // Nothing is cleared inside the file's bytes.
        prop_assert!(s.zero_start == 0 || s.zero_start >= l.vaddr + l.filesz);
    }

    #[test]
    fn encoded_plans_decode(nsegs in 1usize..6, interp in any::<bool>(), execfn in "[a-z/]{1,40}") {
        let loads: Vec<Load> = (0..nsegs as u64).map(|i| Load { vaddr: 0x400000 + i * 0x10000, offset: i * 0x1000, filesz: 0x800, memsz: 0x1800, align: PAGE, flags: 5 }).collect();
        let img = ElfImage { kind: Kind::Exec, entry: 0x400100, phnum: nsegs as u16, phentsize: 56, phdr_vaddr: 0x400040, loads, interp: None, exec_stack: false, fatal: None };
        let plan = LoadPlan::new(execfn.as_bytes(), b"/bin/prog", &img, interp.then_some((&b"/lib/ld.so"[..], &img)));
        let bytes = plan.encode();
        let view = PlanView::parse(&bytes).expect("decodes");
        prop_assert_eq!(view.objects().len(), 1 + interp as usize);
        let h = *view.header();
        prop_assert_eq!(view.string(h.execfn).map(|s| &s[..s.len() - 1]), Some(execfn.as_bytes()));
        for (obj, want) in view.objects().iter().zip(&plan.objects) {
            prop_assert_eq!(obj.nsegs as usize, want.segments.len());
            for i in 0..obj.nsegs {
                prop_assert_eq!(view.segment(obj, i), Some(want.segments[i as usize]));
            }
        }
        // Any truncation or corruption of the length is refused, never misread.
        prop_assert!(PlanView::parse(&bytes[..bytes.len() - 1]).is_none());
        prop_assert!(PlanView::parse(&bytes[..SEGMENT_SIZE]).is_none());
    }

    #[test]
    fn initial_stack_reads_back_as_linux_lays_it_out(
        argv in proptest::collection::vec(any::<u64>(), 0..20),
        envp in proptest::collection::vec(any::<u64>(), 0..20),
        aux in proptest::collection::vec((1u64..60, any::<u64>()), 0..30),
        execfn in proptest::collection::vec(1u8..=255, 0..100),
        top_misalign in 0u64..16,
        random in any::<[u8; 16]>(),
    ) {
        let aux: Vec<(u64, u64)> = aux.into_iter().filter(|&(k, _)| k != stack::AT_EXECFN && k != stack::AT_RANDOM).collect();
        let spec = StackSpec { argv: &argv, envp: &envp, auxv: &aux, execfn: &execfn, random };
        let top = 0x7fff_0000_0000 + top_misalign;
        let mut mem = vec![0u8; spec.size()];
        let sp = stack::build(&spec, &mut mem, top).expect("size() is enough");
        let base = top - mem.len() as u64;
        let word = |a: u64| u64::from_le_bytes(mem[(a - base) as usize..(a - base) as usize + 8].try_into().unwrap());
        prop_assert_eq!(sp % 16, 0);
        prop_assert!(sp >= base);
        prop_assert_eq!(word(sp), argv.len() as u64);
        let mut at = sp + 8;
        for &a in &argv { prop_assert_eq!(word(at), a); at += 8; }
        prop_assert_eq!(word(at), 0); at += 8;
        for &e in &envp { prop_assert_eq!(word(at), e); at += 8; }
        prop_assert_eq!(word(at), 0); at += 8;
        let mut seen = Vec::new();
        loop {
            let (k, v) = (word(at), word(at + 8));
            at += 16;
            if k == stack::AT_NULL { break; }
            seen.push((k, v));
        }
        let execfn_at = seen.iter().find(|e| e.0 == stack::AT_EXECFN).expect("AT_EXECFN").1;
        let random_at = seen.iter().find(|e| e.0 == stack::AT_RANDOM).expect("AT_RANDOM").1;
        let s = (execfn_at - base) as usize;
        prop_assert_eq!(&mem[s..s + execfn.len()], execfn.as_slice());
        prop_assert_eq!(mem[s + execfn.len()], 0);
        let r = (random_at - base) as usize;
        prop_assert_eq!(&mem[r..r + 16], &random[..]);
        prop_assert!(at <= random_at, "vectors stay below the strings");
        prop_assert_eq!(&seen[..aux.len()], aux.as_slice());
        // Too little room is refused, never written out of bounds.
        let mut small = vec![0u8; 8];
        prop_assert!(stack::build(&spec, &mut small, top).is_none());
    }
}

#[test]
fn the_memory_layout_fields_are_read_from_proc_stat() {
    // A command name may hold spaces and parentheses: the fields start after the last ')'.
    let stat = b"16535 (a) b (c) R 16532 16532 16806 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 221766 3133440 388 \
18446744073709551615 94431882588160 94431882608041 140726408161488 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 \
94431882624048 94431882625664 94432660983808 140726408170198 140726408170218 140726408170218 140726408171499 0\n";
    let mm = crate::abi::mm_of_stat(stat).unwrap();
    assert_eq!(
        mm,
        [
            94431882588160,
            94431882608041,
            94431882624048,
            94431882625664,
            94432660983808,
            140726408161488,
            140726408170198,
            140726408170218,
            140726408170218,
            140726408171499
        ]
    );
    assert_eq!(crate::abi::mm_of_stat(b"16535 no name"), None);
    // Cut short: what is missing reads 0.
    assert_eq!(crate::abi::mm_of_stat(b"1 (x) R"), Some([0; 10]));
}
