//! Who is calling, as established from a verified token (or the
//! development identity when auth is off).

use std::collections::BTreeSet;

use super::roles::Grants;

/// Which schools a caller may act in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schools {
    /// Every school of the tenant (token without a `schools` claim, for a
    /// role holding `school:all`; or development mode).
    All,
    /// Exactly these.
    Only(BTreeSet<String>),
}

impl Schools {
    pub fn allows(&self, school: &str) -> bool {
        match self {
            Schools::All => true,
            Schools::Only(set) => set.contains(school),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Identity {
    /// The token's `sub`: the actor recorded everywhere.
    pub subject: String,
    /// `None` only in development mode, where the tenant header is trusted.
    pub tenant: Option<String>,
    pub schools: Schools,
    pub roles: Vec<String>,
    pub grants: Grants,
}

impl Identity {
    /// The identity used when `AUTH_ENABLED=false`.
    pub fn development() -> Self {
        Identity {
            subject: "dev-user".into(),
            tenant: None,
            schools: Schools::All,
            roles: vec!["essp-admin".into()],
            grants: Grants::all(),
        }
    }
}
