-- The planned allocation of a year (dự kiến phân bổ, issue 14), PostgreSQL. Mirrors
-- migrations/sqlite/0016_planned_allocation.sql (see there for the columns).

ALTER TABLE budget_lines ADD COLUMN planned_allocation_vnd BIGINT;
ALTER TABLE budget_history ADD COLUMN planned_allocation_vnd BIGINT;
