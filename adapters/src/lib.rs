//! tiendo's adapters: everything that touches the world around the pure `engine`.
//!
//! - [`definitions`]: reading workflows and calendars from disk or from the embedded copy.
//! - [`files`]: document files, content-addressed under the data directory.
//! - [`store`]: the SQLite/PostgreSQL store, where decisions become facts.

pub mod definitions;
pub mod files;
pub mod store;
