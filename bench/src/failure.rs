//! A benchmark that did not run to the end: the message for the operator and the exit code
//! (2 for a usage error, 1 for anything else).

use adapters::store::StoreError;

#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    /// The command line asked for something the benchmark cannot do.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 2,
        }
    }

    /// The run failed (a database, a tool, a check of the data it left).
    pub fn refused(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 1,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::refused(match e {
            StoreError::Database(e) => format!("database error: {e}"),
            StoreError::Migrate(e) => format!("migration error: {e}"),
            other => other.to_string(),
        })
    }
}
