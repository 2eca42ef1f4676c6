//! Walker tests on a real directory tree, with the kernel's own confined lookup
//! (openat2 with RESOLVE_IN_ROOT) as the oracle.

use crate::{Base, Errno, Guests, MountKind, MountTable, ProcPaths, Resolved, Vfs, View};
use proptest::prelude::*;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

struct NoGuests;
impl Guests for NoGuests {
    fn caller(&self) -> (i32, i32) {
        let me = std::process::id() as i32;
        (me, me)
    }
    fn process_paths(&self, _: i32) -> Option<ProcPaths> {
        None
    }
}

/// root/
///   a/b/file, f, abs -> /a, rel -> a/b, up -> ../../../.., esc -> /../../etc,
///   loop1 -> loop2, loop2 -> loop1, hostpw -> /etc/passwd, dangling -> /nope, self -> .
fn tree() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("lxrun-vfs-tree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("a/b/file"), "x").unwrap();
        std::fs::write(root.join("f"), "f").unwrap();
        for (name, target) in [
            ("abs", "/a"),
            ("rel", "a/b"),
            ("up", "../../../.."),
            ("esc", "/../../etc"),
            ("loop1", "loop2"),
            ("loop2", "loop1"),
            ("hostpw", "/etc/passwd"),
            ("dangling", "/nope"),
            ("self", "."),
        ] {
            symlink(target, root.join(name)).unwrap();
        }
        std::fs::canonicalize(root).unwrap()
    })
}

fn vfs() -> Vfs {
    Vfs::new(MountTable::new(tree().clone()), tree().clone())
}

fn resolve(vfs: &Vfs, path: &str, follow: bool) -> Result<crate::Resolved, Errno> {
    let view = View {
        root: b"/",
        cwd: b"/a",
        guests: &NoGuests,
    };
    vfs.resolve(&view, Base::Cwd, path.as_bytes(), follow)
}

#[test]
fn symlinks_stay_inside_the_root() {
    let v = vfs();
    let r = resolve(&v, "/abs/b/file", true).unwrap();
    assert_eq!(r.guest, b"/a/b/file");
    assert_eq!(r.host, tree().join("a/b/file"));
    assert_eq!(resolve(&v, "/up/f", true).unwrap().guest, b"/f", ".. stops at the root");
    assert_eq!(resolve(&v, "/esc", true).unwrap().host, tree().join("etc"));
    assert!(
        !resolve(&v, "/hostpw", true).unwrap().exists,
        "the host's /etc/passwd is not the guest's"
    );
    assert_eq!(
        resolve(&v, "b/file", true).unwrap().guest,
        b"/a/b/file",
        "relative to the cwd"
    );
    assert_eq!(resolve(&v, "../../../f", true).unwrap().guest, b"/f");
    assert_eq!(resolve(&v, "/loop1", true).unwrap_err(), Errno::ELOOP);
    assert_eq!(
        resolve(&v, "/loop1", false).unwrap().guest,
        b"/loop1",
        "nofollow keeps the link"
    );
    assert_eq!(resolve(&v, "/f/x", true).unwrap_err(), Errno::ENOTDIR);
    assert_eq!(resolve(&v, "/f/", true).unwrap_err(), Errno::ENOTDIR);
    assert_eq!(resolve(&v, "/nope/x", true).unwrap_err(), Errno::ENOENT);
    assert_eq!(resolve(&v, "", true).unwrap_err(), Errno::ENOENT);
    let long = format!("/{}", "x".repeat(300));
    assert_eq!(resolve(&v, &long, true).unwrap_err(), Errno::ENAMETOOLONG);
    assert!(
        !resolve(&v, "/dangling", true).unwrap().exists,
        "O_CREAT through a dangling link creates inside"
    );
    assert_eq!(resolve(&v, "/dangling", true).unwrap().host, tree().join("nope"));
    assert_eq!(
        resolve(&v, "/self/self/a/../rel/file", true).unwrap().guest,
        b"/a/b/file"
    );
}

