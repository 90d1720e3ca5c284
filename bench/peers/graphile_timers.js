// graphile-worker's side of the peers' third pair (bench/peers/README.md): due timer jobs fired
// into an outbox table on PostgreSQL, against `tiendo-bench timers`.
//
// In a fresh database on the server at --url: graphile-worker's schema (its own migrations) and
// an `outbox` table with the columns of tiendo's. Then --jobs timer jobs, added as graphile-worker
// batch jobs of --batch items each (a batch job's payload is an array: graphile-worker merges jobs
// added under one job key into one such array; --batch 1 adds plain jobs), all scheduled far in
// the future. --instances worker processes start (each `run()` with --concurrency, a local queue
// and batched completion) and report ready; then every job is made due at once with
// `graphile_worker.reschedule_jobs` (the backlog a scheduler finds after downtime, as tiendo's
// bench fires every timer as of a moment when all are due), and the clock runs until the last job
// is completed (graphile_worker.jobs is empty).
//
// Per job, the task handler inserts one outbox row (id, template, a JSON payload of a realistic
// size, status 'pending'); the items of one batch job in one INSERT statement, committed before
// the handler returns; graphile-worker then completes the job (deletes it). At the end the
// outbox must hold exactly one row per job.
//
// Prints one JSON line. Run by bench/peers/run with NODE_PATH pointing at the graphile-worker it
// installed; by hand:
//   NODE_PATH=target/peers/node/node_modules node bench/peers/graphile_timers.js --jobs 100000

"use strict";

const { fork } = require("child_process");
const { performance } = require("perf_hooks");

function parseArgs(argv) {
  const a = {
    url: process.env.TIENDO_BENCH_POSTGRES || "postgres://postgres@127.0.0.1:5432/postgres",
    jobs: 100000,
    batch: 200,
    instances: 2,
    concurrency: 2,
    child: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === "--url") a.url = v();
    else if (k === "--jobs") a.jobs = Number(v());
    else if (k === "--batch") a.batch = Number(v());
    else if (k === "--instances") a.instances = Number(v());
    else if (k === "--concurrency") a.concurrency = Number(v());
    else if (k === "--child") a.child = v();
    else throw new Error(`unknown argument ${k}`);
  }
  for (const k of ["jobs", "batch", "instances", "concurrency"]) {
    if (!Number.isInteger(a[k]) || a[k] < 1) throw new Error(`--${k} must be a whole number ≥ 1`);
  }
  return a;
}

/** The database URL with another database name. */
function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = "/" + name;
  return u.toString();
}

const OUTBOX = `CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    task_id          TEXT,
    template         TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    sent_at          TIMESTAMPTZ
);
CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);`;

const KINDS = ["reminder", "reminder", "due", "overdue", "escalation"];

/** Timer job number i: what tiendo's timers carry, and a payload of the size of its messages. */
function item(i) {
  const task = Math.floor(i / 5);
  return {
    timer: i,
    task_id: `0190f3a2-7c4e-7d2a-9b1e-${String(task).padStart(12, "0")}`,
    kind: KINDS[i % 5],
    state: "tham_dinh",
    roles: ["so_tai_chinh"],
    due_at: "2026-12-14T16:59:59Z",
    task_name: `Nâng cấp hệ thống thông tin phục vụ đo hiệu năng, hạng mục số ${String(task + 1).padStart(5, "0")}`,
    unit_id: "bench-don-vi",
  };
}

const INSERT = `INSERT INTO outbox (id, task_id, template, payload, status, attempts, next_attempt_at, created_at)
    SELECT gen_random_uuid()::text, x->>'task_id', 'task.deadline', x::text, 'pending', 0, now(), now()
    FROM json_array_elements($1::json) AS x`;

