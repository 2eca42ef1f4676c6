#!/usr/bin/env python3
"""Path-heavy workloads run natively (chroot), under lxrun with each backend, under PRoot and
under gVisor (runsc --platform=ptrace), interleaved round-robin in one run; prints medians,
min-max and ratios to native. A benchmark, never a test: nothing here asserts a speed.

  bench/compare.py [--runs N] [--smoke] [--only WORKLOAD,...] [--runners NAME,...] [--lxrun LABEL=PATH] [--markdown]

Besides the workloads: start-up (`RUNNER /bin/true` against `/bin/true`, on the host's tree,
interleaved, median of --startup-runs) and lxrun's own peak memory (VmHWM of the supervisor
process, sampled while it runs, the largest over all rounds).

The native column is `chroot ROOT /bin/sh -c WORK`, run and timed inside one mount
namespace made before the first round (`NativeNamespace`): it pays no set-up the others skip.

Needs root (chroot for the native oracle). The guest root is the Debian test root
(tests/debian-root.sh); runsc, which runs on the host's own tree, gets the same commands there
(so its find and tar walk the host's /usr, a different tree: its output is not compared).
"""
import argparse, os, shutil, statistics, subprocess, sys, threading, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where cargo builds it (.cargo/config.toml names the target, for the static link).
LXRUN = os.environ.get("LXRUN") or next(
    (p for p in (os.path.join(REPO, "target", "x86_64-unknown-linux-gnu", "release", "lxrun"),
                 os.path.join(REPO, "target", "release", "lxrun")) if os.path.exists(p)),
    "lxrun")

WORKLOADS = {
    "find": "find /usr -name '*.h' | wc -l",
    "tar": "tar cf - /usr/share/doc 2>/dev/null | wc -c",
    "git status": "cd /var/tmp/lxrun-bench/repo && git status --porcelain | wc -l",
    "python imports": "python3 -c 'import json, email.parser, http.client, sqlite3, decimal, xml.dom.minidom, asyncio, argparse'",
    "gcc -O0": "gcc -O0 -o /var/tmp/lxrun-bench/hello /var/tmp/lxrun-bench/hello.c",
    "100x fork+exec": "i=0; while [ $i -lt 100 ]; do /bin/true; i=$((i+1)); done",
    "ls -lR": "ls -lR /usr/lib /usr/share/perl5 | wc -l",
    "dpkg -l": "dpkg -l | wc -l",
    "du -s": "du -s /usr/share | cut -f1",
}


def prepare(root):
    """A git repository of a few thousand files and a C file, inside `root` (once)."""
    base = os.path.join(root, "var/tmp/lxrun-bench")
    if os.path.exists(os.path.join(base, "ready")):
        return
    os.makedirs(base, exist_ok=True)
    with open(os.path.join(base, "hello.c"), "w") as f:
        f.write('#include <stdio.h>\nint main(void){puts("hello");return 0;}\n')
    script = ("cd /var/tmp/lxrun-bench && rm -rf repo && mkdir repo && cp -r /usr/share/doc /usr/share/perl5 repo/ 2>/dev/null;"
              " cd repo && git init -q && git add -A && git -c user.email=b@b -c user.name=b commit -qm bench")
    subprocess.run(chroot_argv(root, script), check=True)
    open(os.path.join(base, "ready"), "w").close()


def chroot_argv(root, cmd):
    setup = f"mount -t proc proc '{root}/proc' && exec /usr/sbin/chroot '{root}' /bin/sh -c \"$0\""
    return ["unshare", "-m", "--propagation", "private", "--", "/bin/sh", "-c", setup, cmd]