#[test]
fn mounts_cross_both_ways_and_glue_appears() {
    let mut t = MountTable::new(tree().clone());
    let data = std::env::temp_dir().join(format!("lxrun-vfs-data-{}", std::process::id()));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("d"), "d").unwrap();
    t.add(b"/mnt/deep/data", data.clone(), true, MountKind::Bind, "bind");
    let glue_dir = std::env::temp_dir().join(format!("lxrun-vfs-glue-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&glue_dir);
    let v = Vfs::new(t, glue_dir.clone());
    let r = resolve(&v, "/mnt/deep/data/d", true).unwrap();
    assert_eq!(r.host, data.join("d"));
    assert!(r.readonly);
    assert_eq!(
        resolve(&v, "/mnt/deep/data/../../../f", true).unwrap().host,
        tree().join("f")
    );
    let glue = resolve(&v, "/mnt/deep", true).unwrap();
    assert!(
        glue.exists && glue.host == glue_dir.join("t/mnt/deep"),
        "a missing mount point parent appears as a directory"
    );
    // Listed, it holds the names that lead on; its host path reads back as its guest path.
    let names = |p: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(glue_dir.join("t/mnt/deep").to_str().unwrap()), ["data"]);
    let mnt = resolve(&v, "/mnt", true).unwrap();
    assert_eq!(names(mnt.host.to_str().unwrap()), ["deep"]);
    assert_eq!(v.guest_of(&glue.host), Some(b"/mnt/deep".to_vec()));
    let _ = std::fs::remove_dir_all(&glue_dir);
    assert_eq!(v.guest_of(&data.join("d")), Some(b"/mnt/deep/data/d".to_vec()));
}

