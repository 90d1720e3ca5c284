"""SpiffWorkflow's side of the peers' first pair (bench/peers/README.md).

Runs the six-step approval chain of bench/peers/six-step-approval.bpmn for N instances, one return
for revision in ten, persisting every instance to SQLite after every user task, with W writer
processes, and prints one JSON line with what it measured.

Per step (one completed user task), in one writer process:
  stateless (default): SELECT the instance's serialization; deserialize it (BpmnWorkflowSerializer);
  cached: take the instance from the writer's memory (it was deserialized once, on first use);
  then, both: find the READY user task, set its data (at step 3: `tra_lai`, and the comment when
  it returns to step 2), run it, run the engine steps to the next user task, serialize the whole workflow
  to JSON and UPDATE its row (with a version check) in its own transaction: committed before the
  next step starts.

SQLite is opened as tiendo opens it (WAL, synchronous=NORMAL, busy timeout 30 s). Instances are
created and persisted before the clock starts, as tiendo's tasks are seeded before its round.
Each writer owns a disjoint contiguous slice of the instances and goes round-robin over it, as
tiendo's writers do (bench/src/drive.rs).

Run by bench/peers/run with the venv's python; by hand:
  target/peers/venv/bin/python bench/peers/spiff_approval.py --instances 2000 --writers 32
"""

import argparse
import json
import multiprocessing as mp
import os
import sqlite3
import sys
import tempfile
import time

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

HERE = os.path.dirname(os.path.abspath(__file__))
PROCESS_ID = "phe_duyet_sau_buoc"
RETURN_STEP = "tham_dinh"
# The same comment tiendo's bench sends with a return for revision (bench/src/seed.rs).
RETURN_COMMENT = (
    "Đề nghị đơn vị bổ sung báo giá của ít nhất 03 nhà cung cấp và thuyết minh chi tiết "
    "khối lượng, đơn giá của từng hạng mục trong dự toán."
)


def load_spec(bpmn):
    parser = BpmnParser()
    parser.add_bpmn_file(bpmn)
    return parser.get_spec(PROCESS_ID)


def connect(path):
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=30000")
    return db


def returns(i, every):
    """Instance i (0-based) is returned once for revision: one in `every`, as in tiendo's walk."""
    return every > 0 and i % every == every - 1


def create(path, bpmn, instances):
    """Creates and persists every instance, waiting at its first user task (not measured)."""
    spec = load_spec(bpmn)
    ser = BpmnWorkflowSerializer()
    db = connect(path)
    db.execute(
        "CREATE TABLE workflow (id INTEGER PRIMARY KEY, version INTEGER NOT NULL, "
        "completed INTEGER NOT NULL, serialization TEXT NOT NULL, updated_at REAL NOT NULL)"
    )
    db.execute("BEGIN")
    for i in range(instances):
        wf = BpmnWorkflow(spec)
        wf.do_engine_steps()
        db.execute(
            "INSERT INTO workflow (id, version, completed, serialization, updated_at) VALUES (?, 1, 0, ?, ?)",
            (i, ser.serialize_json(wf), time.time()),
        )
    db.execute("COMMIT")
    db.close()


def step(wf, i, every, returned):
    """Completes the instance's READY user task; returns the task's name."""
    task = wf.get_next_task(state=TaskState.READY, manual=True)
    if task is None:
        raise RuntimeError(f"instance {i}: no READY user task")
    name = task.task_spec.name
    if name == RETURN_STEP:
        back = returns(i, every) and i not in returned
        task.data["tra_lai"] = back
        if back:
            task.data["y_kien"] = RETURN_COMMENT
            returned.add(i)
    task.run()
    wf.do_engine_steps()
    return name


