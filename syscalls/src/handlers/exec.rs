//! execve and execveat: every program a guest starts goes through lxrun's loader.
//!
//! The handler does all of execve's checks up front (the file, its permissions, `#!` chains,
//! the ELF headers, PT_INTERP) so that a failure returns an errno to a still-intact process.
//! On success it leaves an encoded load plan pending on the process and asks the backend to
//! exec the loader stub instead, with the guest's own envp and (for scripts) the argv the
//! kernel would have built. The stub then fetches the plan with [`fetch_plan`].

use crate::context::SyscallCtx;
use crate::exec_cache::{FileKey, Known, Role};
use crate::memory::GuestPtr;
use crate::outcome::{Argv, ExecRewrite, Outcome};
use crate::process::PendingExec;
use crate::{Errno, SyscallArgs};
use lxrun_loader::elf::{is_elf, ElfImage, FileSource, EHDR_SIZE};
use lxrun_loader::plan::LoadPlan;
use lxrun_loader::script::{self, PREFIX_LEN};
use lxrun_loader::LoadError;
use lxrun_vfs::{Base, Resolved, PATH_MAX};

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::sync::Arc;
use std::time::SystemTime;

const CAP_SYS_RESOURCE: u32 = 24;

/// More argv entries than this is E2BIG (Linux's own limit is the stack size / 4).
const MAX_ARGS: usize = 1 << 21;

pub(crate) fn execve(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [path, argv, envp, ..] = call.args;
    exec(ctx, Base::Cwd, path, argv, envp, 0)
}

