/// The tenant and school a request acts within. Every school-scoped query
/// filters on both; a row of another scope is invisible (404, never 403).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    tenant: String,
    school: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("is required")]
    Missing,
    #[error("must be 1-64 characters of letters, digits, '-', '_' or '.'")]
    Invalid,
}

/// Tenant and school ids are SSOT ids or operator-chosen slugs
/// (`demo-tenant`); keep them to a safe, header-friendly alphabet.
pub fn parse_scope_part(raw: Option<&str>) -> Result<String, ScopeError> {
    let v = raw
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(ScopeError::Missing)?;
    let ok = v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(v.to_owned()) } else { Err(ScopeError::Invalid) }
}

impl Scope {
    pub fn new(tenant: String, school: String) -> Self {
        Self { tenant, school }
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    pub fn school(&self) -> &str {
        &self.school
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_parts_are_validated() {
        assert_eq!(parse_scope_part(Some(" demo-tenant ")), Ok("demo-tenant".into()));
        assert_eq!(parse_scope_part(Some("school_01.A")), Ok("school_01.A".into()));
        assert_eq!(parse_scope_part(None), Err(ScopeError::Missing));
        assert_eq!(parse_scope_part(Some("  ")), Err(ScopeError::Missing));
        assert_eq!(parse_scope_part(Some("a b")), Err(ScopeError::Invalid));
        assert_eq!(parse_scope_part(Some("x'; drop")), Err(ScopeError::Invalid));
        assert_eq!(parse_scope_part(Some(&"a".repeat(65))), Err(ScopeError::Invalid));
    }
}
