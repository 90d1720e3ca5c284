-- The year-end forecast's flags (issue 17, item 2), PostgreSQL. Mirrors
-- migrations/sqlite/0017_forecast_flags.sql (see there for the table).

CREATE TABLE forecast_flags (
    task_id      TEXT PRIMARY KEY REFERENCES tasks (id),
    verdict      TEXT NOT NULL CHECK (verdict IN ('cannot_finish', 'at_risk')),
    due_on       DATE,
    earliest_on  DATE NOT NULL,
    typical_on   DATE NOT NULL,
    binding      TEXT,
    raised_at    TIMESTAMPTZ NOT NULL
);
