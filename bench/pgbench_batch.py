#!/usr/bin/env python3
"""Writes pgbench scripts that put N transitions of bench/transition.pgbench.sql in one
transaction, each in a savepoint as tiendo's group-commit writer does (`--savepoints`) or not,
to see what PostgreSQL spends on commits and savepoints apart from the statements themselves;
or (`--set-based`) the same N transitions' writes as four statements for the whole batch (one
UPDATE of the N tasks, one INSERT of their audit entries with their notifications, one INSERT of
the new timers, one UPDATE of the cancelled ones), the same rows with fewer statements.

    python3 bench/pgbench_batch.py --n 8 --savepoints > batch_sp.sql
    python3 bench/pgbench_batch.py --n 8 > batch_nosp.sql
    python3 bench/pgbench_batch.py --n 8 --set-based > batch_set.sql
    pgbench -n -M prepared -c 32 -j 2 -T 10 -D tasks=10000 -D clients=32 -f batch_sp.sql DB

on a database kept by `tiendo-bench transitions --backend postgres --keep`. pgbench's tps is
then batches a second: multiply by N for transitions. The N tasks of a batch are distinct and
in the client's own slice, as in the one-transition script.
"""
import argparse
import pathlib

SCRIPT = pathlib.Path(__file__).with_name("transition.pgbench.sql")


def renamed(text: str, i: int) -> str:
    for old, new in [
        ("\\set n ", f"\\set n{i} "),
        ("WHERE n = :n)", f"WHERE n = :n{i})"),
        (":t_", f":t{i}_"),
        ("gset t_", f"gset t{i}_"),
        (":a_id", f":a{i}_id"),
        ("gset a_", f"gset a{i}_"),
    ]:
        text = text.replace(old, new)
    return text


ID = (
    "lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')"
    " || substr(gen_random_uuid()::text, 13)"
)
HASH = "'3c0a2b82ef6af6ae59d1668fa0fe2336e5126f508042282a3dd31524850a045f'"
COMMENT = (
    "'Đề nghị đơn vị bổ sung báo giá của ít nhất 03 nhà cung cấp và thuyết minh chi tiết khối"
    " lượng, đơn giá của từng hạng mục trong dự toán.'"
)
NAME = "Nâng cấp hệ thống thông tin phục vụ đo hiệu năng, hạng mục số 00082"