class NativeNamespace:
    """The native column without set-up in its timed region: one private mount namespace with
    the root's /proc mounted, made once; each run is `chroot ROOT /bin/sh -c WORK`, started and
    timed by a server inside it (as the other runners are started and timed here)."""
    SERVER = r'''
import json, subprocess, sys, time
for line in sys.stdin:
    argv = json.loads(line)
    t = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd="/tmp")
    dt = time.perf_counter() - t
    print(json.dumps([dt, p.returncode, p.stdout.decode("latin-1")]), flush=True)
'''

    def __init__(self, root):
        self.root = root
        setup = f"mount -t proc proc '{root}/proc' && exec python3 -c \"$0\""
        self.p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "--", "/bin/sh", "-c", setup, self.SERVER],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, cmd):
        import json
        self.p.stdin.write(json.dumps(["/usr/sbin/chroot", self.root, "/bin/sh", "-c", cmd]) + "\n")
        self.p.stdin.flush()
        dt, code, out = json.loads(self.p.stdout.readline())
        return dt, code, out.encode("latin-1"), 0


def runners(root):
    r = {
        "native": lambda c: chroot_argv(root, c),
        "lxrun-ptrace": lambda c: [LXRUN, "--backend", "ptrace", "--root", root, "--", "/bin/sh", "-c", c],
        "lxrun-seccomp": lambda c: [LXRUN, "--backend", "seccomp", "--root", root, "--", "/bin/sh", "-c", c],
        # The seccomp backend's ptrace-assisted mode (kernels without mseal, --trace, --stats).
        "lxrun-seccomp-ptrace": lambda c: [LXRUN, "--backend", "seccomp-ptrace", "--root", root, "--", "/bin/sh", "-c", c],
    }
    if shutil.which("proot"):
        r["proot"] = lambda c: ["proot", "-r", root, "-b", "/proc", "-b", "/dev", "/bin/sh", "-c", c]
    if shutil.which("runsc"):
        # runsc runs on the host's tree: the host path of the bench files is the root's.
        r["runsc"] = lambda c: ["runsc", "--platform=ptrace", "--network=none", "do", "/bin/sh", "-c",
                                c.replace("/var/tmp/lxrun-bench", os.path.join(root, "var/tmp/lxrun-bench"))]
    return r


