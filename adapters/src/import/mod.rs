//! The file side of importing a plan's task catalogue (issue 6): `tasks.csv` (or an XLSX sheet
//! with the same header row) and the totals as printed (`totals.csv`) become
//! [`engine::catalogue::RawTable`]s, the cells as read with their line numbers. This is the only
//! part of an import that touches files.
//!
//! What the cells mean, which workflow and state each task gets, how a later file updates the
//! tasks, and the reconciliation with the printed totals are decided in
//! [`engine::catalogue`]; the store's door
//! ([`Imports::import_plan_as`](crate::store::Imports::import_plan_as)) writes them in one
//! transaction. A front end reads the files here, calls the door, and prints
//! [`engine::catalogue::ImportReport::render`].

pub mod read;

pub use read::{read_bytes, read_file, read_grids, read_grids_bytes};
