-- The year-end forecast's flags (issue 17, item 2), SQLite. Mirrors
-- migrations/postgres/0017_forecast_flags.sql.
--
-- forecast_flags  the last flag raised per task: `cannot_finish` ("không thể hoàn thành đúng
--                 hạn") or `at_risk` ("có nguy cơ"). A flag is raised (an audit entry of kind
--                 `forecast_flag` and an email to the unit head, UBND and SKHCN) when the task's
--                 verdict becomes a flag different from the one stored here; when the task is no
--                 longer flagged the row is removed (with an audit entry, no email), so a later
--                 flag is raised again.
--   due_on, earliest_on, typical_on   the forecast's dates when the flag was raised.
--   binding        the binding step's text then ("lựa chọn nhà thầu: tối thiểu 18 ngày …").

CREATE TABLE forecast_flags (
    task_id      TEXT PRIMARY KEY REFERENCES tasks (id),
    verdict      TEXT NOT NULL CHECK (verdict IN ('cannot_finish', 'at_risk')),
    due_on       TEXT,
    earliest_on  TEXT NOT NULL,
    typical_on   TEXT NOT NULL,
    binding      TEXT,
    raised_at    TEXT NOT NULL
);
