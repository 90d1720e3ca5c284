-- The SQL statements of one `store.tasks().transition_as` on PostgreSQL, for pgbench, so that
-- `tiendo-bench transitions` can print tiendo's throughput beside the database's own ceiling for
-- the same work. tiendo runs it itself after its measurement (against the same bench database,
-- with as many clients as its largest writer count); by hand:
--
--   pgbench -n -M prepared -c 32 -j 2 -T 10 -D tasks=10000 -D clients=32 \
--           -f bench/transition.pgbench.sql postgres://postgres@127.0.0.1:5432/tiendo_bench_…
--
-- on a database seeded by `tiendo-bench transitions --backend postgres --keep`, which also holds
-- the helper table bench_ids(n, task_id) numbering the bench tasks 1..tasks (it is not part of
-- the schema).
--
-- One run of this script is one transition, as the store issues it (adapters/src/store/tasks/,
-- `Tasks::transition_as` and `Effects::write`), statement for statement and round trip for round trip,
-- without an idempotency key (no idempotency SELECT or INSERT) and without documents (no
-- documents SELECT):
--   SELECT the task with its plan, unit and largest budget figure;
--   BEGIN; UPDATE tasks … WHERE id AND version AND audit_seq; INSERT audit_log … RETURNING id;
--   trinh   (soan_ho_so → tham_dinh): one INSERT of 5 timers, one INSERT of 2 notifications;
--   tra_lai (tham_dinh → soan_ho_so): UPDATE timers SET status = 'cancelled', one INSERT of 1
--           notification;
--   COMMIT.
-- Seven round trips, as `log_statement = all` shows tiendo sending (checked 06/12/2026: until
-- then this script still sent each timer and notification in an INSERT of its own, twelve round
-- trips on `trinh`, as tiendo did before its multi-row INSERTs of 04/12/2026). The notifications'
-- payloads get the audit id as tiendo's do, by REPLACE of a pending marker with a subquery on
-- the entry just written.
-- Values have the sizes of the real ones (64-hex hashes, time-ordered uuid-v7-shaped ids, JSON of
-- the same length). Where tiendo binds values computed in Rust, this script has literals or
-- server expressions (ids from clock_timestamp() and gen_random_uuid(), payloads concatenated
-- around the task id): slightly more server work than tiendo's bound values, so pgbench's figure
-- is, if anything, a low ceiling. The SELECT finds the task through bench_ids inside the same
-- statement (one more index probe, no extra round trip).
-- What pgbench does NOT replay is tiendo's own work: decoding the row, `decide` (working-day
-- deadline arithmetic), hashing the audit entry, JSON, the async runtime, and sqlx's pool (which
-- hands connections out without a ping: `test_before_acquire(false)` in adapters/src/store/mod.rs).
--
-- pgbench takes a colon followed by a letter or digit for a variable even inside a string
-- literal, so the JSON literals are split there with `||` (constant-folded when the statement is
-- planned, so it costs nothing per execution).
--
-- Each client moves only its own tasks (n ≡ client_id mod clients), as each tiendo writer owns
-- a disjoint slice, so that neither measures version conflicts.

\set n 1 + :client_id + :clients * random(0, :tasks / :clients - 1)

SELECT t.id, t.plan_id, p.number AS plan_number, t.unit_id, u.name AS unit_name, t.name,
    t.funding_source, t.kind, t.workflow, t.workflow_version, t.state, t.phase, t.state_entered_at, t.version,
    t.period, t.is_rental, t.clock, t.paused_clock, t.transition_counts, t.review, t.state_entries, t.due_at,
    t.audit_seq, t.audit_head, t.created_at, t.updated_at, t.expected_completion_on, t.assigned_deadline_on,
    t.deadline_doc_number, t.deadline_doc_date, t.own_fund,
    (SELECT MAX(b.need_total_vnd) FROM budget_lines b WHERE b.task_id = t.id) AS amount_vnd,
    (t.state = 'soan_ho_so')::int AS drafting
    FROM tasks t JOIN plans p ON p.id = t.plan_id JOIN units u ON u.id = t.unit_id
    WHERE t.id = (SELECT task_id FROM bench_ids WHERE n = :n) \gset t_