def set_based(n: int) -> list:
    """The writes of N transitions (each `trinh` or `tra_lai` by the task's state, as the
    one-transition script's branches) in four statements; values as that script's."""
    rows = lambda cols: ", ".join(
        "(" + ", ".join(c.format(i=i) for c in cols) + ")" for i in range(n)
    )
    v = rows([":t{i}_id::text", ":t{i}_version::bigint", ":t{i}_audit_seq::bigint",
              ":t{i}_audit_head::text", ":t{i}_drafting::int"])
    d = "v.d = 1"
    update = f"""UPDATE tasks t SET state = CASE WHEN {d} THEN 'tham_dinh' ELSE 'soan_ho_so' END,
    phase = CASE WHEN {d} THEN 'appraisal' ELSE 'explanation_and_estimate' END, state_entered_at = now(), version = v.ver + 1,
    clock = CASE WHEN {d} THEN '{{"state":"tham_dinh","started_at":"2026-11-23T16:' || '44:' || '04.944569Z","due_at":"2026-12-14T16:' || '59:' || '59Z","paused_at":' || 'null}}' END,
    paused_clock = NULL,
    transition_counts = CASE WHEN {d} THEN '{{"bat_dau":' || '1,"tra_lai":' || '7,"trinh":' || '8}}' ELSE '{{"bat_dau":' || '1,"tra_lai":' || '8,"trinh":' || '8}}' END,
    due_at = CASE WHEN {d} THEN now() + interval '21 days' END,
    audit_seq = v.seq + 1, audit_head = {HASH}, updated_at = now()
    FROM (VALUES {v}) AS v(id, ver, seq, head, d) WHERE t.id = v.id AND t.version = v.ver;"""
    payload = (
        "'{\"actor\":\"' || CASE WHEN " + d + " THEN 'bench.donvi' ELSE 'bench.stc' END || '\",\"audit_id\":' || a.id"
        " || ',\"comment\":' || CASE WHEN " + d + " THEN 'null' ELSE '\"' || " + COMMENT + " || '\"' END"
        " || ',\"due_at\":' || CASE WHEN " + d + " THEN '\"2026-12-14T16:' || '59:' || '59Z\"' ELSE 'null' END"
        " || ',\"from_state\":\"' || CASE WHEN " + d + " THEN 'soan_ho_so' ELSE 'tham_dinh' END"
        " || '\",\"roles\":[\"' || m.role || '\"],\"task_id\":\"' || a.task_id"
        " || '\",\"task_name\":\"" + NAME + "\",\"to_state\":\"' || CASE WHEN " + d + " THEN 'tham_dinh' ELSE 'soan_ho_so' END"
        " || '\",\"transition\":\"' || CASE WHEN " + d + " THEN 'trinh' ELSE 'tra_lai' END || '\",\"unit_id\":\"bench-don-vi\"}'"
    ).replace('\\"', '"')
    audit = f"""WITH v(id, ver, seq, head, d) AS (VALUES {v}),
a AS (INSERT INTO audit_log (task_id, seq, kind, at, actor_user, actor_role, transition, from_state, to_state, from_phase, to_phase,
    comment, documents, workflow, workflow_version, idempotency_key, prev_hash, hash)
    SELECT v.id, v.seq + 1, 'transition', now(), CASE WHEN {d} THEN 'bench.donvi' ELSE 'bench.stc' END,
    CASE WHEN {d} THEN 'don_vi' ELSE 'so_tai_chinh' END, CASE WHEN {d} THEN 'trinh' ELSE 'tra_lai' END,
    CASE WHEN {d} THEN 'soan_ho_so' ELSE 'tham_dinh' END, CASE WHEN {d} THEN 'tham_dinh' ELSE 'soan_ho_so' END,
    CASE WHEN {d} THEN 'explanation_and_estimate' ELSE 'appraisal' END, CASE WHEN {d} THEN 'appraisal' ELSE 'explanation_and_estimate' END,
    CASE WHEN {d} THEN NULL ELSE {COMMENT} END, '[]', 'bench-cycle', 1, NULL, v.head, {HASH}
    FROM v RETURNING id, task_id)
INSERT INTO outbox (id, task_id, template, payload, status, attempts, next_attempt_at, created_at)
    SELECT {ID}, a.task_id, m.template, {payload}, 'pending', 0, now(), now()
    FROM a JOIN v ON v.id = a.task_id
    JOIN (VALUES (1, 'task.turn', 'so_tai_chinh'), (1, 'task.progress', 'don_vi'), (0, 'task.turn', 'don_vi')) AS m(d, template, role) ON m.d = v.d;"""
    timers = f"""INSERT INTO timers (id, task_id, state, kind, spec, fire_at, due_at, status, created_at)
    SELECT {ID}, v.id, 'tham_dinh', k.kind, k.spec, now() + k.fire, now() + interval '21 days', 'pending', now()
    FROM (VALUES {v}) AS v(id, ver, seq, head, d)
    CROSS JOIN (VALUES ('reminder', '{{"kind":"reminder","fraction":' || '0.5}}', interval '10 days 12 hours'),
        ('reminder', '{{"kind":"reminder","fraction":' || '0.75}}', interval '15 days 18 hours'),
        ('due', '{{"kind":"due"}}', interval '21 days'),
        ('overdue', '{{"kind":"overdue","every":{{"unit":"working_days","n":' || '2}}}}', interval '23 days'),
        ('escalation', '{{"kind":"escalation","to":["ubnd"]}}', interval '28 days')) AS k(kind, spec, fire)
    WHERE {d};"""
    cancel = f"""UPDATE timers SET status = 'cancelled' WHERE status = 'pending' AND state = 'tham_dinh'
    AND task_id IN (SELECT v.id FROM (VALUES {v}) AS v(id, ver, seq, head, d) WHERE v.d = 0);"""
    return [update, audit, timers, cancel]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=8, help="transitions a transaction")
    how = ap.add_mutually_exclusive_group()
    how.add_argument("--savepoints", action="store_true", help="each in a savepoint")
    how.add_argument("--set-based", action="store_true", help="four statements for the batch")
    a = ap.parse_args()
    body = "\n".join(l for l in SCRIPT.read_text().split("\n") if not l.startswith("--"))
    body = body[body.index("\\set n") :]
    pick, rest = body.split("BEGIN;", 1)
    writes = rest[: rest.rindex("COMMIT;")]
    out = []
    for i in range(a.n):
        out.append(
            renamed(pick, i).replace(
                "random(0, :tasks / :clients - 1)",
                f"(random(0, :tasks / :clients / {a.n} - 1) * {a.n} + {i})",
            )
        )
    out.append("BEGIN;")
    if a.set_based:
        out += set_based(a.n) + ["COMMIT;"]
        print("\n".join(out))
        return
    for i in range(a.n):
        out += ["SAVEPOINT g;", renamed(writes, i), "RELEASE SAVEPOINT g;"] if a.savepoints else [renamed(writes, i)]
    out.append("COMMIT;")
    print("\n".join(out))


if __name__ == "__main__":
    main()
