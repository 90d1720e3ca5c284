//! tiendo's adapters: everything that touches the world around the pure `engine`.
//!
//! - [`definitions`]: reading workflows and calendars from disk or from the embedded copy.

pub mod definitions;
