//! A benchmark that did not run to the end (a database, a tool, a check of the data it left):
//! the message for the operator; the exit code is 1. Flags that do not fit together are refused
//! before any work, as clap's usage errors (exit code 2).

use adapters::store::StoreError;

#[derive(Debug)]
pub struct Failure(pub String);

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure(message.into())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure(match e {
            StoreError::Database(e) => format!("database error: {e}"),
            StoreError::Migrate(e) => format!("migration error: {e}"),
            other => other.to_string(),
        })
    }
}
