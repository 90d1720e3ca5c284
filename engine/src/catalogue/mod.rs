//! A plan's task catalogue (issue 6): what its rows mean, which workflow and state each task
//! gets, how a later file updates the tasks an earlier one created, and whether the totals as
//! printed add up. Pure: the adapters read the files into [`RawTable`]s and write what is
//! decided here; nothing here touches a file or the database.
//!
//! The steps of an import, in order:
//!
//! - [`table`]: a file's cells as read (the input).
//! - [`mod@prepare`]: the request ([`PlanImport`]), checked and parsed into what the store writes.
//! - [`row`] parses and normalises records into [`CatalogueRow`]s, collecting every malformed
//!   row with its line number and reason, reading cells with [`cell`], choosing each row's
//!   workflow with [`kind`] and its state with [`place`].
//! - [`names`]: the folded names and the key a row finds its task by on a later import, and the
//!   spellings of a unit.
//! - [`reimport`]: new, changed and unchanged rows; what changed; what a changed row does to its
//!   task. [`entries`]: the audit entries an import writes.
//! - [`mod@reconcile`] reads the printed totals and compares them with the rows: every mismatch
//!   beyond the printed precision, as (appendix, group, unit, column, printed, computed).
//! - [`summary`]: what the import did and found, as a person reads it.
//! - [`layout`]: how a plan is printed (appendices, funding groups, Roman numerals), shared with
//!   the reports.
//!
//! The store's door (`Store::imports().import_plan_as`) runs [`prepare::prepare`], writes in one
//! transaction what [`reimport`] decides, and answers with [`Prepared::report`].

pub mod cell;
pub mod entries;
pub mod kind;
pub mod layout;
pub mod names;
pub mod place;
pub mod prepare;
pub mod printed;
pub mod reconcile;
pub mod reimport;
pub mod row;
pub mod summary;
pub mod table;

pub use entries::{IMPORT_TRANSITION, IMPORT_UPDATE_TRANSITION, Importer};
pub use kind::{KIND_RULES, KindRule, KindTest, choose_kind};
pub use names::{folded_name, task_key, unit_spellings};
pub use place::placement;
pub use prepare::{CatalogueError, ImportPlan, PlanImport, Prepared, prepare};
pub use reconcile::{Mismatch, MismatchColumn, PrintedTotal, TotalsLevel, parse_totals, reconcile};
pub use row::{Catalogue, CatalogueRow, InvalidRow, RowWarning, parse_rows};
pub use summary::{ImportOutcome, ImportReport, TaskUpdate};
pub use table::{FileError, RawRecord, RawTable};
