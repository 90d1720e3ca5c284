//! tiendo's pure core.
//!
//! Everything here is a function of its arguments: no I/O, no clock, no async, no database.
//! The adapters read files and rows and hand their text and values to this crate; this crate
//! answers with parsed definitions, deadlines and decisions.
//!
//! - [`phase`]: the legal backbone, compiled in with the `sm` crate.
//! - [`role`]: who users are; [`access`]: who may see and manage what, beyond transitions.
//! - [`input`]: what people may type (hidden characters, lengths) and the password policy.
//! - [`calendar`]: Vietnamese civil-service working days, loaded from yearly data files.
//! - [`workflow`]: declared workflows, their loader and validator, and their renderings.
//! - [`decide`]: the one function that turns a command on a task into effects or a rejection.
//! - [`wording`]: the Vietnamese of deadlines and time left, for every front end alike.
//! - [`catalogue`]: a plan's task catalogue: rows, kinds, placement, re-import, reconciliation.
//! - [`plan`]: plans that span years: listings, year-level status, lineage between tasks.
//! - [`assigned`]: the assigned deadline (thời hạn giao) and the Government Office's categories.
//! - [`round`]: reporting rounds: what units answer per task, what the official report prints.

pub mod access;
pub mod assigned;
pub mod calendar;
pub mod catalogue;
pub mod decide;
pub mod domain;
pub mod forecast;
pub mod html;
pub mod input;
pub mod money;
pub mod notify;
pub mod phase;
pub mod plan;
pub mod proposal;
pub mod role;
pub mod round;
#[cfg(test)]
mod testing;
pub mod time;
pub mod wording;
pub mod workflow;

pub use phase::{Phase, backbone_allows};
pub use role::Role;
