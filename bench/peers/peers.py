"""The peers side by side (bench/peers/README.md): runs each pair in one sitting and prints it with
its ratio and the target of issue 18 beside it.

  1. SpiffWorkflow's persisted six-step approval chain (spiff_approval.py) against
     `tiendo-bench transitions --scenario approval --backend sqlite`, at each writer count;
  2. pgbench replaying the transition SQL against tiendo on PostgreSQL
     (`tiendo-bench transitions --backend postgres`, which runs pgbench itself);
  3. graphile-worker, batched, one outbox row per job (graphile_timers.js) against
     `tiendo-bench timers`: in both of graphile-worker's modes, plain jobs (one job a timer,
     issue 18's pair) and batch jobs (one job an array of timers).

Started by bench/peers/run, which installs the peers first and builds tiendo-bench (release);
it passes --bench, --python and --node-path. Standard library only: it runs on the system
python3. `--parse transitions|timers FILE` parses a saved tiendo-bench output and prints what it
found as JSON (the smoke test in bench/tests/peers_smoke.rs uses it on real output).
"""

import argparse
import datetime
import json
import os
import re
import shlex
import subprocess
import sys
import time

HERE = os.path.relpath(os.path.dirname(os.path.abspath(__file__)))

# Issue 18's targets.
SPIFF_TARGET = 3.0
PGBENCH_TARGET_OFF = 1.0
PGBENCH_TARGET_ON = 1.5
GRAPHILE_TARGET = 2.0


# ---- parsing tiendo-bench's output -------------------------------------------------------------

_ROW = re.compile(
    r"^(?P<backend>sqlite|postgres-gc|postgres|pgbench)\s+(?P<writers>\d+)\s+(?P<transitions>\d+)\s+"
    r"(?P<seconds>[\d.]+)\s+(?P<tps>[\d.]+)\s+(?P<p50>[\d.]+|-)\s+(?P<p99>[\d.]+|-)\s*$"
)


def parse_transitions(text):
    """The rows of `tiendo-bench transitions`'s table, each a dict; [] if there is none."""
    rows = []
    for line in text.splitlines():
        m = _ROW.match(line.strip())
        if m:
            d = m.groupdict()
            rows.append(
                {
                    "backend": d["backend"],
                    "writers": int(d["writers"]),
                    "transitions": int(d["transitions"]),
                    "seconds": float(d["seconds"]),
                    "tps": float(d["tps"]),
                    "p50_ms": None if d["p50"] == "-" else float(d["p50"]),
                    "p99_ms": None if d["p99"] == "-" else float(d["p99"]),
                }
            )
    audit_ok = any(
        l.split(":", 1)[0] in ("sqlite", "postgres", "postgres-gc") and ": audit:" in l and "hash chains: OK" in l
        for l in text.splitlines()
    )
    return {"rows": rows, "audit_ok": audit_ok}


def parse_timers(text):
    """`tiendo-bench timers`'s throughput, fired count and seconds, lag and its check."""
    out = {}
    m = re.search(r"^fired\s+(\d+) timers in ([\d.]+) s", text, re.M)
    if m:
        out["fired"] = int(m.group(1))
        out["seconds"] = float(m.group(2))
    m = re.search(r"^throughput\s+(\d+) timers/s", text, re.M)
    if m:
        out["timers_per_s"] = float(m.group(1))
    m = re.search(r"^lag\s+p50 (\d+) ms, p99 (\d+) ms", text, re.M)
    if m:
        out["lag_p50_ms"] = float(m.group(1))
        out["lag_p99_ms"] = float(m.group(2))
    m = re.search(r"^check\s+(.*)$", text, re.M)
    out["check_ok"] = bool(m) and not m.group(1).startswith("MISMATCH")
    if "fired" in out and out.get("seconds", 0) > 0:
        # More digits than the printed rounded figure.
        out["timers_per_s"] = out["fired"] / out["seconds"]
    return out


def row(parsed, backend, writers):
    for r in parsed["rows"]:
        if r["backend"] == backend and r["writers"] == writers:
            return r
    return None


# ---- running -----------------------------------------------------------------------------------


class Failed(Exception):
    pass


