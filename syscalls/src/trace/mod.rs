//! `--trace`: every syscall of every guest thread, decoded like `strace -f` prints it, or as
//! one JSON object per line.
//!
//! The printer sees events, never a backend: a call's entry (its arguments, read from guest
//! memory before lxrun's handler runs, so translated calls show what the guest asked for),
//! its exit (the result, and the arguments the kernel filled in), signals, and the end of
//! each task. Like strace, a call whose line is interrupted by another task's output is
//! finished later as `<... NAME resumed>`, and lines carry `[pid N] ` while more than one
//! task is alive.

pub(crate) mod consts;
pub(crate) mod decode;
pub mod fmt;
pub(crate) mod structs;

use crate::memory::GuestMemory;
use crate::table;
use crate::SyscallArgs;
use decode::{Spec, A};
use lxrun_vfs::Vfs;
use std::collections::{BTreeSet, HashMap};
use std::io::Write;

/// The column results are aligned to, as in strace.
const RESULT_COLUMN: usize = 40;

/// How trace lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// strace's notation.
    Text,
    /// One JSON object per event and line.
    Json,
}

/// What `--trace` was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceOptions {
    pub format: Format,
    /// Show the host path each guest path argument was translated to (`--trace-host`).
    pub host_paths: bool,
}

/// A call between its entry and its exit.
struct Pending {
    call: SyscallArgs,
    name: String,
    spec: Spec,
    /// Index of the first argument decoded at exit.
    split: usize,
    /// The arguments decoded at entry.
    entry: Vec<String>,
    /// (argument index, host path) for --trace-host.
    host: Vec<(usize, Vec<u8>)>,
}

/// The trace printer: one per lxrun run, fed by [`crate::observe::Observer`].
pub struct Printer {
    out: Box<dyn Write + Send>,
    options: TraceOptions,
    /// Tasks alive, for the `[pid N] ` prefix.
    live: BTreeSet<i32>,
    /// The task whose line is open (its entry written, its exit not yet), and the column.
    open: Option<(i32, usize)>,
    pending: HashMap<i32, Pending>,
    /// The call each task had interrupted with ERESTART_RESTARTBLOCK (for restart_syscall).
    interrupted: HashMap<i32, String>,
}

impl Printer {
    pub fn new(out: Box<dyn Write + Send>, options: TraceOptions) -> Printer {
        Printer {
            out,
            options,
            live: BTreeSet::new(),
            open: None,
            pending: HashMap::new(),
            interrupted: HashMap::new(),
        }
    }

    fn json(&self) -> bool {
        self.options.format == Format::Json
    }

    /// Writes text; a failing trace output (a closed pipe) must not stop the guest.
    fn put(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
    }

    fn prefix(&self, tid: i32) -> String {
        if self.live.len() > 1 {
            format!("[pid {tid:5}] ")
        } else {
            String::new()
        }
    }

    /// Ends another task's open line with ` <unfinished ...>`.
    fn interrupt(&mut self) {
        if self.open.take().is_some() {
            self.put(" <unfinished ...>\n");
        }
    }

    /// Writes a whole line for `tid`, interrupting any open line.
    fn line(&mut self, tid: i32, text: &str) {
        self.interrupt();
        let line = format!("{}{text}\n", self.prefix(tid));
        self.put(&line);
        let _ = self.out.flush();
    }

    /// Writes `)`, the padding to the result column and `= result`, ending the line.
    fn finish_line(&mut self, mut col: usize, tail: &str, result: &str) {
        let mut s = String::with_capacity(tail.len() + result.len() + RESULT_COLUMN);
        s.push_str(tail);
        s.push(')');
        col += tail.len() + 1;
        if col < RESULT_COLUMN {
            s.extend(std::iter::repeat_n(' ', RESULT_COLUMN - col));
        } else {
            s.push(' ');
        }
        s.push_str("= ");
        s.push_str(result);
        s.push('\n');
        self.put(&s);
        let _ = self.out.flush();
    }

    pub fn task_new(&mut self, tid: i32) {
        self.live.insert(tid);
    }

