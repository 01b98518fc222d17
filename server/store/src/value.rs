//! Typed parameters and a row view shared by both engines.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::error::{Result, StoreError};

/// The SQL type of a parameter; NULLs carry one so Postgres can type them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    Text,
    I64,
    F64,
    Bool,
    Timestamp,
    Json,
}

/// A bind parameter or a decoded column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null(SqlType),
    Text(String),
    I64(i64),
    F64(f64),
    Bool(bool),
    Timestamp(DateTime<Utc>),
    Json(serde_json::Value),
}

/// SQLite stores timestamps as fixed-width RFC 3339 UTC text with
/// microseconds, so text order is time order and keyset pagination works.
pub fn sqlite_timestamp(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(crate) fn parse_timestamp(column: &str, s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").map(|t| t.and_utc()))
        .map_err(|e| StoreError::decode(column, format!("bad timestamp {s:?}: {e}")))
}

macro_rules! value_from {
    ($($t:ty => $variant:ident, $sql:ident);+ $(;)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::$variant(v.into()) }
        }
        impl From<Option<$t>> for Value {
            fn from(v: Option<$t>) -> Self {
                v.map_or(Value::Null(SqlType::$sql), |v| Value::$variant(v.into()))
            }
        }
    )+};
}

value_from! {
    String => Text, Text;
    &str => Text, Text;
    &String => Text, Text;
    i64 => I64, I64;
    f64 => F64, F64;
    bool => Bool, Bool;
    DateTime<Utc> => Timestamp, Timestamp;
    serde_json::Value => Json, Json;
}

impl From<&DateTime<Utc>> for Value {
    fn from(v: &DateTime<Utc>) -> Self {
        Value::Timestamp(*v)
    }
}

/// One result row: column names shared across the result set, values in
/// column order. Accessors accept both engines' representations (SQLite has
/// no bool, timestamp or JSON type).
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        Self { columns, values }
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn values(&self) -> &[Value] {
        &self.values
    }

    fn raw(&self, column: &str) -> Result<&Value> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| StoreError::decode(column, "no such column"))
    }

    fn is_null(v: &Value) -> bool {
        matches!(v, Value::Null(_))
    }

    pub fn text(&self, column: &str) -> Result<String> {
        self.opt_text(column)?
            .ok_or_else(|| StoreError::decode(column, "unexpected NULL"))
    }

    pub fn opt_text(&self, column: &str) -> Result<Option<String>> {
        match self.raw(column)? {
            Value::Text(s) => Ok(Some(s.clone())),
            v if Self::is_null(v) => Ok(None),
            v => Err(StoreError::decode(column, format!("expected text, got {v:?}"))),
        }
    }

    /// A text column parsed into a closed set (status, severity, …).
    pub fn parse<T: std::str::FromStr<Err = String>>(&self, column: &str) -> Result<T> {
        self.text(column)?
            .parse()
            .map_err(|e: String| StoreError::decode(column, e))
    }

    pub fn i64(&self, column: &str) -> Result<i64> {
        match self.raw(column)? {
            Value::I64(n) => Ok(*n),
            v => Err(StoreError::decode(column, format!("expected integer, got {v:?}"))),
        }
    }

    pub fn opt_i64(&self, column: &str) -> Result<Option<i64>> {
        match self.raw(column)? {
            v if Self::is_null(v) => Ok(None),
            _ => self.i64(column).map(Some),
        }
    }

    pub fn f64(&self, column: &str) -> Result<f64> {
        match self.raw(column)? {
            Value::F64(n) => Ok(*n),
            Value::I64(n) => Ok(*n as f64),
            v => Err(StoreError::decode(column, format!("expected float, got {v:?}"))),
        }
    }

    pub fn bool(&self, column: &str) -> Result<bool> {
        match self.raw(column)? {
            Value::Bool(b) => Ok(*b),
            Value::I64(n) => Ok(*n != 0),
            v => Err(StoreError::decode(column, format!("expected bool, got {v:?}"))),
        }
    }

    pub fn timestamp(&self, column: &str) -> Result<DateTime<Utc>> {
        self.opt_timestamp(column)?
            .ok_or_else(|| StoreError::decode(column, "unexpected NULL"))
    }

    pub fn opt_timestamp(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        match self.raw(column)? {
            Value::Timestamp(t) => Ok(Some(*t)),
            Value::Text(s) => parse_timestamp(column, s).map(Some),
            v if Self::is_null(v) => Ok(None),
            v => Err(StoreError::decode(column, format!("expected timestamp, got {v:?}"))),
        }
    }

    /// A JSON column decoded into a type (a missing field takes its default).
    pub fn decode_json<T: serde::de::DeserializeOwned>(&self, column: &str) -> Result<T> {
        serde_json::from_value(self.json(column)?).map_err(|e| StoreError::decode(column, e.to_string()))
    }

    pub fn json(&self, column: &str) -> Result<serde_json::Value> {
        match self.raw(column)? {
            Value::Json(j) => Ok(j.clone()),
            Value::Text(s) => serde_json::from_str(s).map_err(|e| StoreError::decode(column, e.to_string())),
            v if Self::is_null(v) => Ok(serde_json::Value::Null),
            v => Err(StoreError::decode(column, format!("expected json, got {v:?}"))),
        }
    }
}

/// A serialisable value as a JSON parameter.
pub fn json_of<T: serde::Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value)
        .map(Value::Json)
        .map_err(|e| StoreError::Other(format!("cannot encode JSON: {e}")))
}
