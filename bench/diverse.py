"""The runner behind bench/diverse.sh (see there for the environment it reads).

Commands of one row run round-robin (one run of each, then the next round), so a burst
of load from other users hits every command of a round, and the ratios, which compare
medians of the same rounds, move less than the absolute times.
"""
import filecmp, lzma, os, shutil, statistics, subprocess, sys, threading, time

MB = 1_000_000
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
MEM_RUNS = int(os.environ.get("BENCH_MEM_RUNS", "1"))
NO_BIG = os.environ.get("BENCH_NO_BIG") == "1"
STRICT = os.environ.get("BENCH_STRICT") == "1"
FL = os.environ["BENCH_FL"]
INFERNO = os.environ["BENCH_INFERNO"]
WORK = os.environ["BENCH_WORK"]
POLL = 0.003


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ inputs
def build(path, write):
    if os.path.isfile(path):
        return path
    log(f"building {path}")
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as out:
        write(out)
    os.replace(tmp, path)
    return path


def diverse_unit():
    return build(os.path.join(WORK, "build-b-24m.txt"),
                 lambda out: out.write(lzma.open(os.environ["BENCH_XZ"]).read()))


def copies(unit, n, name):
    def write(out):
        for _ in range(n):
            with open(unit, "rb") as f:
                shutil.copyfileobj(f, out, 16 << 20)
    return build(os.path.join(WORK, name), write)


def repetitive():
    """The fixture's first copy whole, then its samples without the header, to 160 MiB."""
    src = os.environ["BENCH_REPETITIVE_SRC"]
    raw = open(src, "rb").read()
    lines = raw.splitlines(keepends=True)
    i = 0
    while i < len(lines) and (lines[i].startswith(b"#") or not lines[i].strip()):
        i += 1
    first = raw.rstrip(b"\r\n") + b"\n\n"
    body = b"".join(lines[i:]).rstrip(b"\r\n") + b"\n\n"
    n = 1 + -(-(160 * 2**20 - len(first)) // len(body))

    def write(out):
        out.write(first)
        out.write(body * (n - 1))
    return build(os.path.join(WORK, "zero-page-4k-160MiB.txt"), write)


# ------------------------------------------------------------------ running
def rss_anon_kb(pid):
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"RssAnon:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def run(argv, out=subprocess.DEVNULL, pipe_from=None):
    """Runs argv (its stdin fed by `cat pipe_from` when given): wall s, peak RssAnon MB,
    CPU s (user + system)."""
    feeder = None
    stdin = subprocess.DEVNULL
    if pipe_from:
        feeder = subprocess.Popen(["cat", pipe_from], stdout=subprocess.PIPE)
        stdin = feeder.stdout
    peak = [0]
    stop = threading.Event()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=subprocess.PIPE)
    if feeder:
        feeder.stdout.close()

    def sample():
        while not stop.is_set():
            kb = rss_anon_kb(proc.pid)
            if kb is not None:
                peak[0] = max(peak[0], kb)
            stop.wait(POLL)
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    th.join()
    if feeder:
        feeder.wait()
    if proc.returncode != 0:
        sys.exit(f"diverse.sh: error: exit {proc.returncode}: {' '.join(argv)}\n"
                 f"{err.decode(errors='replace')[-2000:]}")
    return wall, peak[0] / 1024, usage.ru_utime + usage.ru_stime


def medians(cmds):
    """cmds: name -> argv. One warm-up each, then RUNS round-robin rounds."""
    for argv in cmds.values():
        run(argv)
    walls = {n: [] for n in cmds}
    cpus = {n: [] for n in cmds}
    for r in range(RUNS):
        for n, argv in cmds.items():
            w, _, c = run(argv)
            walls[n].append(w)
            cpus[n].append(c)
        log(f"round {r + 1}/{RUNS}: " + "  ".join(f"{n} {walls[n][-1]:.3f}" for n in cmds))
    med = lambda d: {n: statistics.median(v) for n, v in d.items()}
    return med(walls), med(cpus)


def same_output(a_argv, b_argv, tag):
    a = os.path.join(WORK, f"{tag}-a.out")
    b = os.path.join(WORK, f"{tag}-b.out")
    with open(a, "wb") as fa:
        run(a_argv, out=fa)
    with open(b, "wb") as fb:
        run(b_argv, out=fb)
    return filecmp.cmp(a, b, shallow=False)


# ------------------------------------------------------------------ report
def speed_row(name, path):
    size = os.path.getsize(path)
    cmds = {
        "collapse": [FL, "collapse", path],
        "inferno": [INFERNO, path],
        "wc": ["wc", "-l", path],
        "j1": [FL, "collapse", "-j", "1", path],
        "j2": [FL, "collapse", "-j", "2", path],
        "analyze": [FL, "analyze", path, "--json"],
    }
    log(f"{name}: {path} ({size / MB:.1f} MB)")
    t, cpu = medians(cmds)
    same = same_output(cmds["j1"], cmds["j2"], name)
    return {"name": name, "path": path, "size": size, "t": t, "cpu": cpu, "same": same}