    /// A call's entry: its name and the arguments known now.
    pub fn entry(&mut self, tid: i32, call: &SyscallArgs, mem: &GuestMemory, vfs: &Vfs) {
        self.live.insert(tid);
        let native = call.arch == crate::AUDIT_ARCH_X86_64 && call.nr & crate::X32_SYSCALL_BIT == 0;
        let (name, spec) = match table::lookup(call.nr).filter(|_| native) {
            Some(e) => (e.name.to_string(), decode::spec(e.name)),
            // x32, 32-bit and unassigned numbers: no decoding, the number says what it was.
            None if native => (format!("syscall_{:#x}", call.nr), decode::spec("")),
            None if call.arch == crate::AUDIT_ARCH_X86_64 => (format!("x32:syscall_{:#x}", call.nr), decode::spec("")),
            None => (format!("i386:syscall_{:#x}", call.nr), decode::spec("")),
        };
        let (args, split) = decode::entry_args(&spec, call, mem);
        let mut entry: Vec<String> = args.iter().map(|(_, s)| s.clone()).collect();
        if spec.args.first() == Some(&A::RestartSyscall) {
            let what = self.interrupted.remove(&tid).unwrap_or_else(|| "system call".into());
            entry = vec![format!("<... resuming interrupted {what} ...>")];
        }
        let mut host = Vec::new();
        if self.options.host_paths {
            for (i, _) in args.iter().filter(|(i, _)| spec.args[*i] == A::Path) {
                if let Ok((guest, _)) =
                    mem.read_cstring_prefix(crate::memory::GuestPtr::new(call.args[*i]), fmt::PATH_LEN)
                {
                    host.push((*i, vfs.host_path_hint(tid, &guest)));
                }
            }
        }
        let pending = Pending {
            call: *call,
            name,
            spec,
            split,
            entry,
            host,
        };
        if !self.json() {
            let more = decode::exit_part_present(&pending.spec, split, call);
            let shown = self.decorated(&pending, &args.iter().map(|(i, _)| *i).collect::<Vec<_>>());
            let mut text = format!("{}{}(", self.prefix(tid), pending.name);
            text.push_str(&shown.join(", "));
            if more && !shown.is_empty() {
                text.push_str(", ");
            }
            self.interrupt();
            self.put(&text);
            self.open = Some((tid, text.len()));
        }
        self.pending.insert(tid, pending);
    }

    /// The entry arguments with their host paths appended (`"/etc/x"<host:"/etc/x">`).
    fn decorated(&self, p: &Pending, indexes: &[usize]) -> Vec<String> {
        p.entry
            .iter()
            .zip(indexes.iter().chain(std::iter::repeat(&usize::MAX)))
            .map(|(text, i)| match p.host.iter().find(|(h, _)| h == i) {
                Some((_, host)) => format!("{text}<host:{}>", fmt::quote(host, false)),
                None => text.clone(),
            })
            .collect()
    }

    /// A call's exit with its raw result (`-errno` for errors).
    pub fn exit(&mut self, tid: i32, ret: i64, mem: &GuestMemory) {
        let Some(p) = self.pending.remove(&tid) else {
            return;
        };
        if ret == -516 {
            self.interrupted.insert(tid, p.name.clone());
        }
        let outs = decode::exit_args(&p.spec, p.split, &p.call, mem, ret);
        let result = decode::result(&p.spec, &p.call, mem, ret);
        if self.json() {
            self.json_call(tid, &p, outs, Some(ret), &result);
            return;
        }
        let tail = outs.join(", ");
        match self.open {
            Some((t, col)) if t == tid => {
                self.open = None;
                self.finish_line(col, &tail, &result);
            }
            _ => {
                self.interrupt();
                let head = format!("{}<... {} resumed>", self.prefix(tid), p.name);
                self.put(&head);
                self.finish_line(head.len(), &tail, &result);
            }
        }
    }