#[test]
fn proc_self_and_the_supervisor() {
    let v = Vfs::host_root();
    let view = View {
        root: b"/",
        cwd: b"/",
        guests: &NoGuests,
    };
    let me = std::process::id();
    // The caller here is this test process, which is also "the supervisor": its /proc entry is hidden.
    assert_eq!(
        v.resolve(&view, Base::Cwd, b"/proc/self/status", true).unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(
        v.resolve(&view, Base::Cwd, format!("/proc/{me}/root").as_bytes(), true)
            .unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(
        v.resolve(&view, Base::Cwd, b"/proc/1/root/etc", true).unwrap_err(),
        Errno::ENOENT,
        "not a guest"
    );
    assert!(v.resolve(&view, Base::Cwd, b"/proc/1/status", true).is_ok());
}

/// The kernel's answer for `path` looked up from `root` with RESOLVE_IN_ROOT.
fn kernel(root: &Path, path: &str) -> Option<PathBuf> {
    const RESOLVE_IN_ROOT: u64 = 0x10;
    kernel_with(root, path, RESOLVE_IN_ROOT).ok()
}

/// The kernel's answer (the object's path, or the errno) for `path` looked up from `root` with
/// openat2's `resolve` flags, following a final symlink.
fn kernel_with(root: &Path, path: &str, resolve: u64) -> Result<PathBuf, Errno> {
    let r = CString::new(root.as_os_str().as_bytes()).unwrap();
    let p = CString::new(path).unwrap();
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    // SAFETY: plain syscalls on valid C strings and a local struct; fds are closed below.
    unsafe {
        let dir = libc::open(r.as_ptr(), libc::O_PATH | libc::O_DIRECTORY);
        let how = OpenHow {
            flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
            mode: 0,
            resolve,
        };
        // A rename anywhere (the race test's) makes a confined `..` EAGAIN: ask again.
        let (fd, err) = loop {
            let fd = libc::syscall(libc::SYS_openat2, dir, p.as_ptr(), &how, size_of::<OpenHow>()) as i32;
            let err = Errno::last();
            if fd >= 0 || err != Errno::EAGAIN {
                break (fd, err);
            }
        };
        libc::close(dir);
        if fd < 0 {
            return Err(err);
        }
        let target = std::fs::read_link(format!("/proc/self/fd/{fd}"));
        libc::close(fd);
        Ok(target.unwrap())
    }
}

#[test]
fn beneath_is_exdev_where_the_lookup_would_leave() {
    let v = vfs();
    let view = View {
        root: b"/a",
        cwd: b"/a",
        guests: &NoGuests,
    };
    let beneath = |path: &str| v.resolve_beneath(&view, path.as_bytes(), true).map(|r| r.guest);
    assert_eq!(beneath("b/file"), Ok(b"/a/b/file".to_vec()));
    assert_eq!(
        beneath("b/../b/./file"),
        Ok(b"/a/b/file".to_vec()),
        "`..` inside is fine"
    );
    assert_eq!(beneath("/f").unwrap_err(), Errno::EXDEV, "absolute");
    assert_eq!(beneath("..").unwrap_err(), Errno::EXDEV, "`..` at the dirfd");
    assert_eq!(beneath("b/../../f").unwrap_err(), Errno::EXDEV);
    assert_eq!(
        beneath("nope/../..").unwrap_err(),
        Errno::ENOENT,
        "a missing directory first"
    );
    let root = View {
        root: b"/",
        cwd: b"/",
        guests: &NoGuests,
    };
    let beneath = |path: &str| v.resolve_beneath(&root, path.as_bytes(), true).map(|r| r.guest);
    assert_eq!(beneath("abs").unwrap_err(), Errno::EXDEV, "absolute symlink");
    assert_eq!(beneath("up").unwrap_err(), Errno::EXDEV, "symlink climbing out");
    assert_eq!(beneath("rel/file"), Ok(b"/a/b/file".to_vec()));
    assert_eq!(
        v.resolve_beneath(&root, b"abs", false).map(|r| r.guest),
        Ok(b"/abs".to_vec()),
        "a final symlink not followed"
    );
}

#[test]
fn dotdot_after_a_missing_directory_is_enoent() {
    // Found by the property test: `..` may only be lexical once every component is known to exist.
    let v = vfs();
    let view = View {
        root: b"/",
        cwd: b"/",
        guests: &NoGuests,
    };
    assert_eq!(
        v.resolve(&view, Base::Cwd, b"nope/../a/b/file", true).unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(v.resolve(&view, Base::Cwd, b"b/../a", true).unwrap_err(), Errno::ENOENT);
    assert_eq!(
        v.resolve(&view, Base::Cwd, b"f/../a/b", true).unwrap_err(),
        Errno::ENOTDIR
    );
    assert_eq!(
        v.resolve(&view, Base::Cwd, b"a/b/../b/file", true).unwrap().guest,
        b"/a/b/file"
    );
}

/// A resolution without its descriptors (each lookup opens its own).
fn unopened(r: Result<Resolved, Errno>) -> Result<(Vec<u8>, PathBuf, bool, bool, bool), Errno> {
    r.map(|r| (r.guest, r.host, r.exists, r.readonly, r.mount_root))
}

/// (device, inode).
type FileId = (u64, u64);

/// What a resolution's descriptors hold: (device, inode) of the object and of the entry's
/// directory, and the entry's name.
fn same_object(r: &Resolved) -> (Option<FileId>, Option<(FileId, Vec<u8>)>) {
    use std::os::unix::fs::MetadataExt;
    let id = |o: &crate::Opened| o.metadata().map(|m| (m.dev(), m.ino())).unwrap();
    (r.opened.as_ref().map(id), r.entry().map(|(d, n)| (id(&d), n)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn no_path_escapes_and_the_kernel_agrees(
        abs in any::<bool>(),
        parts in proptest::collection::vec(prop_oneof![
            Just("a"), Just("b"), Just(".."), Just("."), Just("abs"), Just("rel"), Just("up"),
            Just("esc"), Just("f"), Just("hostpw"), Just("self"), Just("etc"), Just("file"), Just("")
        ], 1..12),
    ) {
        let path = format!("{}{}", if abs { "/" } else { "" }, parts.join("/"));
        let v = vfs();
        let view = View { root: b"/", cwd: b"/", guests: &NoGuests };
        // The kernel-assisted fast path and the walker alone agree on everything but the
        // descriptor only the kernel's lookup leaves open.
        for follow in [true, false] {
            let walker = vfs().without_fast_path();
            let (fast, slow) = (v.resolve(&view, Base::Cwd, path.as_bytes(), follow), walker.resolve(&view, Base::Cwd, path.as_bytes(), follow));
            prop_assert_eq!(fast.as_ref().map(same_object), slow.as_ref().map(same_object), "{}", path);
            prop_assert_eq!(unopened(fast), unopened(slow), "{}", path);
        }
        match v.resolve(&view, Base::Cwd, path.as_bytes(), true) {
            Ok(r) => {
                prop_assert!(r.host.starts_with(tree()), "{path} escaped to {}", r.host.display());
                prop_assert!(r.guest.starts_with(b"/"));
                prop_assert!(!r.guest.split(|&c| c == b'/').any(|c| c == b".."));
                if r.exists {
                    prop_assert_eq!(kernel(tree(), &path), Some(r.host.clone()), "{}", path);
                } else {
                    prop_assert_eq!(kernel(tree(), &path), None, "{}", path);
                }
            }
            Err(_) => prop_assert_eq!(kernel(tree(), &path), None, "{}", path),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    #[test]
    fn beneath_agrees_with_the_kernel(
        abs in any::<bool>(),
        inside_a in any::<bool>(),
        parts in proptest::collection::vec(prop_oneof![
            Just("a"), Just("b"), Just(".."), Just("."), Just("abs"), Just("rel"), Just("up"),
            Just("esc"), Just("f"), Just("hostpw"), Just("self"), Just("etc"), Just("file"), Just("")
        ], 1..10),
    ) {
        const RESOLVE_BENEATH: u64 = 0x08;
        let path = format!("{}{}", if abs { "/" } else { "" }, parts.join("/"));
        let dir: &[u8] = if inside_a { b"/a" } else { b"/" };
        let host = if inside_a { tree().join("a") } else { tree().clone() };
        let v = vfs();
        let view = View { root: dir, cwd: dir, guests: &NoGuests };
        let ours = match v.resolve_beneath(&view, path.as_bytes(), true) {
            Ok(r) if r.exists => Ok(r.host),
            Ok(_) => Err(Errno::ENOENT),
            Err(e) => Err(e),
        };
        prop_assert_eq!(ours, kernel_with(&host, &path, RESOLVE_BENEATH), "{}", path);
    }
}
/// A directory and a symlink to `/` swapped (RENAME_EXCHANGE) in a loop by a second thread
/// while lookups go through the name: each lookup is the decoy inside the root, or fails, and
/// none reaches the host file of the same name (the walk acts on descriptors it holds, not on
/// a host path the kernel walks again).
#[test]
fn a_swap_race_never_leaves_the_root() {
    use std::os::unix::fs::MetadataExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    let secret_dir = std::env::temp_dir().join(format!("lxrun-vfs-secret-{}", std::process::id()));
    std::fs::create_dir_all(&secret_dir).unwrap();
    let secret = secret_dir.join("secret");
    std::fs::write(&secret, "host").unwrap();
    let secret_id = std::fs::metadata(&secret).map(|m| (m.dev(), m.ino())).unwrap();
    let root = std::env::temp_dir().join(format!("lxrun-vfs-race-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let rel = secret.strip_prefix("/").unwrap();
    std::fs::create_dir_all(root.join("d").join(rel.parent().unwrap())).unwrap();
    std::fs::write(root.join("d").join(rel), "decoy").unwrap();
    symlink("/", root.join("s")).unwrap();
    let root = std::fs::canonicalize(root).unwrap();
    // Both ways of resolving: the kernel-assisted fast path, and the walker alone.
    let fast = Vfs::new(MountTable::new(root.clone()), root.clone());
    let walker = Vfs::new(MountTable::new(root.clone()), root.clone()).without_fast_path();
    let stop = AtomicBool::new(false);
    let (d, s) = (
        CString::new(root.join("d").as_os_str().as_bytes()).unwrap(),
        CString::new(root.join("s").as_os_str().as_bytes()).unwrap(),
    );
    let path = format!("/d/{}", rel.display());
    let (mut decoys, mut escapes) = (0, 0);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: two valid C strings.
                unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        d.as_ptr(),
                        libc::AT_FDCWD,
                        s.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    );
                }
            }
        });
        let view = View {
            root: b"/",
            cwd: b"/",
            guests: &NoGuests,
        };
        for i in 0..20_000 {
            let v = if i % 2 == 0 { &fast } else { &walker };
            if let Ok(r) = v.resolve(&view, Base::Cwd, path.as_bytes(), true) {
                let Some(o) = r.opened else { continue };
                let m = o.metadata().unwrap();
                if (m.dev(), m.ino()) == secret_id {
                    escapes += 1;
                } else {
                    decoys += 1;
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&secret_dir);
    assert_eq!(escapes, 0, "lookups reached the host file ({decoys} reached the decoy)");
    assert!(decoys > 0, "the race never let a lookup through");
}
