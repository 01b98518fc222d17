//! People to call at a school (IMS-owned, per school).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Id;

string_enum!(
    /// What the contact does at the school.
    ContactRole {
        PointOfContact = "point_of_contact",
        HeadTeacher = "head_teacher",
        IctTeacher = "ict_teacher",
        Bursar = "bursar",
        Other = "other",
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchoolContact {
    pub id: Id,
    pub tenant_id: String,
    pub school_id: String,
    /// Login of the contact at the identity provider, if they have one.
    pub user_id: String,
    pub name: String,
    pub phone: String,
    pub email: String,
    pub role: ContactRole,
    pub is_primary: bool,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// A plausible e-mail address (empty allowed): one `@`, a dot in the domain,
/// no spaces. Deliverability is the mail server's business.
pub fn parse_email(raw: &str) -> Result<String, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(String::new());
    }
    let ok = t.len() <= 254
        && !t.contains(char::is_whitespace)
        && t.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if ok {
        Ok(t.to_owned())
    } else {
        Err("must be an e-mail address such as head@school.ac.ke".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["", "head@school.ac.ke", "a.b+c@x.org"] {
            assert!(parse_email(ok).is_ok(), "{ok}");
        }
        for bad in ["head", "a@b", "a @b.c", "@b.c", "a@b.c.", "a@@b.c"] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }
}
