//! Roles → permissions, as data (DOMAIN.md "Roles"): the built-in table is
//! `roles.toml`; operators replace it with their own file.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;

/// Every permission a route can require. A table naming anything else is
/// refused at start, so a typo cannot silently grant or deny.
pub const KNOWN_PERMISSIONS: &[&str] = &[
    "school:all",
    "incident:read",
    "incident:create",
    "incident:update",
    "workorder:read",
    "workorder:create",
    "workorder:update",
    "workorder:schedule",
    "workorder:deliverable",
    "workorder:review",
    "workorder:approval",
    "bom:read",
    "bom:update",
    "bom:consume",
    "attachment:read",
    "attachment:create",
    "serviceshop:read",
    "serviceshop:create",
    "serviceshop:update",
    "servicestaff:read",
    "servicestaff:create",
    "servicestaff:update",
    "parts:read",
    "parts:create",
    "parts:update",
    "parts:delete",
    "inventory:read",
    "inventory:update",
    "school:create",
    "school:update",
    "school:contact:read",
    "school:contact:update",
    "project:read",
    "project:update",
    "ssot:read",
    "ssot:write",
    "ssot:sync",
    "telemetry:ingest",
    "audit:read",
    "sync:read",
    "sync:admin",
];

/// The role that must never be able to write.
pub const VIEWER_ROLE: &str = "essp-viewer";

#[derive(Debug, thiserror::Error)]
pub enum RolesError {
    #[error("role table is not valid TOML: {0}")]
    Syntax(String),
    #[error("role {role:?} grants unknown permission {permission:?}")]
    UnknownPermission { role: String, permission: String },
    #[error("role {VIEWER_ROLE} may only hold read permissions, not {0:?}")]
    ViewerWrites(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    roles: BTreeMap<String, Vec<String>>,
}

/// A set of granted permission patterns (`*`, `resource:*`, `resource:action`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants(BTreeSet<String>);

impl Grants {
    pub fn all() -> Self {
        Grants(BTreeSet::from(["*".to_owned()]))
    }

    pub fn allows(&self, permission: &str) -> bool {
        if self.0.contains("*") || self.0.contains(permission) {
            return true;
        }
        // `resource:*` covers `resource:action` (and `school:contact:*` covers
        // `school:contact:read`).
        permission
            .rmatch_indices(':')
            .any(|(i, _)| self.0.contains(&format!("{}:*", &permission[..i])))
    }
}

fn pattern_matches_known(pattern: &str) -> bool {
    if pattern == "*" || KNOWN_PERMISSIONS.contains(&pattern) {
        return true;
    }
    pattern
        .strip_suffix(":*")
        .is_some_and(|resource| KNOWN_PERMISSIONS.iter().any(|k| k.starts_with(&format!("{resource}:"))))
}

fn is_read_only(pattern: &str) -> bool {
    pattern.ends_with(":read")
}

#[derive(Debug, Clone)]
pub struct RoleTable(HashMap<String, Grants>);

impl RoleTable {
    pub fn builtin() -> Result<Self, RolesError> {
        Self::parse(include_str!("roles.toml"))
    }

    pub fn parse(text: &str) -> Result<Self, RolesError> {
        let file: File = toml::from_str(text).map_err(|e| RolesError::Syntax(e.message().to_owned()))?;
        let mut out = HashMap::new();
        for (role, perms) in file.roles {
            for p in &perms {
                if !pattern_matches_known(p) {
                    return Err(RolesError::UnknownPermission {
                        role,
                        permission: p.clone(),
                    });
                }
                if role == VIEWER_ROLE && !is_read_only(p) {
                    return Err(RolesError::ViewerWrites(p.clone()));
                }
            }
            out.insert(role, Grants(perms.into_iter().collect()));
        }
        Ok(Self(out))
    }

    /// The union of what `roles` grant; unknown role names grant nothing.
    pub fn grants_for<'a>(&self, roles: impl IntoIterator<Item = &'a str>) -> Grants {
        let mut all = BTreeSet::new();
        for r in roles {
            if let Some(g) = self.0.get(r) {
                all.extend(g.0.iter().cloned());
            }
        }
        Grants(all)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_loads_and_grants_as_documented() {
        let t = RoleTable::builtin().unwrap();
        let cases = [
            ("essp-admin", "incident:update", true),
            ("essp-admin", "school:all", true),
            ("essp-technician", "incident:create", true),
            ("essp-technician", "audit:read", false),
            ("essp-viewer", "incident:read", true),
            ("essp-viewer", "incident:create", false),
            ("ssp_ops_manager", "workorder:approval", true),
            ("ssp_ops_manager", "incident:read", true),
            ("ssp_field_tech", "incident:create", false),
            ("ssp_support_agent", "school:all", false),
            ("unknown-role", "incident:read", false),
        ];
        for (role, perm, want) in cases {
            assert_eq!(t.grants_for([role]).allows(perm), want, "{role} {perm}");
        }
        // Every read a viewer has is a read; no write anywhere.
        let viewer = t.grants_for([VIEWER_ROLE]);
        for p in KNOWN_PERMISSIONS.iter().filter(|p| !p.ends_with(":read")) {
            assert!(!viewer.allows(p), "viewer holds {p}");
        }
    }

    #[test]
    fn bad_tables_are_refused() {
        assert!(matches!(
            RoleTable::parse("[roles]\nx = [\"incident:raed\"]"),
            Err(RolesError::UnknownPermission { .. })
        ));
        assert!(matches!(
            RoleTable::parse("[roles]\nessp-viewer = [\"*\"]"),
            Err(RolesError::ViewerWrites(_))
        ));
        assert!(matches!(
            RoleTable::parse("[roles]\nessp-viewer = [\"incident:*\"]"),
            Err(RolesError::ViewerWrites(_))
        ));
        assert!(matches!(RoleTable::parse("roles = 5"), Err(RolesError::Syntax(_))));
        let t = RoleTable::parse("[roles]\nclerk = [\"school:contact:*\"]").unwrap();
        assert!(t.grants_for(["clerk"]).allows("school:contact:update"));
        assert!(!t.grants_for(["clerk"]).allows("school:create"));
    }
}