pub(crate) fn execveat(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [dirfd, path, argv, envp, flags, _] = call.args;
    let dirfd = dirfd as i32;
    let flags = flags as i32;
    if flags & !(libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let base = if dirfd == libc::AT_FDCWD {
        Base::Cwd
    } else {
        Base::Fd(dirfd)
    };
    exec(ctx, base, path, argv, envp, flags)
}

/// What execve found to run.
struct Program {
    exe: Resolved,
    image: ElfImage,
    file: File,
    interp: Option<(Resolved, ElfImage, File)>,
    /// argv as rewritten by `#!` lines (None: the guest's argv is used unchanged).
    argv: Option<Vec<Vec<u8>>>,
}

/// A failed exec: the errno for the guest, the words for a human.
struct ExecFailure {
    errno: Errno,
    why: String,
}

impl ExecFailure {
    fn new(errno: Errno, why: impl Into<String>) -> Self {
        ExecFailure { errno, why: why.into() }
    }
    fn load(e: LoadError) -> Self {
        ExecFailure {
            errno: Errno::from_raw(e.errno()),
            why: e.to_string(),
        }
    }
}

fn exec(
    ctx: &mut SyscallCtx<'_>,
    base: Base,
    path_ptr: u64,
    argv_ptr: u64,
    envp: u64,
    flags: i32,
) -> Result<Outcome, Errno> {
    let path = ctx
        .mem
        .read_cstring(GuestPtr::new(path_ptr), PATH_MAX - 1, Errno::ENAMETOOLONG)?;
    // The name Linux gives the program (AT_EXECFN, a script's argument): the path as passed,
    // or /dev/fd/N[/path] when it is relative to a dirfd.
    let empty = path.is_empty() && flags & libc::AT_EMPTY_PATH != 0;
    let filename = match base {
        Base::Fd(fd) if empty => format!("/dev/fd/{fd}").into_bytes(),
        Base::Fd(fd) if path.first() != Some(&b'/') => [format!("/dev/fd/{fd}/").into_bytes(), path.clone()].concat(),
        _ => path.clone(),
    };
    let first = if empty {
        let Base::Fd(fd) = base else { return Err(Errno::ENOENT) };
        ctx.resolve_fd(fd)
    } else {
        ctx.resolve(base, &path, flags & libc::AT_SYMLINK_NOFOLLOW == 0)
    }
    .and_then(existing)
    .map_err(|e| ExecFailure::new(e, e.description()));
    // A name relative to a close-on-exec dirfd (or the descriptor itself): the /dev/fd name a
    // `#!` interpreter would be given is gone once the exec closes it, and the kernel refuses
    // a script so named at once (ENOENT, BINPRM_FLAGS_PATH_INACCESSIBLE).
    let inaccessible = match base {
        Base::Fd(fd) if empty || path.first() != Some(&b'/') => crate::fds::close_on_exec(ctx.tid, fd).unwrap_or(false),
        _ => false,
    };
    let program = first.and_then(|r| find_program(ctx, r, &filename, argv_ptr, inaccessible));
    let program = match program {
        Ok(p) => p,
        Err(f) => {
            tracing::debug!(tid = ctx.tid, path = %String::from_utf8_lossy(&path), "execve fails: {} ({})", f.why, f.errno.name());
            ctx.process.state().exec_error = Some(f.why);
            return Err(f.errno);
        }
    };

    // The stub opens its objects by these names where no backend hands it the files: named
    // as from the process's root, which its lookups start from.
    let root = ctx.process.fs().root.clone();
    let interp = program.interp.as_ref().map(|(r, _, _)| under_root(&root, &r.guest));
    let mut plan = LoadPlan::new(
        &filename,
        &under_root(&root, &program.exe.guest),
        &program.image,
        program
            .interp
            .as_ref()
            .zip(interp.as_ref())
            .map(|((_, image, _), path)| (path.as_slice(), image)),
    );
    plan.fast_path = ctx.world.fast_path.get().cloned();
    if let Some(why) = program
        .image
        .fatal
        .as_ref()
        .or(program.interp.as_ref().and_then(|i| i.1.fatal.as_ref()))
    {
        tracing::debug!(
            tid = ctx.tid,
            "execve goes ahead to a SIGSEGV, as the kernel's load would: {why}"
        );
    }
    let argv = match program.argv {
        None => Argv::Guest(argv_ptr),
        Some(prefix) => {
            let guest = ctx.mem.read_ptr_array(GuestPtr::new(argv_ptr), MAX_ARGS)?;
            Argv::Prefixed {
                prefix,
                rest: guest.into_iter().skip(1).collect(),
            }
        }
    };
    let setid = fake_setid(ctx, &program.exe);
    let mut state = ctx.process.state();
    let mut files = vec![std::sync::Arc::new(program.file)];
    files.extend(program.interp.map(|(_, _, f)| std::sync::Arc::new(f)));
    state.pending_exec = Some(PendingExec {
        plan,
        files,
        exe: program.exe.guest,
        setid,
    });
    state.exec_error = None;
    Ok(Outcome::Exec(ExecRewrite { argv, envp }))
}

/// A fake root's set-id program: the recorded owner (set-user-id bit) and group (set-group-id
/// with group execute) the new program runs as.
fn fake_setid(ctx: &SyscallCtx<'_>, exe: &Resolved) -> (Option<u32>, Option<u32>) {
    let (Some(fake), Some(o)) = (ctx.world.fake.as_ref(), exe.opened.as_ref()) else {
        return (None, None);
    };
    let Ok((_, m)) = lxrun_vfs::meta::of(o, fake.host) else {
        return (None, None);
    };
    let uid = (m.mode & libc::S_ISUID != 0).then_some(m.uid);
    let gid = (m.mode & (libc::S_ISGID | libc::S_IXGRP) == (libc::S_ISGID | libc::S_IXGRP)).then_some(m.gid);
    (uid, gid)
}

/// A fake identity executes only what the recorded mode lets it (root: any execute bit).
fn fake_may_exec(ctx: &SyscallCtx<'_>, r: &Resolved) -> Result<(), ExecFailure> {
    let (Some(fake), Some(id), Some(o)) = (ctx.world.fake.as_ref(), ctx.identity(), r.opened.as_ref()) else {
        return Ok(());
    };
    match super::owner::seen(fake, o) {
        Ok((st, m)) if st.st_mode & libc::S_IFMT == libc::S_IFREG && !super::owner::permitted(&id, &m, 1) => Err(
            ExecFailure::new(Errno::EACCES, "Permission denied (no execute permission)"),
        ),
        _ => Ok(()),
    }
}

/// Follows `#!` lines from `first` to an ELF program and its interpreter, checking what Linux
/// checks. `filename` is the name the guest used; `argv_ptr` its argv (read only for scripts);
/// `inaccessible`: that name will not exist for an interpreter to open.
fn find_program(
    ctx: &SyscallCtx<'_>,
    first: Resolved,
    filename: &[u8],
    argv_ptr: u64,
    inaccessible: bool,
) -> Result<Program, ExecFailure> {
    let mut current = first;
    let mut name = filename.to_vec();
    // The argv a `#!` chain builds: interpreter, its argument, the script's name, then the
    // guest's argv[1..]. Only the new leading strings are kept here.
    let mut prefix: Option<Vec<Vec<u8>>> = None;
    for _ in 0..=script::MAX_DEPTH {
        let (file, key) = open_executable(ctx, &current).map_err(|f| match prefix {
            Some(_) => ExecFailure::new(
                f.errno,
                format!("bad interpreter {}: {}", String::from_utf8_lossy(&name), f.why),
            ),
            None => f,
        })?;
        let known = ctx
            .world
            .exec_cache
            .get_or_learn(&key, Role::Program, SystemTime::now(), || {
                learn_program(&file, key.size)
            })?;
        let head = match &*known {
            Known::Elf(image) => {
                let interp = match &image.interp {
                    Some(path) => Some(load_interp(ctx, path)?),
                    None => None,
                };
                return Ok(Program {
                    exe: current,
                    image: image.clone(),
                    file,
                    interp,
                    argv: prefix,
                });
            }
            Known::Script(head) => head.as_slice(),
        };
        if inaccessible && prefix.is_none() && head.starts_with(b"#!") {
            return Err(ExecFailure::new(
                Errno::ENOENT,
                format!(
                    "a script named {} (close-on-exec): its interpreter could not open it",
                    String::from_utf8_lossy(&name)
                ),
            ));
        }
        let Some(sb) = script::parse(head).map_err(ExecFailure::load)? else {
            return Err(ExecFailure::load(LoadError::NotExecutable));
        };
        let mut next = vec![sb.interpreter.clone()];
        next.extend(sb.arg);
        next.push(name);
        // The previous level's argv[0] (its interpreter, or the guest's argv[0]) is replaced.
        if let Some(old) = prefix.take() {
            next.extend(old.into_iter().skip(1));
        } else {
            // Validate the guest's argv now, so EFAULT comes before any work is done.
            ctx.mem
                .read_ptr_array(GuestPtr::new(argv_ptr), MAX_ARGS)
                .map_err(|e| ExecFailure::new(e, "bad argv"))?;
        }
        prefix = Some(next);
        name = sb.interpreter.clone();
        current = resolve_interp(ctx, &sb.interpreter).map_err(|e| {
            ExecFailure::new(
                e,
                format!(
                    "bad interpreter {}: {}",
                    String::from_utf8_lossy(&sb.interpreter),
                    e.description()
                ),
            )
        })?;
    }
    Err(ExecFailure::load(LoadError::TooDeep))
}

/// A lookup whose final component must exist.
fn existing(r: Resolved) -> Result<Resolved, Errno> {
    if r.exists {
        Ok(r)
    } else {
        Err(Errno::ENOENT)
    }
}

/// Opens a file the way execve's open_exec accepts it: a regular file the caller may execute.
/// The type is checked on the lookup's O_PATH descriptor before any open for reading, and
/// that open does not wait: a FIFO, socket or device is EACCES at once, as in the kernel.
/// The same fstat names the file's content for the exec cache (the reopen is the same inode).
fn open_executable(ctx: &SyscallCtx<'_>, r: &Resolved) -> Result<(File, FileKey), ExecFailure> {
    let object = r
        .opened
        .as_ref()
        .ok_or_else(|| ExecFailure::new(Errno::ENOENT, Errno::ENOENT.description()))?;
    let meta = object
        .metadata()
        .map_err(|e| ExecFailure::new(Errno::from_io(&e), "cannot stat it"))?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        return Err(ExecFailure::new(Errno::ELOOP, "is a symbolic link"));
    }
    if ft.is_dir() {
        return Err(ExecFailure::new(Errno::EACCES, "is a directory"));
    }
    if !ft.is_file() {
        let what = if ft.is_fifo() || ft.is_socket() || ft.is_char_device() || ft.is_block_device() {
            "a special file"
        } else {
            "not a regular file"
        };
        return Err(ExecFailure::new(Errno::EACCES, format!("is {what}")));
    }
    fake_may_exec(ctx, r)?;
    // MAY_EXEC as the kernel checks it: with the caller's filesystem ids and groups (once it
    // has changed them; lxrun's own are root's). A worker thread that takes a non-zero fsuid
    // loses its filesystem capabilities, as the guest's task has, so root's bypass (any
    // execute bit) applies only to a guest that is root. AT_EACCESS: the fsuid, not the
    // real uid.
    let as_guest = ctx.as_guest().map_err(|e| ExecFailure::new(e, e.description()))?;
    // SAFETY: an empty C string and the descriptor of the file being checked.
    let denied = unsafe {
        libc::syscall(
            libc::SYS_faccessat2,
            object.fd().as_raw_fd(),
            c"".as_ptr(),
            libc::X_OK,
            libc::AT_EACCESS | libc::AT_EMPTY_PATH,
        )
    } != 0;
    let e = Errno::last();
    drop(as_guest);
    if denied {
        return Err(ExecFailure::new(
            e,
            if e == Errno::EACCES {
                "Permission denied (no execute permission)".into()
            } else {
                e.description()
            },
        ));
    }
    let file = object
        .reopen(libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .map_err(|e| Errno::from_io(&e))
        .map_err(|e| ExecFailure::new(e, e.description()))?;
    Ok((file, FileKey::of(&meta)))
}

/// Reads what execve needs of a program file of `len` bytes: its parsed ELF headers, or the
/// first bytes of anything else (a `#!` line).
fn learn_program(file: &File, len: u64) -> Result<Arc<Known>, ExecFailure> {
    let mut head = [0u8; PREFIX_LEN];
    let n = read_prefix(file, &mut head).map_err(|e| ExecFailure::new(e, "cannot read it"))?;
    let head = &head[..n];
    if !is_elf(head) {
        return Ok(Arc::new(Known::Script(head.to_vec())));
    }
    let image = ElfImage::parse(&FileSource::with_len(file, len)).map_err(ExecFailure::load)?;
    Ok(Arc::new(Known::Elf(image)))
}

fn read_prefix(file: &File, buf: &mut [u8]) -> Result<usize, Errno> {
    use std::os::unix::fs::FileExt;
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(Errno::from_io(&e)),
        }
    }
    Ok(n)
}

