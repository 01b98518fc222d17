use std::fmt;

use std::sync::{LazyLock, Mutex};

use serde::{Serialize, Serializer};
use ulid::{Generator, Ulid};

/// Ids minted by this process strictly increase, even within one
/// millisecond, so "newest first" and the audit chain's order follow the
/// order in which things happened.
static GENERATOR: LazyLock<Mutex<Generator>> = LazyLock::new(|| Mutex::new(Generator::new()));

fn next_ulid() -> Ulid {
    // Falls back to a random ULID only if the lock is poisoned or the
    // millisecond's sequence overflows (2^80 ids in one millisecond).
    match GENERATOR.lock().ok().and_then(|mut g| g.generate().ok()) {
        Some(u) => u,
        None => Ulid::new(),
    }
}

/// An entity id of the form `<prefix>_<ULID>` (e.g. `inc_01J…`). ULIDs let an
/// offline edge mint ids without coordination, and they sort by time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must look like {prefix}_<ULID>")]
    Malformed { prefix: &'static str },
}

impl Id {
    /// A new id with the current time.
    pub fn new(prefix: &'static str) -> Self {
        Self(format!("{prefix}_{}", next_ulid()))
    }

    /// Parses an id received from a client; the prefix must match and the
    /// rest must be a canonical ULID.
    pub fn parse(prefix: &'static str, raw: &str) -> Result<Self, IdError> {
        let rest = raw
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('_'))
            .ok_or(IdError::Malformed { prefix })?;
        let ulid = Ulid::from_string(rest).map_err(|_| IdError::Malformed { prefix })?;
        // Canonical (uppercase) form, so one entity has one spelling.
        Ok(Self(format!("{prefix}_{ulid}")))
    }

    /// Wraps an id read back from our own storage.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// `<prefix>_<ULID>`; the prefix names the kind of entity.
impl utoipa::PartialSchema for Id {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(PATTERN))
            .into()
    }
}

impl utoipa::ToSchema for Id {}

/// What every id looks like, as a JSON Schema pattern.
pub const PATTERN: &str = "^[a-z]+_[0-9A-HJKMNP-TV-Z]{26}$";

/// Id prefixes, as in the original system.
pub mod prefix {
    pub const INCIDENT: &str = "inc";
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_parse_back_and_sort_by_time() {
        let a = Id::new(prefix::INCIDENT);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = Id::new(prefix::INCIDENT);
        assert_eq!(Id::parse("inc", a.as_str()).unwrap(), a);
        assert!(a < b);
    }

    #[test]
    fn ids_of_one_process_strictly_increase() {
        let ids: Vec<Id> = (0..1000).map(|_| Id::new("audit")).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for raw in [
            "",
            "inc",
            "inc_",
            "wo_01J0000000000000000000000",
            "inc_not-a-ulid",
            "inc_01J00000000000000000000000000",
        ] {
            assert!(Id::parse("inc", raw).is_err(), "{raw} accepted");
        }
    }

    #[test]
    fn lowercase_ulid_is_canonicalised() {
        let id = Id::new("inc");
        let lower = id.as_str().to_lowercase();
        assert_eq!(Id::parse("inc", &lower).unwrap(), id);
    }
}