def vm_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def timed(argv, watch=False):
    """Wall time, exit status and stdout of one run; with `watch`, also the peak RSS (KiB) of
    the process itself (not its children: lxrun's guardian shares its memory), sampled every
    2 ms."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd="/tmp")
    peak = [0]
    if watch:
        def sample():
            while p.poll() is None:
                peak[0] = max(peak[0], vm_hwm_kib(p.pid))
                time.sleep(0.002)
        th = threading.Thread(target=sample, daemon=True)
        th.start()
    out, _ = p.communicate()
    dt = time.perf_counter() - t
    if watch:
        th.join()
    return dt, p.returncode, out, peak[0]


def startup(rs, n):
    """Median start-up of each runner on `/bin/true` (the host's), interleaved run by run."""
    argvs = {"native": ["/bin/true"]}
    for r, make in rs.items():
        if r.startswith("lxrun-"):
            argvs[r] = make(None)[:3] + ["--", "/bin/true"]
    if "proot" in rs:
        argvs["proot"] = ["proot", "/bin/true"]
    if "runsc" in rs:
        argvs["runsc"] = ["runsc", "--platform=ptrace", "--network=none", "do", "/bin/true"]
    times = {r: [] for r in argvs}
    for _ in range(n):
        for r, argv in argvs.items():
            t = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/tmp")
            times[r].append((time.perf_counter() - t) * 1000)
    return {r: statistics.median(t) for r, t in times.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="one run each: checks that every runner works")
    ap.add_argument("--only", default="")
    ap.add_argument("--runners", default="", help="comma-separated subset of native,lxrun-ptrace,lxrun-seccomp,lxrun-seccomp-ptrace,proot,runsc (native is always run)")
    ap.add_argument("--startup-runs", type=int, default=60)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--root", default="", help="the guest root (default: tests/debian-root.sh's, which builds it once)")
    ap.add_argument("--lxrun", action="append", default=[],
                    help="LABEL=PATH: another lxrun build, run with its default backend beside this tree's (interleaved)")
    a = ap.parse_args()
    if os.getuid() != 0:
        sys.exit("bench/compare.py needs root (chroot is the native oracle)")
    root = a.root or subprocess.run([os.path.join(REPO, "tests/debian-root.sh")], check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    runs = 1 if a.smoke else a.runs
    names = [w for w in WORKLOADS if not a.only or w in a.only.split(",")]
    # Only the workloads that use them need the bench files written into the root.
    if any("/var/tmp/lxrun-bench" in WORKLOADS[w] for w in names):
        prepare(root)
    rs = runners(root)
    for label, path in (x.split("=", 1) for x in a.lxrun):
        rs[label] = lambda c, path=path: [path, "--root", root, "--", "/bin/sh", "-c", c]
    if a.runners:
        keep = set(a.runners.split(",")) | {"native"} | {x.split("=", 1)[0] for x in a.lxrun}
        rs = {r: m for r, m in rs.items() if r in keep}
    peaks = {}
    times = {(w, r): [] for w in names for r in rs}
    broken = {}
    outputs = {}
    native = NativeNamespace(root)
    for i in range(runs):
        for w in names:
            for r, make in rs.items():  # interleaved: every runner once per round
                if r == "native":
                    dt, code, out, peak = native.run(WORKLOADS[w])
                else:
                    dt, code, out, peak = timed(make(WORKLOADS[w]), watch=r.startswith("lxrun-"))
                if r.startswith("lxrun-"):
                    peaks[r] = max(peaks.get(r, 0), peak)
                if code != 0:
                    broken[(w, r)] = f"exit {code}"
                elif r not in ("native", "runsc") and (w, "native") in outputs and out != outputs[(w, "native")]:
                    broken[(w, r)] = f"output differs: {out[:60]!r} vs native {outputs[(w, 'native')][:60]!r}"
                outputs.setdefault((w, r), out)
                times[(w, r)].append(dt)
        print(f"round {i + 1}/{runs} done", file=sys.stderr)
    cols = list(rs)
    sep = " | " if a.markdown else "  "
    head = ["workload"] + [f"{c} (ms)" for c in cols] + [f"{c}/native" for c in cols if c != "native"]
    print(("| " if a.markdown else "") + sep.join(head) + (" |" if a.markdown else ""))
    if a.markdown:
        print("|" + "---|" * len(head))
    ratios = {c: [] for c in cols}
    for w in names:
        nat = statistics.median(times[(w, "native")])
        cells = [w]
        for c in cols:
            t = times[(w, c)]
            mark = " (failed)" if (w, c) in broken else ""
            cells.append(f"{statistics.median(t) * 1000:.0f} [{min(t) * 1000:.0f}-{max(t) * 1000:.0f}]{mark}")
        for c in cols:
            if c != "native":
                ratio = statistics.median(times[(w, c)]) / nat
                ratios[c].append(ratio)
                cells.append(f"{ratio:.2f}x")
        print(("| " if a.markdown else "") + sep.join(cells) + (" |" if a.markdown else ""))
    geo = ["geometric mean"] + [""] * len(cols)
    for c in cols:
        if c != "native":
            g = statistics.geometric_mean(ratios[c])
            geo.append(f"{g:.2f}x")
    print(("| " if a.markdown else "") + sep.join(geo) + (" |" if a.markdown else ""))
    st = startup(rs, 5 if a.smoke else a.startup_runs)
    print()
    print(("| " if a.markdown else "") + sep.join(["start-up, `RUNNER /bin/true`"] + [f"{c} (ms)" for c in st] + [f"{c} - native" for c in st if c != "native"]) + (" |" if a.markdown else ""))
    if a.markdown:
        print("|" + "---|" * (2 * len(st)))
    cells = ["median"] + [f"{v:.2f}" for v in st.values()] + [f"+{v - st['native']:.2f} ms" for c, v in st.items() if c != "native"]
    print(("| " if a.markdown else "") + sep.join(cells) + (" |" if a.markdown else ""))
    if peaks:
        print()
        print("lxrun's own peak memory (VmHWM of the supervisor, largest over every workload and round): "
              + ", ".join(f"{r} {kib / 1024:.1f} MB" for r, kib in peaks.items()))
    if broken:
        print("failed runs: " + ", ".join(f"{w}/{r}: {why}" for (w, r), why in broken.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