/// Looks up an interpreter's name (`#!` or PT_INTERP) as open_exec does: an empty name is the
/// walk's starting point, the working directory (so EACCES, a directory).
fn resolve_interp(ctx: &SyscallCtx<'_>, name: &[u8]) -> Result<Resolved, Errno> {
    let name = if name.is_empty() { &b"."[..] } else { name };
    ctx.resolve(Base::Cwd, name, true).and_then(existing)
}

/// Opens and validates the program's PT_INTERP inside the guest's filesystem.
fn load_interp(ctx: &SyscallCtx<'_>, path: &[u8]) -> Result<(Resolved, ElfImage, File), ExecFailure> {
    let shown = String::from_utf8_lossy(path).into_owned();
    let r = resolve_interp(ctx, path)
        .map_err(|e| ExecFailure::new(e, format!("interpreter {shown}: {}", e.description())))?;
    // The kernel opens it as it opens the program (open_exec): the same checks, same errnos.
    let (file, key) =
        open_executable(ctx, &r).map_err(|f| ExecFailure::new(f.errno, format!("interpreter {shown}: {}", f.why)))?;
    let known = ctx
        .world
        .exec_cache
        .get_or_learn(&key, Role::Interpreter, SystemTime::now(), || {
            learn_interp(&file, key.size)
        })
        .map_err(|f| ExecFailure::new(f.errno, format!("interpreter {shown}: {}", f.why)))?;
    match &*known {
        Known::Elf(image) => Ok((r, image.clone(), file)),
        Known::Script(_) => Err(ExecFailure::new(
            Errno::ELIBBAD,
            format!("interpreter {shown}: not ELF"),
        )),
    }
}

