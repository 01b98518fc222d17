/// Storage failures, already interpreted per engine (SQLSTATE / SQLite
/// extended codes) so callers never match on driver errors.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique or primary-key constraint rejected the write.
    #[error("unique constraint violated: {constraint}")]
    UniqueViolation { constraint: String },
    /// A foreign-key, check or not-null constraint rejected the write.
    #[error("constraint violated: {constraint}")]
    ConstraintViolation { constraint: String },
    /// A value the engine cannot store (Postgres text cannot hold NUL).
    #[error("value not storable: {0}")]
    InvalidValue(String),
    /// The engine is busy or a serialization failure happened; retryable.
    #[error("database busy: {0}")]
    Busy(String),
    /// The database cannot be reached.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A row did not have the shape the repository expected.
    #[error("row decode: column {column}: {reason}")]
    Decode { column: String, reason: String },
    /// Migrations are in a state that needs an operator.
    #[error("{0}")]
    Migration(String),
    /// Anything else the driver reported.
    #[error("database error: {0}")]
    Other(String),
}

impl StoreError {
    pub fn decode(column: &str, reason: impl Into<String>) -> Self {
        StoreError::Decode {
            column: column.to_owned(),
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
