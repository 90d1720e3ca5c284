-- The planned allocation of a year (dự kiến phân bổ, issue 14), SQLite. Mirrors
-- migrations/postgres/0016_planned_allocation.sql.
--
-- budget_lines.planned_allocation_vnd    the year's planned allocation, in đồng, as the plan prints
--                                        it ("Dự kiến phân bổ kinh phí năm 2024 (đợt 1)"): a figure
--                                        of its own, apart from allocated_year_vnd (the allocation
--                                        decided, in tranches).
-- budget_history.planned_allocation_vnd  the same in every figure set written, so a report "as of"
--                                        a date shows the planned allocation known then.
--
-- Existing lines and history entries get NULL: nothing was recorded as planned before this release
-- (a printed plan imported earlier put its "Dự kiến phân bổ" column in allocated_year_vnd; a
-- re-import of that plan records the column as planned, with a new history entry).

ALTER TABLE budget_lines ADD COLUMN planned_allocation_vnd INTEGER;
ALTER TABLE budget_history ADD COLUMN planned_allocation_vnd INTEGER;