/// Parses an interpreter of `len` bytes as the kernel's load_elf_interp would.
fn learn_interp(file: &File, len: u64) -> Result<Arc<Known>, ExecFailure> {
    // The kernel reads its ELF header in full (a short read is EIO), then answers ELIBBAD for
    // one it cannot load; it reads no PT_INTERP of the interpreter's own.
    if len < EHDR_SIZE {
        return Err(ExecFailure::new(Errno::EIO, "shorter than an ELF header"));
    }
    let image = ElfImage::parse_interpreter(&FileSource::with_len(file, len))
        .map_err(|e| ExecFailure::new(Errno::ELIBBAD, e.to_string()))?;
    Ok(Arc::new(Known::Elf(image)))
}

/// lxrun's private call from the loader stub: copy the pending plan into `buf`.
pub(crate) fn fetch_plan(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    let [buf, len, ..] = call.args;
    let pending = ctx.process.state().pending_exec.take().ok_or(Errno::ENOSYS)?;
    let mut plan = pending.plan;
    plan.announce_entry = std::mem::take(&mut ctx.process.state().announce_entry);
    // A fake root's ids as the exec leaves them, for the auxv (applied once the plan is out).
    let identity = ctx.world.fake.as_ref().map(|fake| {
        let mut id = ctx
            .process
            .state()
            .identity
            .clone()
            .unwrap_or_else(|| fake.start.clone());
        let (uid, gid) = pending.setid;
        let secure = id.exec(uid, gid);
        plan.ids = Some([id.uid[0], id.uid[1], id.gid[0], id.gid[1], u32::from(secure)]);
        id
    });
    if plan.encode().len() as u64 > len {
        return Err(Errno::E2BIG);
    }
    if !may_set_auxv() {
        plan.mm = mm_of(ctx.tid);
    }
    // Where the backend can, the files checked at execve go straight into the process: the
    // stub maps exactly those (and makes no call to open them).
    if let Some(install) = ctx.install_fd {
        for (object, file) in plan.objects.iter_mut().zip(&pending.files) {
            object.fd = Some(install(std::os::fd::AsFd::as_fd(file.as_ref()), None)?);
        }
        // The fast path's absolute lookups start from the root's directory, at a number
        // programs seldom reach (the handler checks it still is the root before each use).
        // After a chroot there is none: the handler leaves absolute paths to lxrun. Nor with
        // the host's own tree, where no path call traps at all.
        let chrooted = ctx.process.fs().root != b"/";
        let needed = !chrooted && !ctx.world.vfs.is_identity();
        if let Some(fast) = plan.fast_path.as_mut().filter(|_| needed) {
            let root = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(ctx.world.vfs.host_of_canonical(b"/"));
            if let Ok(root) = root {
                fast.root_fd = install(std::os::fd::AsFd::as_fd(&root), Some(root_fd_number())).ok();
            }
        }
    }
    let plan = plan.encode();
    ctx.mem.write_bytes(buf, &plan)?;
    let n = plan.len() as i64;
    let mut state = ctx.process.state();
    state.exe = pending.exe;
    // The exec has happened: a fake root's ids change as the kernel's would.
    if identity.is_some() {
        state.identity = identity;
    }
    Ok(Outcome::Return(n))
}