def run(cmd, env=None, label=None):
    """Runs a command, its standard error shown live (progress), its standard output returned."""
    shown = " ".join(shlex.quote(c) for c in cmd)
    print(f"$ {shown}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    took = time.monotonic() - t0
    if p.returncode != 0:
        raise Failed(f"{label or cmd[0]} failed (exit {p.returncode}):\n{p.stdout}")
    print(f"  ({took:.0f} s)", file=sys.stderr, flush=True)
    return p.stdout, shown


def last_json(text, what):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise Failed(f"{what} printed no JSON line:\n{text}")


def ratio(a, b):
    return a / b if b else float("inf")


def verdict(r, target):
    return "met" if r >= target else "NOT met"


class Report:
    def __init__(self):
        self.lines = []
        self.commands = []

    def say(self, line=""):
        self.lines.append(line)
        print(line, flush=True)


def pair_spiff(a, rep):
    rep.say("== 1. SQLite transitions: tiendo vs SpiffWorkflow, persisted to SQLite after every step")
    rep.say(
        f"   scenario: {a.instances} instances of the six-step approval chain, one return for revision "
        "in ten (bench/peers/six-step-approval.{toml,bpmn})"
    )
    tiendo = {}
    for w in a.writers:
        out, cmd = run(
            [
                a.bench, "transitions", "--scenario", "approval", "--backend", "sqlite",
                "--tasks", str(a.instances), "--writers", str(w),
            ],
            label="tiendo-bench transitions --scenario approval",
        )
        rep.commands.append(cmd)
        parsed = parse_transitions(out)
        t = row(parsed, "sqlite", w)
        if t is None or not parsed["audit_ok"]:
            raise Failed(f"tiendo-bench printed no sqlite row at {w} writers or no audit check:\n{out}")
        spiff = {}
        for mode in ("stateless", "cached"):
            cmd = [
                a.python, os.path.join(HERE, "spiff_approval.py"),
                "--instances", str(a.instances), "--writers", str(w),
            ]
            if mode == "cached":
                cmd.append("--cached")
            out, shown = run(cmd, label=f"spiff_approval.py ({mode})")
            rep.commands.append(shown)
            s = last_json(out, "spiff_approval.py")
            if s["check"] != "ok":
                raise Failed(f"SpiffWorkflow's run is inconsistent: {s}")
            spiff[mode] = s
        tiendo[w] = t
        best = max(spiff.values(), key=lambda s: s["steps_per_s"])
        r = ratio(t["tps"], best["steps_per_s"])
        rep.say(
            f"   {w:>2} writer(s): tiendo {t['tps']:8.1f} transitions/s (p99 {t['p99_ms']:.1f} ms)   "
            f"SpiffWorkflow {spiff['stateless']['steps_per_s']:7.1f} steps/s stateless, "
            f"{spiff['cached']['steps_per_s']:7.1f} cached (p99 {best['p99_ms']:.1f} ms)"
        )
        rep.say(
            f"      ratio {r:5.2f}x against the faster SpiffWorkflow mode ({best['mode']}); "
            f"target >= {SPIFF_TARGET:.1f}x: {verdict(r, SPIFF_TARGET)}"
        )
    most = max(tiendo)
    if 1 in tiendo and most > 1:
        one, many = tiendo[1], tiendo[most]
        rep.say(
            f"   more writers not slower than one: tiendo at {most} writers {many['tps']:.1f} vs 1 writer "
            f"{one['tps']:.1f} transitions/s: {verdict(many['tps'] / one['tps'], 1.0)}"
        )


def pair_pgbench(a, rep):
    rep.say("== 2. PostgreSQL transitions: tiendo vs pgbench replaying the same SQL (bench/transition.pgbench.sql)")
    w = a.pg_writers
    out, cmd = run(
        [
            a.bench, "transitions", "--backend", "postgres", "--tasks", str(a.pg_tasks),
            "--writers", str(w), "--seconds", str(a.pg_seconds), "--group-commit", "both",
        ],
        label="tiendo-bench transitions --backend postgres",
    )
    rep.commands.append(cmd)
    parsed = parse_transitions(out)
    t, g, p = row(parsed, "postgres", w), row(parsed, "postgres-gc", w), row(parsed, "pgbench", w)
    if t is None or g is None or p is None or not parsed["audit_ok"]:
        raise Failed(
            f"tiendo-bench printed no postgres/postgres-gc/pgbench row at {w} writers or no audit check:\n{out}"
        )
    r, rg = ratio(t["tps"], p["tps"]), ratio(g["tps"], p["tps"])
    rep.say(
        f"   {w} writers: tiendo {t['tps']:8.1f} transitions/s group commit off (p99 {t['p99_ms']:.1f} ms), "
        f"{g['tps']:8.1f} on (p99 {g['p99_ms']:.1f} ms)   "
        f"pgbench {p['tps']:8.1f} transactions/s (p99 {p['p99_ms']:.1f} ms)"
    )
    rep.say(
        f"      ratio {r:5.2f}x with group commit off; target >= {PGBENCH_TARGET_OFF:.1f}x: "
        f"{verdict(r, PGBENCH_TARGET_OFF)}"
    )
    rep.say(
        f"      ratio {rg:5.2f}x with group commit on; target >= {PGBENCH_TARGET_ON:.1f}x: "
        f"{verdict(rg, PGBENCH_TARGET_ON)}"
    )


def graphile_concurrency(a, batch):
    """--graphile-concurrency, or graphile-worker's best we measured for the mode: plain jobs
    (one INSERT and one commit each) want many in flight, batch jobs two (bench/peers/README.md)."""
    if a.graphile_concurrency:
        return a.graphile_concurrency
    return 32 if batch == 1 else 2


def pair_timers(a, rep):
    rep.say("== 3. Timers fired into the outbox on PostgreSQL: tiendo vs graphile-worker, batched, one outbox row per job")
    out, cmd = run([a.bench, "timers", "--timers", str(a.timers)], label="tiendo-bench timers")
    rep.commands.append(cmd)
    t = parse_timers(out)
    if "timers_per_s" not in t or not t["check_ok"]:
        raise Failed(f"tiendo-bench timers printed no throughput or a failed check:\n{out}")
    env = dict(os.environ, NODE_PATH=a.node_path)
    rep.say(f"   {a.timers} timers: tiendo {t['timers_per_s']:8.0f} timers/s (lag p99 {t.get('lag_p99_ms', float('nan')):.0f} ms)")
    for batch in a.graphile_batch:
        concurrency = graphile_concurrency(a, batch)
        gcmd = [
            "node", os.path.join(HERE, "graphile_timers.js"), "--jobs", str(a.timers),
            "--batch", str(batch), "--instances", str(a.graphile_instances),
            "--concurrency", str(concurrency),
        ]
        out, shown = run(gcmd, env=env, label="graphile_timers.js")
        rep.commands.append(f"NODE_PATH={shlex.quote(a.node_path)} {shown}")
        g = last_json(out, "graphile_timers.js")
        if g["check"] != "ok":
            raise Failed(f"graphile-worker's run is inconsistent: {g}")
        r = ratio(t["timers_per_s"], g["jobs_per_s"])
        if batch == 1:
            mode = "plain jobs, one per timer (issue 18's pair)"
        else:
            mode = f"batch jobs of {batch} timers (a stronger peer than issue 18's)"
        rep.say(
            f"      graphile-worker {g['version']} {g['jobs_per_s']:8.0f} jobs/s, {mode}, "
            f"{g['instances']} instances x concurrency {g['concurrency']}"
        )
        rep.say(f"      ratio {r:5.2f}x; target >= {GRAPHILE_TARGET:.1f}x: {verdict(r, GRAPHILE_TARGET)}")


def machine_line():
    try:
        load = " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        load = "?"
    return f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average {load}"


def main():
    p = argparse.ArgumentParser(description="tiendo's peers side by side (bench/peers/README.md)")
    p.add_argument("--bench", default="target/release/tiendo-bench")
    p.add_argument("--python", default="target/peers/venv/bin/python")
    p.add_argument("--node-path", default="target/peers/node/node_modules")
    p.add_argument("--only", default="spiff,pgbench,timers", help="which pairs, comma-separated")
    p.add_argument("--quick", action="store_true", help="small sizes: checks the runner, not the figures")
    p.add_argument("--instances", type=int, default=2000, help="approval chain instances per writer count")
    p.add_argument("--writers", default="1,32", help="SQLite writer counts")
    p.add_argument("--pg-writers", type=int, default=32)
    p.add_argument("--pg-tasks", type=int, default=10000)
    p.add_argument("--pg-seconds", type=int, default=10)
    p.add_argument("--timers", type=int, default=100000)
    p.add_argument(
        "--graphile-batch", default="1,200",
        help="graphile-worker's modes, comma-separated: 1 = plain jobs, N = batch jobs of N timers",
    )
    p.add_argument("--graphile-instances", type=int, default=2)
    p.add_argument(
        "--graphile-concurrency", type=int, default=0,
        help="jobs in flight per instance (default: 32 for plain jobs, 2 for batch jobs)",
    )
    p.add_argument("--parse", nargs=2, metavar=("KIND", "FILE"), help="parse saved tiendo-bench output")
    a = p.parse_args()
    if a.parse:
        kind, path = a.parse
        text = open(path, encoding="utf-8").read()
        parsers = {"transitions": parse_transitions, "timers": parse_timers}
        if kind not in parsers:
            p.error("--parse KIND is transitions or timers")
        print(json.dumps(parsers[kind](text)))
        return 0
    a.writers = [int(w) for w in a.writers.split(",") if w]
    a.graphile_batch = [int(b) for b in a.graphile_batch.split(",") if b]
    if not a.graphile_batch or min(a.graphile_batch) < 1:
        p.error("--graphile-batch: whole numbers >= 1, comma-separated")
    if a.quick:
        a.instances, a.pg_tasks, a.pg_seconds, a.timers = 100, 200, 2, 2000
        a.writers = [1, 4]
        a.pg_writers = 4
    only = set(a.only.split(","))
    unknown = only - {"spiff", "pgbench", "timers"}
    if unknown:
        p.error(f"--only: unknown pair(s) {', '.join(sorted(unknown))}")
    rep = Report()
    rep.say(f"tiendo's peers side by side{' (--quick: sizes too small for figures)' if a.quick else ''}")
    rep.say(f"   {machine_line()}")
    try:
        if "spiff" in only:
            pair_spiff(a, rep)
        if "pgbench" in only:
            pair_pgbench(a, rep)
        if "timers" in only:
            pair_timers(a, rep)
    except Failed as e:
        print(f"\npeers: {e}", file=sys.stderr)
        return 1
    rep.say(f"   {machine_line()}")
    rep.say("commands run:")
    for c in rep.commands:
        rep.say(f"   {c}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