BEGIN;

\if :t_drafting
-- trinh (soan_ho_so → tham_dinh) as bench.donvi: a 15-working-day deadline, 5 timers, 2 notifications.
UPDATE tasks SET state = 'tham_dinh', phase = 'appraisal', state_entered_at = now(), version = :t_version + 1,
    clock = '{"state":"tham_dinh","started_at":"2026-11-23T16:' || '44:' || '04.944569Z","due_at":"2026-12-14T16:' || '59:' || '59Z","paused_at":' || 'null}',
    paused_clock = NULL, transition_counts = '{"bat_dau":' || '1,"tra_lai":' || '7,"trinh":' || '8}', due_at = now() + interval '21 days',
    audit_seq = :t_audit_seq + 1, audit_head = '3c0a2b82ef6af6ae59d1668fa0fe2336e5126f508042282a3dd31524850a045f', updated_at = now(),
    review = 1, state_entries = '{"de_xuat":' || '1,"soan_ho_so":' || '8,"tham_dinh":' || '8}', workflow_version = COALESCE(NULL, workflow_version)
    WHERE id = :t_id AND version = :t_version AND audit_seq = :t_audit_seq;
INSERT INTO audit_log (task_id, seq, kind, at, actor_user, actor_role, transition, from_state, to_state, from_phase, to_phase,
    comment, documents, workflow, workflow_version, idempotency_key, prev_hash, hash, review, round, evidence)
    VALUES (:t_id, :t_audit_seq + 1, 'transition', now(), 'bench.donvi', 'don_vi', 'trinh', 'soan_ho_so', 'tham_dinh',
    'explanation_and_estimate', 'appraisal', NULL, '[]', 'bench-cycle', 1, NULL, :t_audit_head,
    '3c0a2b82ef6af6ae59d1668fa0fe2336e5126f508042282a3dd31524850a045f', 1, 8, NULL) RETURNING id \gset a_
INSERT INTO timers (id, task_id, state, kind, spec, fire_at, due_at, status, created_at) VALUES
(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(gen_random_uuid()::text, 13), :t_id, 'tham_dinh', 'reminder', '{"kind":"reminder","fraction":' || '0.5}',
    now() + interval '10 days 12 hours', now() + interval '21 days', 'pending', now()),
(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(gen_random_uuid()::text, 13), :t_id, 'tham_dinh', 'reminder', '{"kind":"reminder","fraction":' || '0.75}',
    now() + interval '15 days 18 hours', now() + interval '21 days', 'pending', now()),
(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(gen_random_uuid()::text, 13), :t_id, 'tham_dinh', 'due', '{"kind":"due"}',
    now() + interval '21 days', now() + interval '21 days', 'pending', now()),
(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(gen_random_uuid()::text, 13), :t_id, 'tham_dinh', 'overdue', '{"kind":"overdue","every":{"unit":"working_days","n":' || '2}}',
    now() + interval '23 days', now() + interval '21 days', 'pending', now()),
(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(gen_random_uuid()::text, 13), :t_id, 'tham_dinh', 'escalation', '{"kind":"escalation","to":["ubnd"]}',
    now() + interval '28 days', now() + interval '21 days', 'pending', now());
INSERT INTO outbox (id, task_id, template, payload, status, attempts, next_attempt_at, created_at) VALUES
(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(gen_random_uuid()::text, 13), :t_id, 'task.turn',
    REPLACE('{"actor":"bench.donvi","audit_id"' || ':-9223372036854775808,"comment":' || 'null,"due_at":"2026-12-14T16:' || '59:' || '59Z","from_state":"soan_ho_so","roles":["so_tai_chinh"],"task_id":"' || :t_id || '","task_name":"Nâng cấp hệ thống thông tin phục vụ đo hiệu năng, hạng mục số 00082","to_state":"tham_dinh","transition":"trinh","unit_id":"bench-don-vi"}', '"audit_id"' || ':-9223372036854775808', '"audit_id"' || ':' || CAST((SELECT id FROM audit_log WHERE task_id = :t_id AND seq = :t_audit_seq + 1) AS TEXT)), 'pending', 0, now(), now()),
