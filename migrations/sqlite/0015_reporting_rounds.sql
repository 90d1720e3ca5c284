-- Reporting rounds (đợt báo cáo, issue 16), SQLite. Mirrors migrations/postgres/0015_reporting_rounds.sql.
--
-- report_rounds       a round SKHCN opens for a plan: its number in the plan ("lần 2"), the date the
--                     figures are as of, the instruction it answers, the date units must submit by;
--                     the document number and signer once SKHCN sets them (signer: JSON
--                     {on_behalf, title, name}).
-- round_entries       what a unit entered for one of its tasks in a round: progress text,
--                     difficulties (JSON [{kind, text}]) and proposals (JSON [{text, letter}]).
--                     Every save is also an audit entry in the task's chain (kind `round`).
-- round_submissions   a unit's submission of its entries for a round; reopened_at set when SKHCN
--                     reopens it (the unit may edit again and submits anew: a new row).
-- round_drafts        SKHCN's text for a section of the official report (engine::round::DraftSection).
-- round_events        append-only: who opened the round, changed a draft, set the number or the
--                     signer, submitted, reopened, exported (format and sha256 of the bytes), and the
--                     reminders queued for late units.

CREATE TABLE report_rounds (
    id           TEXT PRIMARY KEY,
    plan_id      TEXT NOT NULL REFERENCES plans (id),
    number       INTEGER NOT NULL,
    cut_off      TEXT NOT NULL,
    instruction  TEXT NOT NULL,
    units_due    TEXT NOT NULL,
    doc_number   TEXT,
    signer       TEXT,
    opened_by    TEXT NOT NULL,
    opened_at    TEXT NOT NULL,
    UNIQUE (plan_id, number)
);

CREATE TABLE round_entries (
    round_id      TEXT NOT NULL REFERENCES report_rounds (id),
    task_id       TEXT NOT NULL REFERENCES tasks (id),
    unit_id       TEXT NOT NULL,
    progress      TEXT NOT NULL,
    difficulties  TEXT NOT NULL DEFAULT '[]',
    proposals     TEXT NOT NULL DEFAULT '[]',
    updated_by    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (round_id, task_id)
);
CREATE INDEX round_entries_unit ON round_entries (round_id, unit_id);

CREATE TABLE round_submissions (
    id            TEXT PRIMARY KEY,
    round_id      TEXT NOT NULL REFERENCES report_rounds (id),
    unit_id       TEXT NOT NULL,
    submitted_by  TEXT NOT NULL,
    submitted_at  TEXT NOT NULL,
    reopened_by   TEXT,
    reopened_at   TEXT,
    reopen_reason TEXT
);
-- one open (not reopened) submission per unit and round
CREATE UNIQUE INDEX round_submissions_current ON round_submissions (round_id, unit_id) WHERE reopened_at IS NULL;

CREATE TABLE round_drafts (
    round_id    TEXT NOT NULL REFERENCES report_rounds (id),
    section     TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (round_id, section)
);

CREATE TABLE round_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    round_id    TEXT NOT NULL REFERENCES report_rounds (id),
    kind        TEXT NOT NULL,
    unit_id     TEXT,
    actor_user  TEXT NOT NULL,
    at          TEXT NOT NULL,
    detail      TEXT,
    format      TEXT,
    sha256      TEXT
);
CREATE INDEX round_events_round ON round_events (round_id, id);
CREATE TRIGGER round_events_no_update BEFORE UPDATE ON round_events
BEGIN SELECT RAISE(ABORT, 'round_events is append-only: UPDATE refused'); END;
CREATE TRIGGER round_events_no_delete BEFORE DELETE ON round_events
BEGIN SELECT RAISE(ABORT, 'round_events is append-only: DELETE refused'); END;
