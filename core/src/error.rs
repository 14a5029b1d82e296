//! One error type for every admin operation and store call: its kind maps onto CLI exit codes,
//! C ABI return codes and HTTP statuses; its message is written for the person who caused it.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum Error {
    /// The thing named does not exist ("domain example.test does not exist").
    NotFound(String),
    /// The thing to create exists already.
    Exists(String),
    /// The request itself is wrong (bad address, bad size, bad name).
    Invalid(String),
    /// The operation is refused in the present state (removing a domain that still has users).
    Conflict(String),
    /// The disk or the database failed.
    Storage(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "not_found",
            Error::Exists(_) => "exists",
            Error::Invalid(_) => "invalid",
            Error::Conflict(_) => "conflict",
            Error::Storage(_) => "storage",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Error::NotFound(m)
            | Error::Exists(m)
            | Error::Invalid(m)
            | Error::Conflict(m)
            | Error::Storage(m) => m,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Storage(format!("disk: {e}"))
    }
}
