//! A tiny builder for statements with optional filters: it numbers `$n`
//! placeholders as conditions are appended, so every value is a bind
//! parameter and no caller counts by hand.

use crate::value::Value;

#[derive(Debug, Default)]
pub struct Query {
    sql: String,
    params: Vec<Value>,
}

impl Query {
    pub fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            params: Vec::new(),
        }
    }

    /// Binds a value and returns its placeholder (`$n`).
    pub fn bind(&mut self, value: impl Into<Value>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }

    /// Appends raw SQL (never user input).
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends ` AND <condition>` where `{}` in `template` is replaced by the
    /// placeholder of `value`.
    pub fn and(&mut self, template: &str, value: impl Into<Value>) -> &mut Self {
        let p = self.bind(value);
        self.sql.push_str(" AND ");
        self.sql.push_str(&template.replace("{}", &p));
        self
    }

    /// Appends the keyset condition for `cursor` (newest first on
    /// `(created_at, id)`), the order, and a limit of one more row than the
    /// page so [`crate::cursor::into_page`] can tell whether another follows.
    pub fn keyset(&mut self, cursor: Option<&crate::cursor::Cursor>, limit: u32) -> &mut Self {
        if let Some(c) = cursor {
            let ts = self.bind(c.created_at);
            let id = self.bind(&c.id);
            self.sql.push_str(&format!(" AND (created_at, id) < ({ts}, {id})"));
        }
        let n = self.bind(i64::from(limit) + 1);
        self.sql
            .push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT {n}"));
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn params(&self) -> &[Value] {
        &self.params
    }
}

/// Escapes `%`, `_` and `\` for use inside a `LIKE … ESCAPE '\'` pattern.
pub fn like_contains(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