def print_speed(rows):
    print(f"\nspeed: medians of {RUNS} round-robin runs (after a warm-up), "
          f"MB = 10^6 bytes, loadavg at start {LOAD0}, at end {open('/proc/loadavg').read().split()[:3]}")
    print("cpu: median user+system seconds; on a busy machine -j2 cannot beat -j1 in wall time, "
          "but its CPU time shows what the split costs")
    hdr = (f"{'input':<11} {'MB':>6} {'collapse s':>10} {'MB/s':>6} {'inferno s':>9} "
           f"{'x inferno':>9} {'wc -l s':>7} {'x wc':>5} {'-j1 s':>6} {'-j2 s':>6} "
           f"{'j1/j2':>5} {'same':>4} {'cpu j1':>6} {'cpu j2':>6} {'analyze s':>9} {'an/col':>6}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        t = r["t"]
        print(f"{r['name']:<11} {r['size'] / MB:>6.0f} {t['collapse']:>10.3f} "
              f"{r['size'] / MB / t['collapse']:>6.0f} {t['inferno']:>9.3f} "
              f"{t['inferno'] / t['collapse']:>9.2f} {t['wc']:>7.3f} "
              f"{t['collapse'] / t['wc']:>5.1f} {t['j1']:>6.3f} {t['j2']:>6.3f} "
              f"{t['j1'] / t['j2']:>5.2f} {'yes' if r['same'] else 'NO':>4} "
              f"{r['cpu']['j1']:>6.3f} {r['cpu']['j2']:>6.3f} "
              f"{t['analyze']:>9.3f} {t['analyze'] / t['collapse']:>6.2f}")


def memory_rows(diverse, big):
    rows = []
    for label, path in [("diverse", diverse)] + ([] if NO_BIG else [("big", big)]):
        size = os.path.getsize(path) / MB
        for cmd in ("collapse", "analyze"):
            argv = [FL, cmd, path] + (["--json"] if cmd == "analyze" else [])
            n = RUNS if label == "diverse" else MEM_RUNS
            peaks = [run(argv)[1] for _ in range(n)]
            rows.append((f"{cmd} {label}", size, max(peaks), 64 if cmd == "analyze" else 32))
        if label == "big":
            for cmd in ("collapse", "analyze"):
                argv = [FL, cmd, "-"] + (["--json"] if cmd == "analyze" else [])
                peaks = [run(argv, pipe_from=path)[1] for _ in range(MEM_RUNS)]
                rows.append((f"{cmd} - (stdin) big", size, max(peaks), 64))
    print("\npeak RssAnon (sampled every 3 ms; mapped input pages do not count)")
    print(f"{'command':<24} {'input MB':>8} {'RssAnon MB':>10} {'target':>7}")
    for name, size, peak, target in rows:
        print(f"{name:<24} {size:>8.0f} {peak:>10.1f} {'<= ' + str(target):>7}")
    return rows


LOAD0 = open("/proc/loadavg").read().split()[:3]
unit = diverse_unit()
diverse = copies(unit, 7, "build-b-24m-x7.txt")
big = None if NO_BIG else copies(unit, 50, "build-b-24m-x50.txt")
# The x7 input repeats every callchain line seven times, which flatters caches keyed by
# line; one copy of the real profile is printed too (no target), to keep that honest.
rows = [speed_row("diverse", diverse), speed_row("repetitive", repetitive()),
        speed_row("one copy", unit)]
print_speed(rows)
mem = memory_rows(diverse, big)

d = rows[0]
checks = [
    ("collapse >= 5x inferno (diverse)", d["t"]["inferno"] / d["t"]["collapse"] >= 5),
    ("collapse >= 1000 MB/s (diverse)", d["size"] / MB / d["t"]["collapse"] >= 1000),
    ("-j2 >= 1.6x -j1 (diverse)", d["t"]["j1"] / d["t"]["j2"] >= 1.6),
    ("-j1 and -j2 output identical", all(r["same"] for r in rows)),
    ("analyze --json <= 1.3x collapse (diverse)", d["t"]["analyze"] / d["t"]["collapse"] <= 1.3),
] + [(f"{name} RssAnon <= {target} MB", peak <= target) for name, _, peak, target in mem]
print()
for label, ok in checks:
    print(f"[{'PASS' if ok else 'FAIL'}] {label}")
sys.exit(3 if STRICT and not all(ok for _, ok in checks) else 0)