    /// A call that never returned (exit, exit_group, a task killed in a call): `= ?`.
    fn unfinished_forever(&mut self, tid: i32) {
        let Some(p) = self.pending.remove(&tid) else {
            return;
        };
        if self.json() {
            self.json_call(tid, &p, Vec::new(), None, "?");
            return;
        }
        match self.open {
            Some((t, col)) if t == tid => {
                self.open = None;
                self.finish_line(col, "", "?");
            }
            _ => {
                self.interrupt();
                let head = format!("{}<... {} resumed>", self.prefix(tid), p.name);
                self.put(&head);
                self.finish_line(head.len(), "", "?");
            }
        }
    }

    /// A signal about to be delivered to `tid`; `info` is its siginfo.
    pub fn signal(&mut self, tid: i32, info: &[u8; 128]) {
        let sig = fmt::signal(fmt::le(info, 0, 4) as i32 as i64);
        let detail = structs::siginfo(info);
        if self.json() {
            let v = serde_json::json!({"pid": tid, "signal": sig, "siginfo": detail});
            self.json_line(&v);
        } else {
            self.line(tid, &format!("--- {sig} {detail} ---"));
        }
    }

    /// `tid` entered a group-stop.
    pub fn group_stop(&mut self, tid: i32, sig: i32) {
        let sig = fmt::signal(i64::from(sig));
        if self.json() {
            let v = serde_json::json!({"pid": tid, "stopped": sig});
            self.json_line(&v);
        } else {
            self.line(tid, &format!("--- stopped by {sig} ---"));
        }
    }

    /// `tid` exited with `code`.
    pub fn exited(&mut self, tid: i32, code: i32) {
        self.unfinished_forever(tid);
        if self.json() {
            let v = serde_json::json!({"pid": tid, "exited": code});
            self.json_line(&v);
        } else {
            self.line(tid, &format!("+++ exited with {code} +++"));
        }
        self.gone(tid);
    }

    /// `tid` was killed by `sig`.
    pub fn killed(&mut self, tid: i32, sig: i32, core: bool) {
        self.unfinished_forever(tid);
        let name = fmt::signal(i64::from(sig));
        if self.json() {
            let v = serde_json::json!({"pid": tid, "killed": name, "core_dumped": core});
            self.json_line(&v);
        } else {
            let core = if core { " (core dumped)" } else { "" };
            self.line(tid, &format!("+++ killed by {name}{core} +++"));
        }
        self.gone(tid);
    }

    fn gone(&mut self, tid: i32) {
        self.live.remove(&tid);
        self.pending.remove(&tid);
        self.interrupted.remove(&tid);
        if self.open.is_some_and(|(t, _)| t == tid) {
            self.open = None;
            self.put("\n");
        }
    }

    /// Thread `former` exec'd and now is `tid` (the thread group leader's id).
    pub fn exec(&mut self, tid: i32, former: i32) {
        if former == tid {
            return;
        }
        self.pending.remove(&tid);
        if let Some(p) = self.pending.remove(&former) {
            self.pending.insert(tid, p);
        }
        if let Some((t, col)) = self.open {
            if t == former {
                self.open = Some((tid, col));
            }
        }
        self.live.remove(&former);
    }

    fn json_call(&mut self, tid: i32, p: &Pending, outs: Vec<String>, ret: Option<i64>, result: &str) {
        let mut args = p.entry.clone();
        args.extend(outs);
        let mut v = serde_json::json!({
            "pid": tid,
            "syscall": p.name,
            "nr": p.call.nr,
            "args": args,
            "ret": ret,
            "result": result,
        });
        if let Some(r) = ret.filter(|r| fmt::is_error(*r)) {
            v["errno"] = serde_json::json!(fmt::errno_name(-r).unwrap_or("E?"));
        }
        if !p.host.is_empty() {
            v["host_paths"] = p
                .host
                .iter()
                .map(|(_, h)| String::from_utf8_lossy(h).into_owned())
                .collect();
        }
        self.json_line(&v);
    }

    fn json_line(&mut self, v: &serde_json::Value) {
        let line = format!("{v}\n");
        self.put(&line);
        let _ = self.out.flush();
    }

    /// Ends an open line and flushes the output (at the end of the run).
    pub fn flush(&mut self) {
        if self.open.take().is_some() {
            self.put(" <unfinished ...>\n");
        }
        let _ = self.out.flush();
    }
}
