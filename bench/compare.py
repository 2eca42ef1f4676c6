#!/usr/bin/env python3
"""Path-heavy workloads run natively (chroot), under lxrun with each backend, under PRoot and
under gVisor (runsc --platform=ptrace), interleaved round-robin in one run; prints medians,
min-max and ratios to native. A benchmark, never a test: nothing here asserts a speed.

  bench/compare.py [--runs N] [--smoke] [--only WORKLOAD,...] [--markdown]

Needs root (chroot for the native oracle). The guest root is the Debian test root
(tests/debian-root.sh); runsc, which runs on the host's own tree, gets the same commands there
(so its find and tar walk the host's /usr, a different tree: its output is not compared).
"""
import argparse, os, shutil, statistics, subprocess, sys, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LXRUN = os.path.join(REPO, "target", "release", "lxrun")

WORKLOADS = {
    "find": "find /usr -name '*.h' | wc -l",
    "tar": "tar cf - /usr/share/doc 2>/dev/null | wc -c",
    "git status": "cd /var/tmp/lxrun-bench/repo && git status --porcelain | wc -l",
    "python imports": "python3 -c 'import json, email.parser, http.client, sqlite3, decimal, xml.dom.minidom, asyncio, argparse'",
    "gcc -O0": "gcc -O0 -o /var/tmp/lxrun-bench/hello /var/tmp/lxrun-bench/hello.c",
    "100x fork+exec": "i=0; while [ $i -lt 100 ]; do /bin/true; i=$((i+1)); done",
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


def runners(root):
    r = {
        "native": lambda c: chroot_argv(root, c),
        "lxrun-ptrace": lambda c: [LXRUN, "--backend", "ptrace", "--root", root, "--", "/bin/sh", "-c", c],
        "lxrun-seccomp": lambda c: [LXRUN, "--backend", "seccomp", "--root", root, "--", "/bin/sh", "-c", c],
    }
    if shutil.which("proot"):
        r["proot"] = lambda c: ["proot", "-r", root, "-b", "/proc", "-b", "/dev", "/bin/sh", "-c", c]
    if shutil.which("runsc"):
        # runsc runs on the host's tree: the host path of the bench files is the root's.
        r["runsc"] = lambda c: ["runsc", "--platform=ptrace", "--network=none", "do", "/bin/sh", "-c",
                                c.replace("/var/tmp/lxrun-bench", os.path.join(root, "var/tmp/lxrun-bench"))]
    return r


def timed(argv):
    t = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/tmp")
    return time.perf_counter() - t, p.returncode, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="one run each: checks that every runner works")
    ap.add_argument("--only", default="")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    if os.getuid() != 0:
        sys.exit("bench/compare.py needs root (chroot is the native oracle)")
    root = subprocess.run([os.path.join(REPO, "tests/debian-root.sh")], check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    prepare(root)
    runs = 1 if a.smoke else a.runs
    names = [w for w in WORKLOADS if not a.only or w in a.only.split(",")]
    rs = runners(root)
    times = {(w, r): [] for w in names for r in rs}
    broken = {}
    outputs = {}
    for i in range(runs):
        for w in names:
            for r, make in rs.items():  # interleaved: every runner once per round
                dt, code, out = timed(make(WORKLOADS[w]))
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
    if broken:
        print("failed runs: " + ", ".join(f"{w}/{r}: {why}" for (w, r), why in broken.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