async function child(a) {
  const { run } = require("graphile-worker");
  const runner = await run({
    connectionString: a.child,
    concurrency: a.concurrency,
    noHandleSignals: true,
    pollInterval: 50,
    logger: quietLogger(),
    preset: {
      worker: {
        localQueue: { size: a.concurrency + 1 },
        completeJobBatchDelay: 0,
      },
    },
    taskList: {
      fire: async (payload, helpers) => {
        const items = Array.isArray(payload) ? payload : [payload];
        await helpers.query(INSERT, [JSON.stringify(items)]);
      },
    },
  });
  process.on("message", async (m) => {
    if (m === "stop") {
      await runner.stop();
      process.exit(0);
    }
  });
  process.send("ready");
}

function quietLogger() {
  const { Logger } = require("graphile-worker");
  return new Logger(() => (level, message) => {
    if (level === "error") process.stderr.write(`graphile-worker: ${message}\n`);
  });
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a.child) return child(a);
  const { Client } = require("pg");
  const { makeWorkerUtils } = require("graphile-worker");
  const name = `tiendo_peers_graphile_${process.pid}_${Date.now() % 100000}`;
  const admin = new Client({ connectionString: a.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = withDatabase(a.url, name);
  const db = new Client({ connectionString: url });
  let children = [];
  try {
    await db.connect();
    const utils = await makeWorkerUtils({ connectionString: url, logger: quietLogger() });
    await utils.migrate();
    await db.query(OUTBOX);
    // The backlog, scheduled far in the future so that no worker takes a job before the clock.
    const later = new Date("2100-01-01T00:00:00Z");
    const added = performance.now();
    let specs = [];
    for (let i = 0; i < a.jobs; i += a.batch) {
      const items = [];
      for (let j = i; j < Math.min(i + a.batch, a.jobs); j++) items.push(item(j));
      specs.push({ identifier: "fire", payload: a.batch === 1 ? items[0] : items, runAt: later });
      if (specs.length === 1000) {
        await utils.addJobs(specs);
        specs = [];
      }
    }
    if (specs.length) await utils.addJobs(specs);
    await utils.release();
    const addedS = (performance.now() - added) / 1000;
    await db.query("VACUUM ANALYZE");
    await db.query("CHECKPOINT");

    children = Array.from({ length: a.instances }, () =>
      fork(__filename, [
        "--child", url,
        "--concurrency", String(a.concurrency),
        "--jobs", String(a.jobs),
      ]),
    );
    await Promise.all(
      children.map(
        (c) =>
          new Promise((resolve, reject) => {
            c.once("message", (m) => (m === "ready" ? resolve() : reject(new Error(String(m)))));
            c.once("exit", (code) => reject(new Error(`a worker exited early (${code})`)));
          }),
      ),
    );
    const start = performance.now();
    await db.query(
      "SELECT graphile_worker.reschedule_jobs(array(SELECT id FROM graphile_worker.jobs), run_at := now())",
    );
    let end;
    for (;;) {
      const r = await db.query("SELECT count(*)::int AS n FROM graphile_worker.jobs");
      if (r.rows[0].n === 0) {
        end = performance.now();
        break;
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    await Promise.all(
      children.map(
        (c) =>
          new Promise((resolve) => {
            c.removeAllListeners("exit");
            c.once("exit", resolve);
            c.send("stop");
          }),
      ),
    );
    children = [];
    const rows = (await db.query("SELECT count(*)::int AS n FROM outbox")).rows[0].n;
    const seconds = (end - start) / 1000;
    const ok = rows === a.jobs;
    const version = require("graphile-worker/package.json").version;
    console.log(
      JSON.stringify({
        peer: "graphile-worker",
        version,
        jobs: a.jobs,
        batch: a.batch,
        instances: a.instances,
        concurrency: a.concurrency,
        seconds,
        jobs_per_s: a.jobs / seconds,
        added_s: addedS,
        outbox_rows: rows,
        check: ok ? "ok" : `MISMATCH: ${rows} outbox rows for ${a.jobs} jobs`,
      }),
    );
    if (!ok) process.exitCode = 1;
  } finally {
    for (const c of children) c.kill("SIGKILL");
    await db.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
}

main().catch((e) => {
  process.stderr.write(`graphile_timers: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