def writer(w, path, bpmn, ids, every, cached, barrier, out):
    try:
        spec = load_spec(bpmn)
        ser = BpmnWorkflowSerializer()
        db = connect(path)
        versions = {i: 1 for i in ids}
        memory = {}
        returned = set()
        live = list(ids)
        latencies = []
        barrier.wait()
        start = time.monotonic()
        while live:
            still = []
            for i in live:
                t0 = time.monotonic()
                if cached and i in memory:
                    wf = memory[i]
                else:
                    (text,) = db.execute(
                        "SELECT serialization FROM workflow WHERE id = ?", (i,)
                    ).fetchone()
                    wf = ser.deserialize_json(text)
                    if cached:
                        memory[i] = wf
                step(wf, i, every, returned)
                done = wf.is_completed()
                cur = db.execute(
                    "UPDATE workflow SET version = version + 1, completed = ?, serialization = ?, updated_at = ? "
                    "WHERE id = ? AND version = ?",
                    (int(done), ser.serialize_json(wf), time.time(), i, versions[i]),
                )
                if cur.rowcount != 1:
                    raise RuntimeError(f"instance {i}: version {versions[i]} not found")
                versions[i] += 1
                latencies.append(time.monotonic() - t0)
                if not done:
                    still.append(i)
            live = still
        end = time.monotonic()
        db.close()
        out.put({"writer": w, "start": start, "end": end, "latencies": latencies})
    except Exception as e:  # the parent reports it and fails
        out.put({"writer": w, "error": f"{type(e).__name__}: {e}"})


def percentile_ms(sorted_lat, p):
    if not sorted_lat:
        return None
    k = min(len(sorted_lat) - 1, max(0, int(round(p * len(sorted_lat) + 0.5)) - 1))
    return sorted_lat[k] * 1000.0


def run(args):
    bpmn = args.bpmn
    folder = tempfile.mkdtemp(prefix="spiff-approval-", dir=args.dir)
    path = os.path.join(folder, "spiff.db")
    t0 = time.monotonic()
    create(path, bpmn, args.instances)
    created_s = time.monotonic() - t0
    ids = list(range(args.instances))
    w = args.writers
    each, extra = divmod(len(ids), w)
    slices, at = [], 0
    for k in range(w):
        n = each + (1 if k < extra else 0)
        slices.append(ids[at : at + n])
        at += n
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(w)
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=writer,
            args=(k, path, bpmn, slices[k], args.return_every, args.cached, barrier, out),
        )
        for k in range(w)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        print(f"spiff: a writer failed: {errors[0]}", file=sys.stderr)
        sys.exit(1)
    start = min(r["start"] for r in results)
    end = max(r["end"] for r in results)
    lat = sorted(x for r in results for x in r["latencies"])
    # The check: every instance completed, each step persisted (version = 1 + its steps).
    db = connect(path)
    (completed, steps) = db.execute(
        "SELECT SUM(completed), SUM(version - 1) FROM workflow"
    ).fetchone()
    db.close()
    returned = sum(1 for i in ids if returns(i, args.return_every))
    expected = 6 * args.instances + 2 * returned
    ok = completed == args.instances and steps == expected == len(lat)
    seconds = end - start
    result = {
        "peer": "spiffworkflow",
        "mode": "cached" if args.cached else "stateless",
        "writers": w,
        "instances": args.instances,
        "returned": returned,
        "steps": len(lat),
        "expected_steps": expected,
        "seconds": seconds,
        "steps_per_s": len(lat) / seconds if seconds > 0 else 0.0,
        "p50_ms": percentile_ms(lat, 0.50),
        "p99_ms": percentile_ms(lat, 0.99),
        "created_s": created_s,
        "check": "ok" if ok else f"MISMATCH: {completed} completed, {steps} steps persisted",
    }
    if not args.keep:
        for f in os.listdir(folder):
            os.remove(os.path.join(folder, f))
        os.rmdir(folder)
    print(json.dumps(result))
    if not ok:
        sys.exit(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", type=int, default=2000)
    p.add_argument("--writers", type=int, default=1)
    p.add_argument("--return-every", type=int, default=10)
    p.add_argument("--cached", action="store_true", help="keep each instance in the writer's memory")
    p.add_argument("--bpmn", default=os.path.join(HERE, "six-step-approval.bpmn"))
    p.add_argument("--dir", default=None, help="where the SQLite file goes (default: the temp dir)")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    if args.instances < 1 or args.writers < 1 or args.writers > args.instances:
        p.error("--instances ≥ 1 and 1 ≤ --writers ≤ --instances")
    run(args)


if __name__ == "__main__":
    main()
