use serde::Serialize;

/// One problem with one input field, reported back to the client as-is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = FieldProblem)]
pub struct FieldError {
    /// JSON name of the field (camelCase), or a query parameter name.
    pub field: String,
    pub message: String,
}

/// Input that failed validation; carries every field problem found, not just
/// the first, so a client can fix a form in one round trip.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("validation failed: {}", summary(.0))]
pub struct ValidationError(pub Vec<FieldError>);

fn summary(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ValidationError {
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

/// Collects field errors while parsing a request, then fails once.
#[derive(Debug, Default)]
pub struct Validator(Vec<FieldError>);

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Records the error of `result` under `field` and returns its value.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(field, e.to_string());
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), ValidationError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationError(self.0))
        }
    }
}

/// A required, trimmed, length-bounded text value.
/// A JSON number as JSON Schema's `integer` reads it: `3`, or `3.0`,
/// within i64; `None` for a fraction or a value out of range.
pub fn whole_number(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        n.as_f64()
            // Exactly representable and within i64 (2^63 itself is not).
            .filter(|f| f.fract() == 0.0 && *f >= -(2f64.powi(63)) && *f < 2f64.powi(63))
            .map(|f| f as i64)
    })
}

pub fn required_text(value: Option<&str>, max_chars: usize) -> Result<String, String> {
    let v = value.map(str::trim).unwrap_or_default();
    if v.is_empty() {
        return Err("is required".into());
    }
    bounded_text(v, max_chars)
}

/// An optional text value (empty when absent), trimmed and length-bounded.
pub fn optional_text(value: Option<&str>, max_chars: usize) -> Result<String, String> {
    bounded_text(value.map(str::trim).unwrap_or_default(), max_chars)
}

fn bounded_text(v: &str, max_chars: usize) -> Result<String, String> {
    if v.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err("must not contain control characters".into());
    }
    Ok(v.to_owned())
}
