//! NATS subjects of the platform (SYNC.md). Tenant and school ids may hold
//! `.`, which NATS reads as a token separator, so it travels as `~` (a
//! character ids never contain).

/// One id as a single subject token.
pub fn token(id: &str) -> String {
    id.replace('.', "~")
}

/// An id back from its subject token.
pub fn untoken(token: &str) -> String {
    token.replace('~', ".")
}

/// Where committed SSOT changes of one tenant and kind are published.
pub fn ssot(tenant: &str, kind: &str) -> String {
    format!("essp.ssot.{}.{kind}", token(tenant))
}

/// Every SSOT change subject.
pub const SSOT_ALL: &str = "essp.ssot.>";

/// The JetStream stream holding SSOT change events.
pub const SSOT_STREAM: &str = "ESSP_SSOT";

/// An edge's changes for central.
pub fn up(tenant: &str, school: &str) -> String {
    format!("essp.sync.up.{}.{}", token(tenant), token(school))
}

/// Central's changes for one school's edge.
pub fn down(tenant: &str, school: &str) -> String {
    format!("essp.sync.down.{}.{}", token(tenant), token(school))
}

/// The school token of tenant-wide rows on the down subjects.
pub const ALL_SCHOOLS: &str = "all";

/// Central's tenant-wide changes (catalogues) for every edge of a tenant.
pub fn down_all(tenant: &str) -> String {
    format!("essp.sync.down.{}.{ALL_SCHOOLS}", token(tenant))
}

/// Checkpoints and control requests of one edge (request/reply).
pub fn ctl(tenant: &str, school: &str) -> String {
    format!("essp.sync.ctl.{}.{}", token(tenant), token(school))
}

/// The direction (`up`, `down`, `ctl`), tenant and school a subject
/// `essp.sync.<dir>.<tenant>.<school>` names.
pub fn parse(subject: &str) -> Option<(&str, String, String)> {
    let mut parts = subject.split('.');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("essp"), Some("sync"), Some(dir), Some(t), Some(s), None) => Some((dir, untoken(t), untoken(s))),
        _ => None,
    }
}

/// The tenant and school of a subject in direction `dir`.
pub fn scope_of_dir(subject: &str, dir: &str) -> Option<(String, String)> {
    parse(subject).filter(|(d, _, _)| *d == dir).map(|(_, t, s)| (t, s))
}

/// The inbox prefix an edge's connection uses: its credentials may only
/// receive replies under it, and central answers only there.
pub fn edge_inbox(tenant: &str, school: &str) -> String {
    format!("_INBOX_EDGE.{}.{}", token(tenant), token(school))
}

/// The name of an edge's consumer of its own `down` subject (the only
/// consumer its credentials may create or read).
pub fn edge_down_consumer(tenant: &str, school: &str) -> String {
    format!(
        "edge_{}_{}_own",
        token(tenant).replace('~', "_"),
        token(school).replace('~', "_")
    )
}

pub const UP_ALL: &str = "essp.sync.up.>";
pub const DOWN_ALL: &str = "essp.sync.down.>";
pub const CTL_ALL: &str = "essp.sync.ctl.>";

/// The JetStream streams of edge sync: edges' changes, central's changes.
pub const UP_STREAM: &str = "ESSP_SYNC_UP";
pub const DOWN_STREAM: &str = "ESSP_SYNC_DOWN";

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_round_trip() {
        assert_eq!(super::ssot("ke.moe", "devices"), "essp.ssot.ke~moe.devices");
        assert_eq!(super::token("a-b_c"), "a-b_c");
    }

    #[test]
    fn sync_subjects_carry_their_scope() {
        let up = super::up("ke.moe", "sch-1");
        assert_eq!(up, "essp.sync.up.ke~moe.sch-1");
        assert_eq!(super::scope_of_dir(&up, "up"), Some(("ke.moe".into(), "sch-1".into())));
        assert_eq!(super::scope_of_dir(&up, "down"), None);
        assert_eq!(super::down_all("t"), "essp.sync.down.t.all");
        assert_eq!(super::parse("essp.sync.up.t"), None);
        assert_eq!(super::parse("essp.sync.up.t.s.x"), None);
        assert_eq!(super::edge_inbox("ke.moe", "s"), "_INBOX_EDGE.ke~moe.s");
    }
}
