//! `tiendo demo`: a ready-to-try SQLite database.

use super::{Ctx, Failure};

pub async fn run(_ctx: &Ctx<'_>) -> Result<String, Failure> {
    Err(Failure::refused("not yet built"))
}