/// Whether lxrun, and so (unless it dropped it) the guest, holds CAP_SYS_RESOURCE: then the
/// stub's PR_SET_MM_AUXV sets the auxv, and needs no memory layout for PR_SET_MM_MAP.
fn may_set_auxv() -> bool {
    static HELD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HELD.get_or_init(|| crate::creds::Status::of(0).is_some_and(|s| s.has_cap(CAP_SYS_RESOURCE)))
}

/// Thread `tid`'s memory layout fields (`abi::FLAG_MM`), read while it waits for its plan,
/// from the kernel's own fields just set by the exec of the stub. None where the kernel hides
/// them (zeros: lxrun may not read the process's memory layout).
fn mm_of(tid: i32) -> Option<[u64; 10]> {
    use std::io::Read;
    let mut file = std::fs::File::open(format!("/proc/{tid}/stat")).ok()?;
    let mut text = [0u8; 1024];
    let n = file.read(&mut text).ok()?;
    lxrun_loader::abi::mm_of_stat(text.get(..n)?).filter(|mm| mm[0] != 0)
}

/// Systrap mode: the stub's handler hands over a guest's execve/execveat (`abi::ExecRequest`).
/// Checked like any execve; on success the loader stub goes into the process (its fd is the
/// answer) and `argv_out` says which argv to exec it with.
pub(crate) fn exec_for_stub(ctx: &mut SyscallCtx<'_>, call: &SyscallArgs) -> Result<Outcome, Errno> {
    use lxrun_loader::abi::ExecRequest;
    let install = ctx.install_fd.ok_or(Errno::ENOSYS)?;
    let at = call.args[0];
    let mut raw = [0u8; std::mem::size_of::<ExecRequest>()];
    ctx.mem.read_bytes(at, &mut raw)?;
    let word = |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    let nr = word(0);
    let args = [word(1), word(2), word(3), word(4), word(5), word(6)];
    let (buf, buf_len) = (word(8), word(9));
    let guest_call = SyscallArgs { nr, args, ..*call };
    let outcome = match nr {
        n if n == libc::SYS_execve as u64 => execve(ctx, &guest_call)?,
        n if n == libc::SYS_execveat as u64 => execveat(ctx, &guest_call)?,
        _ => return Err(Errno::EINVAL),
    };
    let Outcome::Exec(rewrite) = outcome else {
        return Err(Errno::ENOSYS);
    };
    let argv = match rewrite.argv {
        crate::outcome::Argv::Guest(p) => p,
        crate::outcome::Argv::Prefixed { prefix, rest } => {
            // The pointer array, then the new strings, in the handler's buffer.
            let n = prefix.len() + rest.len() + 1;
            let mut strings = Vec::new();
            let mut ptrs = Vec::with_capacity(n);
            let strings_at = buf + 8 * n as u64;
            for s in &prefix {
                ptrs.push(strings_at + strings.len() as u64);
                strings.extend_from_slice(s);
                strings.push(0);
            }
            ptrs.extend(rest);
            ptrs.push(0);
            if 8 * n as u64 + strings.len() as u64 > buf_len {
                return Err(Errno::E2BIG);
            }
            let mut bytes: Vec<u8> = ptrs.iter().flat_map(|p| p.to_le_bytes()).collect();
            bytes.extend(strings);
            ctx.mem.write_bytes(buf, &bytes)?;
            buf
        }
    };
    let stub = ctx.world.stub_file().map_err(|e| Errno::from_io(&e))?;
    let fd = install(std::os::fd::AsFd::as_fd(stub), None)?;
    ctx.mem.write_bytes(at + 7 * 8, &argv.to_le_bytes())?;
    Ok(Outcome::Return(i64::from(fd)))
}

/// Canonical guest path `guest` as named from a process whose root is `root` (inside it).
fn under_root(root: &[u8], guest: &[u8]) -> Vec<u8> {
    match guest.strip_prefix(root) {
        Some(rest) if root != b"/" && rest.is_empty() => b"/".to_vec(),
        Some(rest) if root != b"/" && rest.first() == Some(&b'/') => rest.to_vec(),
        _ => guest.to_vec(),
    }
}

/// Where the root's directory goes in a guest process: just below the usual 1024-descriptor
/// limit (or lxrun's own, if lower).
pub(crate) fn root_fd_number() -> i32 {
    // SAFETY: getrlimit fills the struct.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur.min(1024) as i32
    } else {
        1024
    };
    soft - 1
}