(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(gen_random_uuid()::text, 13), :t_id, 'task.progress',
    REPLACE('{"actor":"bench.donvi","audit_id"' || ':-9223372036854775808,"comment":' || 'null,"due_at":"2026-12-14T16:' || '59:' || '59Z","from_state":"soan_ho_so","roles":["don_vi"],"task_id":"' || :t_id || '","task_name":"Nâng cấp hệ thống thông tin phục vụ đo hiệu năng, hạng mục số 00082","to_state":"tham_dinh","transition":"trinh","unit_id":"bench-don-vi"}', '"audit_id"' || ':-9223372036854775808', '"audit_id"' || ':' || CAST((SELECT id FROM audit_log WHERE task_id = :t_id AND seq = :t_audit_seq + 1) AS TEXT)), 'pending', 0, now(), now());
\else
-- tra_lai (tham_dinh → soan_ho_so) as bench.stc, with a comment: cancel the deadline's timers, 1 notification.
UPDATE tasks SET state = 'soan_ho_so', phase = 'explanation_and_estimate', state_entered_at = now(), version = :t_version + 1,
    clock = NULL, paused_clock = NULL, transition_counts = '{"bat_dau":' || '1,"tra_lai":' || '8,"trinh":' || '8}', due_at = NULL,
    audit_seq = :t_audit_seq + 1, audit_head = '3c0a2b82ef6af6ae59d1668fa0fe2336e5126f508042282a3dd31524850a045f', updated_at = now(),
    review = 1, state_entries = '{"de_xuat":' || '1,"soan_ho_so":' || '9,"tham_dinh":' || '8}', workflow_version = COALESCE(NULL, workflow_version)
    WHERE id = :t_id AND version = :t_version AND audit_seq = :t_audit_seq;
INSERT INTO audit_log (task_id, seq, kind, at, actor_user, actor_role, transition, from_state, to_state, from_phase, to_phase,
    comment, documents, workflow, workflow_version, idempotency_key, prev_hash, hash, review, round, evidence)
    VALUES (:t_id, :t_audit_seq + 1, 'transition', now(), 'bench.stc', 'so_tai_chinh', 'tra_lai', 'tham_dinh', 'soan_ho_so',
    'appraisal', 'explanation_and_estimate', 'Đề nghị đơn vị bổ sung báo giá của ít nhất 03 nhà cung cấp và thuyết minh chi tiết khối lượng, đơn giá của từng hạng mục trong dự toán.', '[]', 'bench-cycle', 1, NULL, :t_audit_head,
    '3c0a2b82ef6af6ae59d1668fa0fe2336e5126f508042282a3dd31524850a045f', 1, 9, NULL) RETURNING id \gset a_
UPDATE timers SET status = 'cancelled' WHERE task_id = :t_id AND state = 'tham_dinh' AND status = 'pending';
INSERT INTO outbox (id, task_id, template, payload, status, attempts, next_attempt_at, created_at) VALUES
(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(gen_random_uuid()::text, 13), :t_id, 'task.turn',
    REPLACE('{"actor":"bench.stc","audit_id"' || ':-9223372036854775808,"comment":' || '"Đề nghị đơn vị bổ sung báo giá của ít nhất 03 nhà cung cấp và thuyết minh chi tiết khối lượng, đơn giá của từng hạng mục trong dự toán.","due_at":' || 'null,"from_state":"tham_dinh","roles":["don_vi"],"task_id":"' || :t_id || '","task_name":"Nâng cấp hệ thống thông tin phục vụ đo hiệu năng, hạng mục số 00082","to_state":"soan_ho_so","transition":"tra_lai","unit_id":"bench-don-vi"}', '"audit_id"' || ':-9223372036854775808', '"audit_id"' || ':' || CAST((SELECT id FROM audit_log WHERE task_id = :t_id AND seq = :t_audit_seq + 1) AS TEXT)), 'pending', 0, now(), now());
\endif

COMMIT;
