"""Runs the fleetsh benchmarks (see the README, "Benchmarks"): one `fleetsh serve` on loopback, one floor
server, each workload for fleetsh (bench/*.lua) and for the Python SDK (bench/python_sdk.py),
interleaved run by run so that a noisy machine hits both alike; medians go to a markdown table.

usage: driver.py FLEETSH FLOOR OUT.md   (env: RUNS, default 6; KEEP_BENCH_DATA=1 keeps the data dir;
QUICK=1: one run of each workload at a tenth of its size, for a developer's loop)
"""

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
QUICK = bool(os.environ.get("QUICK"))
RUNS = 1 if QUICK else int(os.environ.get("RUNS", "6"))
SCALE = 10 if QUICK else 1
LIST_SIZE, LOG_ENTRIES, MASS = 10_000 // SCALE, 100_000 // SCALE, 100_000 // SCALE
SEQ_READS, SEQ_WRITES, CONC_READS, CONC = 5_000 // SCALE, 2_000 // SCALE, 20_000 // SCALE, 64
# A server that rate-limits: this many get_robot, CONC in flight, against --rate-limit LIMIT.
LIMIT = 500
THROTTLED_READS = max(10_000 // SCALE, 3 * LIMIT)


# Pinning (BENCH_PIN=0 turns it off): every client of a server on loopback runs on CPU 0, every
# server on the other CPUs. Left to the scheduler, a client and its server shared a CPU in some
# runs and not in others, and a call that wakes the other CPU costs ~2x one that stays on its own
# (the floor: 0.19-0.28 s vs 0.35-0.41 s per 5,000 on a 2-core VM), so the ratios of one run
# measured placement. Pinned, every side pays the same cross-CPU wakeup in every run. A fleetsh
# that serves itself (the embedded fleet: startup, idle memory, the embedded rows) has no peer
# to keep apart from and runs on every CPU, as a user's would (pinned to one, its startup took
# ~1 ms longer: the store opens beside the Lua state).
CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
PIN = os.environ.get("BENCH_PIN", "1") != "0" and len(CPUS) >= 2
CLIENT_CPUS, SERVER_CPUS = ({CPUS[0]}, set(CPUS[1:])) if PIN else (None, None)


def pinned_to(cpus):
    """A Popen preexec_fn that moves the child onto cpus (None: leaves it where it is)."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def timed_child(cmd, env=None, cpus=CLIENT_CPUS):
    """Runs cmd to completion, on cpus (by default a client's); returns (wall seconds, stdout)."""
    start = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, preexec_fn=pinned_to(cpus))
    wall = time.perf_counter() - start
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
    return wall, p.stdout


def peak_rss_kib(cmd, env=None):
    """Peak RSS (VmHWM, KiB) of cmd's process, read from /proc while it runs. Not the children's
    ru_maxrss: a child spawned by vfork (as subprocess does) is charged the parent's RSS before
    its exec, so any command read as at least the Python interpreter's own ~14 MiB."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while p.poll() is None:
        try:
            status = Path(f"/proc/{p.pid}/status").read_text()
        except OSError:
            break
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
        time.sleep(0.02)
    err = p.communicate()[1]
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({p.returncode}): {err.decode()[-2000:]}")
    return peak


def last_float(out):
    return float(out.strip().splitlines()[-1])


def median(xs):
    return statistics.median(xs)


def in_turn(i, sides):
    """The two sides of run i, the first side first in even runs and second in odd ones. A call
    right after the other side's same call finds the serve's memory warm from it (the README's
    "Latest figures" has the serve's micros), so neither side may always go second. An even RUNS
    gives each side the same share of both places."""
    return sides if i % 2 == 0 else sides[::-1]


class Bench:
    def __init__(self, fleetsh, floor, python):
        self.fleetsh, self.floor, self.python = fleetsh, floor, python
        self.tmp = Path(tempfile.mkdtemp(prefix="fleetsh-bench-"))
        self.procs = []

    def serve_on(self, name, *flags):
        """Starts `fleetsh serve` with its own data dir; returns (process, credentials, env, log path)."""
        log_path = self.tmp / f"{name}.log"
        serve_log = open(log_path, "w")
        # Per-call log lines cost server CPU: only when the data (and so serve.log) is kept.
        verbose = ["--log-level", "fleetsh=debug"] if os.environ.get("KEEP_BENCH_DATA") else []
        proc = subprocess.Popen([self.fleetsh, *verbose, "--data", self.tmp / name, "serve", "--listen", "127.0.0.1:0", *flags],
                                stdout=serve_log, stderr=serve_log, preexec_fn=pinned_to(SERVER_CPUS))
        self.procs.append(proc)
        creds = self.tmp / name / "credentials.json"
        for _ in range(200):
            if creds.exists() and "serving" in log_path.read_text():
                break
            if proc.poll() is not None:
                raise RuntimeError(f"fleetsh serve exited: {log_path.read_text()}")
            time.sleep(0.05)
        c = json.loads(creds.read_text())
        env = dict(os.environ, FLEETSH_URL=c["address"], VIAM_API_KEY_ID=c["api_key_id"],
                   VIAM_API_KEY=c["api_key"], FLEETSH_CREDENTIALS=str(creds))
        return proc, c, env, log_path

    def start(self):
        self.serve, self.creds, self.env, _ = self.serve_on("fleet")
        self.local_env = {k: v for k, v in os.environ.items() if k not in ("VIAM_API_KEY_ID", "VIAM_API_KEY")}
        self.floor_srv = subprocess.Popen([self.floor, "serve"], stdout=subprocess.PIPE, text=True,
                                          preexec_fn=pinned_to(SERVER_CPUS))
        self.procs.append(self.floor_srv)
        self.floor_addr = self.floor_srv.stdout.readline().strip()
        log(f"fleetsh serve at {self.creds['address']}, floor at {self.floor_addr}, data in {self.tmp}")

    def stop(self):
        for p in self.procs:
            p.terminate()
            p.wait(timeout=30)
        if os.environ.get("KEEP_BENCH_DATA"):
            log(f"kept {self.tmp} (serve.log has each request's server-side micros)")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def lua(self, script, *args):
        _, out = timed_child([self.fleetsh, "run", BENCH / script, *map(str, args)], self.env)
        return out

    def py(self, workload, *args):
        _, out = timed_child([self.python, BENCH / "python_sdk.py", workload, *map(str, args)], self.env)
        return out

    def seed(self):
        t = time.perf_counter()
        out = self.lua("seed.lua", self.creds["location_id"], LIST_SIZE, LOG_ENTRIES)
        self.ids = dict(line.split("=", 1) for line in out.split())
        log(f"seeded {LIST_SIZE} machines and {LOG_ENTRIES} log entries in {time.perf_counter() - t:.1f} s")

    def startup(self):
        local = ["--data", self.tmp / "local"]
        timed_child([self.fleetsh, *local, "-e", "return 1"], self.local_env, None)  # creates the fleet
        # In turn with each start, the same harness starting a process that does nothing: what
        # any program pays here before its own first instruction (fork, exec, exit, the wait).
        f, spawn = [], []
        for _ in range(max(RUNS, 20)):
            f.append(timed_child([self.fleetsh, *local, "-e", "return 1"], self.local_env, None)[0])
            spawn.append(timed_child(["true"], None, None)[0])
        p = [timed_child([self.python, BENCH / "python_sdk.py", "startup"], self.env)[0] for _ in range(RUNS)]
        return median(f) * 1000, median(p) * 1000, median(spawn) * 1000

    def idle_rss(self):
        cmd = [self.fleetsh, "--data", self.tmp / "local", "-e", "sleep(1)"]
        return peak_rss_kib(cmd, self.local_env) / 1024

    def serve_rss(self):
        t = time.perf_counter()
        out = self.lua("mass.lua", MASS)
        loc = out.split("=", 1)[1].strip()
        self.lua("list_robots.lua", loc, MASS)
        log(f"added {MASS} machines in {time.perf_counter() - t:.1f} s")
        status = Path(f"/proc/{self.serve.pid}/status").read_text()
        kib = {l.split(":")[0]: int(l.split()[1]) for l in status.splitlines() if l.startswith(("VmHWM", "VmRSS"))}
        return kib["VmHWM"] / 1024

    def rates(self):
        """Medians of RUNS interleaved runs: {workload: (fleetsh, python, floor)}."""
        robot, loc = self.ids["robot_id"], self.creds["location_id"]
        runs = {k: ([], [], []) for k in ("seq_reads", "seq_writes", "conc_reads", "list", "summaries", "logs")}
        org, lst = self.creds["org_id"], self.ids["list_location"]
        for i in range(RUNS):
            log(f"run {i + 1}/{RUNS}")
            for name, lua, py in [
                ("seq_reads", ("seq_reads.lua", robot, SEQ_READS), ("seq_reads", robot, SEQ_READS)),
                ("seq_writes", ("seq_writes.lua", loc, f"f{i}-", SEQ_WRITES), ("seq_writes", loc, f"p{i}-", SEQ_WRITES)),
                ("conc_reads", ("conc_reads.lua", robot, CONC_READS, CONC), ("conc_reads", robot, CONC_READS, CONC)),
                ("list", ("list_robots.lua", lst, LIST_SIZE), ("list_robots", lst, LIST_SIZE)),
                ("summaries", ("list_summaries.lua", org, lst, LIST_SIZE), ("list_summaries", org, lst, LIST_SIZE)),
                ("logs", ("part_logs.lua", self.ids["log_part"], LOG_ENTRIES), ("part_logs", self.ids["log_part"], LOG_ENTRIES)),
            ]:
                for side, run in in_turn(i, ((0, lambda: self.lua(*lua)), (1, lambda: self.py(*py)))):
                    runs[name][side].append(last_float(run()))
            for name, n, conc in [("seq_reads", SEQ_READS, 1), ("conc_reads", CONC_READS, CONC)]:
                _, out = timed_child([self.floor, "bench", self.floor_addr, str(n), str(conc)])
                runs[name][2].append(last_float(out))
        return {k: tuple(median(x) if x else None for x in v) for k, v in runs.items()}

    def throttled(self):
        """THROTTLED_READS get_robot, CONC in flight, against a server limiting the key to LIMIT/s:
        (seconds, refusals). conc_reads.lua fails the run if any call failed."""
        proc, c, env, log_path = self.serve_on("throttled", "--rate-limit", f"{LIMIT}/s")
        _, out = timed_child([self.fleetsh, "-e", "print(cloud.new_robot('paced'))"], env)
        robot = out.strip().splitlines()[-1]
        try:
            _, out = timed_child([self.fleetsh, "run", BENCH / "conc_reads.lua", robot, str(THROTTLED_READS), str(CONC)], env)
            result = last_float(out)
        except RuntimeError as e:
            # A failed row is a finding, not a reason to lose the other rows.
            log(f"throttled run failed: {e}")
            result = None
        proc.terminate()
        proc.wait(timeout=30)
        refused = next(int(l.split("refused ")[1].split()[0]) for l in log_path.read_text().splitlines()
                       if "rate limit refused" in l)
        return result, refused


# The data rows (issues 12 and 15): DATA_READINGS readings uploaded DATA_BATCH per call, one after
# another, on both sides; one TabularDataBySQL query returning them all; their ExportTabularData.
# Each upload run goes to a new machine of its own, and the SQL and export runs read one part
# seeded once (by data_upload.lua) with the same readings, so every run of a row sees the same data.
DATA_READINGS, DATA_BATCH = 100_000 // SCALE, 1_000


def data_medians(b):
    """Medians of RUNS interleaved runs: {"upload" | "sql" | "export": (fleetsh s, python s)}."""
    org, loc, n = b.creds["org_id"], b.creds["location_id"], DATA_READINGS
    t = time.perf_counter()
    out = b.lua("data_upload.lua", loc, "bench-data", n, DATA_BATCH)
    part = next(l.split("=", 1)[1] for l in out.split() if l.startswith("part_id="))
    log(f"seeded {n} readings in {time.perf_counter() - t:.1f} s")
    runs = {k: ([], []) for k in ("upload", "sql", "export")}
    for i in range(RUNS):
        log(f"data run {i + 1}/{RUNS}")
        for name, lua, py in [
            ("upload", ("data_upload.lua", loc, f"data-f{i}", n, DATA_BATCH), ("data_upload", loc, f"data-p{i}", n, DATA_BATCH)),
            ("sql", ("data_sql.lua", org, part, n), ("data_sql", org, part, n)),
            ("export", ("data_export.lua", part, n), ("data_export", part, n)),
        ]:
            for side, run in in_turn(i, ((0, lambda: b.lua(*lua)), (1, lambda: b.py(*py)))):
                runs[name][side].append(last_float(run()))
    return {k: (median(f), median(p)) for k, (f, p) in runs.items()}


def data_rows(d):
    """The data rows of the table (same columns as table()'s rows)."""
    def row(name, f, p, ratio, ok):
        return f"| {name} | {f} | {p} | {ratio} |  | ≥ 1.5× Python | {'yes' if ok else '**no**'} |"

    up, sql, ex = d["upload"], d["sql"], d["export"]
    n = DATA_READINGS
    return [
        row(f"upload {n:,} readings ({DATA_BATCH:,} per DataCaptureUpload call, sequential)", f"{n / up[0]:,.0f}/s",
            f"{n / up[1]:,.0f}/s", f"{up[1] / up[0]:.1f}×", up[1] / up[0] >= 1.5),
        row(f"SQL over them (one TabularDataBySQL, {n:,} rows back)", f"{sql[0]:.2f} s", f"{sql[1]:.2f} s",
            f"{sql[1] / sql[0]:.1f}×", sql[1] / sql[0] >= 1.5),
        row(f"export them (ExportTabularData, {n:,} points)", f"{ex[0]:.2f} s", f"{ex[1]:.2f} s",
            f"{ex[1] / ex[0]:.1f}×", ex[1] / ex[0] >= 1.5),
    ]


# The embedded local fleet (the default target: no credentials, `--data
# DIR`, calls served in-process) against `fleetsh serve` on loopback, with the same scripts and
# sizes, run by run in turn. Each side has a fleet of its own, seeded alike (one machine to read,
# writes into the fleet's location), so neither reads the other's data.
EMBEDDED_STARTS = 20


class Embedded:
    def __init__(self, b):
        self.b = b
        self.dir = b.tmp / "embedded"
        # Creates the fleet: credentials.json names its location and key.
        _, out = timed_child([b.fleetsh, "--data", self.dir, "-e", "print(cloud.new_robot('seq'))"], b.local_env, None)
        self.robot = out.strip().splitlines()[-1]
        self.loc = json.loads((self.dir / "credentials.json").read_text())["location_id"]
        proc, c, self.env, _ = b.serve_on("loopback")
        _, out = timed_child([b.fleetsh, "-e", "print(cloud.new_robot('seq'))"], self.env)
        self.peer = {"robot": out.strip().splitlines()[-1], "loc": c["location_id"]}
        log(f"embedded fleet in {self.dir}; its loopback peer at {c['address']}")

    def cmd(self, embedded, *args):
        """(argv, env, cpus) of one fleetsh run on the embedded fleet or over loopback."""
        if embedded:
            return [self.b.fleetsh, "--data", self.dir, *map(str, args)], self.b.local_env, None
        return [self.b.fleetsh, *map(str, args)], self.env, CLIENT_CPUS

    def ids(self, embedded):
        return (self.robot, self.loc) if embedded else (self.peer["robot"], self.peer["loc"])

    def medians(self):
        """{"seq_reads" | "seq_writes": (embedded s, loopback s), "start_call": (embedded ms, loopback ms)}."""
        runs = {k: ([], []) for k in ("seq_reads", "seq_writes", "start_call")}
        for i in range(RUNS):
            log(f"embedded run {i + 1}/{RUNS}")
            for side, embedded in in_turn(i, ((0, True), (1, False))):
                robot, loc = self.ids(embedded)
                _, out = timed_child(*self.cmd(embedded, "run", BENCH / "seq_reads.lua", robot, SEQ_READS))
                runs["seq_reads"][side].append(last_float(out))
                _, out = timed_child(*self.cmd(embedded, "run", BENCH / "seq_writes.lua", loc, f"e{i}-", SEQ_WRITES))
                runs["seq_writes"][side].append(last_float(out))
        # Startup plus one get_robot, timed from outside: the process's whole life.
        for i in range(max(RUNS, EMBEDDED_STARTS)):
            for side, embedded in in_turn(i, ((0, True), (1, False))):
                robot, _ = self.ids(embedded)
                wall, _ = timed_child(*self.cmd(embedded, "-e", f"cloud.get_robot('{robot}')"))
                runs["start_call"][side].append(wall * 1000)
        return {k: (median(e), median(l)) for k, (e, l) in runs.items()}


def embedded_table(e, startup_ms, idle_mib):
    """The embedded-vs-loopback table (its own columns), with the start and idle-memory targets."""
    def row(name, emb, loop, ratio, target, ok):
        return f"| {name} | {emb} | {loop} | {ratio} | {target} | {'yes' if ok else '**no**'} |"

    (sr_e, sr_l), (sw_e, sw_l), (st_e, st_l) = e["seq_reads"], e["seq_writes"], e["start_call"]
    return [
        "",
        f"Embedded local fleet (`--data DIR`, no credentials) vs `fleetsh serve` on loopback, same scripts: "
        f"medians of {RUNS} runs (startup + one call: of {max(RUNS, EMBEDDED_STARTS)}), run in turn.",
        "",
        "| Workload | embedded | loopback | embedded vs loopback | target | met |",
        "|---|---:|---:|---:|---|---|",
        row(f"sequential reads ({SEQ_READS:,} get_robot)", f"{SEQ_READS / sr_e:,.0f}/s", f"{SEQ_READS / sr_l:,.0f}/s",
            f"{sr_l / sr_e:.1f}×", "≥ 3× loopback", sr_l >= 3 * sr_e),
        row(f"sequential writes ({SEQ_WRITES:,} new_robot + {SEQ_WRITES:,} update_robot)",
            f"{2 * SEQ_WRITES / sw_e:,.0f}/s", f"{2 * SEQ_WRITES / sw_l:,.0f}/s", f"{sw_l / sw_e:.1f}×",
            "≥ 3× loopback", sw_l >= 3 * sw_e),
        row("startup + one get_robot (`-e`, whole process)", f"{st_e:.1f} ms", f"{st_l:.1f} ms", f"{st_l / st_e:.1f}×",
            "≥ 3× loopback", st_l >= 3 * st_e),
        row("startup, embedded (`-e 'return 1'`)", f"{startup_ms:.1f} ms", "", "", "< 5 ms", startup_ms < 5),
        row("peak RSS, idle embedded (`-e 'sleep(1)'`)", f"{idle_mib:.1f} MiB", "", "", "< 15 MiB", idle_mib < 15),
    ]


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) // 1024**2
    return f"{os.cpu_count()} × {cpu}, {mem} GiB RAM, Linux {platform.release()}"


def table(m, startup, rates, idle, serve, throttled, data, embedded):
    def rate(n, secs):
        return n / secs

    def row(name, f, p, ratio, floor, target, ok):
        return f"| {name} | {f} | {p} | {ratio} | {floor} | {target} | {'yes' if ok else '**no**'} |"

    fs, ps, spawn = startup
    sr, sw, cr = rates["seq_reads"], rates["seq_writes"], rates["conc_reads"]
    lst, sm, lg = rates["list"], rates["summaries"], rates["logs"]
    sr_f, sr_p, sr_floor = rate(SEQ_READS, sr[0]), rate(SEQ_READS, sr[1]), rate(SEQ_READS, sr[2])
    sw_f, sw_p = rate(2 * SEQ_WRITES, sw[0]), rate(2 * SEQ_WRITES, sw[1])
    cr_f, cr_p, cr_floor = rate(CONC_READS, cr[0]), rate(CONC_READS, cr[1]), rate(CONC_READS, cr[2])
    lines = [
        f"Machine: {m}. Load average at the end: {open('/proc/loadavg').read().split()[0]}. "
        f"Medians of {RUNS} runs (startup: of {max(RUNS, 20)} for fleetsh). Rates are calls per second. "
        + (f"Clients of a server pinned to CPU {CPUS[0]}, servers to CPUs {','.join(map(str, sorted(SERVER_CPUS)))}, "
           "the embedded fleet on every CPU."
           if PIN else "Not pinned (BENCH_PIN=0 or one CPU)."),
        "",
        "| Workload | fleetsh | Python SDK | fleetsh vs Python | floor (bare tonic) | target | met |",
        "|---|---:|---:|---:|---:|---|---|",
        row("startup (`-e 'return 1'` vs import + client)", f"{fs:.1f} ms", f"{ps:.0f} ms", f"{ps / fs:.0f}× faster", "",
            "< 15 ms, ≥ 30× faster", fs < 15 and ps / fs >= 30),
        row(f"sequential reads ({SEQ_READS:,} get_robot)", f"{sr_f:,.0f}/s", f"{sr_p:,.0f}/s", f"{sr_f / sr_p:.1f}×",
            f"{sr_floor:,.0f}/s ({sr_f / sr_floor:.0%})", "≥ 1.5× Python, ≥ 75% of floor",
            sr_f >= 1.5 * sr_p and sr_f >= 0.75 * sr_floor),
        # A write is one call too: the same sequential floor.
        row(f"sequential writes ({SEQ_WRITES:,} new_robot + {SEQ_WRITES:,} update_robot)", f"{sw_f:,.0f}/s",
            f"{sw_p:,.0f}/s", f"{sw_f / sw_p:.1f}×", f"{sr_floor:,.0f}/s ({sw_f / sr_floor:.0%})",
            "≥ 1.5× Python, ≥ 75% of floor", sw_f >= 1.5 * sw_p and sw_f >= 0.75 * sr_floor),
        row(f"concurrent reads ({CONC_READS:,} get_robot, {CONC} in flight)", f"{cr_f:,.0f}/s", f"{cr_p:,.0f}/s",
            f"{cr_f / cr_p:.1f}×", f"{cr_floor:,.0f}/s ({cr_f / cr_floor:.0%})", "≥ 1.5× Python, ≥ 60% of floor",
            cr_f >= 1.5 * cr_p and cr_f >= 0.6 * cr_floor),
        row(f"list_robots, {LIST_SIZE:,} machines", f"{lst[0] * 1000:.0f} ms", f"{lst[1] * 1000:.0f} ms",
            f"{lst[1] / lst[0]:.1f}×", "", "< 50 ms, ≥ 1.5× Python", lst[0] < 0.05 and lst[1] >= 1.5 * lst[0]),
        row(f"list_machine_summaries, {LIST_SIZE:,} machines", f"{sm[0] * 1000:.0f} ms", f"{sm[1] * 1000:.0f} ms",
            f"{sm[1] / sm[0]:.1f}×", "", "≥ 1.5× Python", sm[1] >= 1.5 * sm[0]),
        row(f"get_robot_part_logs, {LOG_ENTRIES:,} entries", f"{lg[0]:.2f} s", f"{lg[1]:.2f} s", f"{lg[1] / lg[0]:.1f}×",
            "", "< 2 s, ≥ 1.5× Python", lg[0] < 2 and lg[1] >= 1.5 * lg[0]),
        row(f"{THROTTLED_READS:,} get_robot, {CONC} in flight, server limit {LIMIT}/s",
            "**calls failed**" if throttled[0] is None else f"{throttled[0]:.1f} s, 0 errors",
            "", "", f"{throttled[1]:,} refusals", f"0 errors, about {THROTTLED_READS / LIMIT:.0f} s",
            throttled[0] is not None and throttled[0] < 1.25 * THROTTLED_READS / LIMIT),
        row("peak RSS, idle (`-e 'sleep(1)'`, REPL proxy)", f"{idle:.1f} MiB", "", "", "", "< 20 MB", idle * 1.048576 < 20),
        row(f"peak RSS, `fleetsh serve` holding {MASS:,} more machines", f"{serve:.0f} MiB", "", "", "", "< 300 MB",
            serve * 1.048576 < 300),
        *data_rows(data),
        "",
        f"The floor itself runs sequential calls at {sr_floor / sr_p:.1f}× the Python SDK's rate: the most any "
        "client built on tonic could show against the Python SDK on this machine. Starting `true` with the same "
        f"harness, in turn with fleetsh's starts, takes {spawn:.1f} ms: the part of every start that is the "
        "machine's, not the program's.",
        *embedded_table(embedded, fs, idle),
    ]
    return "\n".join(lines) + "\n"


def main():
    fleetsh, floor, out = (Path(a).resolve() for a in sys.argv[1:4])
    if PIN:
        log(f"clients on CPU {CPUS[0]}, servers on CPUs {','.join(map(str, sorted(SERVER_CPUS)))}")
    b = Bench(fleetsh, floor, sys.executable)
    try:
        b.start()
        b.seed()
        startup = b.startup()
        log(f"startup: fleetsh {startup[0]:.1f} ms, python {startup[1]:.0f} ms, true {startup[2]:.1f} ms")
        rates = b.rates()
        data = data_medians(b)
        embedded = Embedded(b).medians()
        idle = b.idle_rss()
        serve = b.serve_rss()
        throttled = b.throttled()
    finally:
        b.stop()
    text = table(machine(), startup, rates, idle, serve, throttled, data, embedded)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
