//! NATS subjects of the platform (SYNC.md). Tenant and school ids may hold
//! `.`, which NATS reads as a token separator, so it travels as `~` (a
//! character ids never contain).

/// One id as a single subject token.
pub fn token(id: &str) -> String {
    id.replace('.', "~")
}

/// Where committed SSOT changes of one tenant and kind are published.
pub fn ssot(tenant: &str, kind: &str) -> String {
    format!("essp.ssot.{}.{kind}", token(tenant))
}

/// Every SSOT change subject.
pub const SSOT_ALL: &str = "essp.ssot.>";

/// The JetStream stream holding SSOT change events.
pub const SSOT_STREAM: &str = "ESSP_SSOT";

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_round_trip() {
        assert_eq!(super::ssot("ke.moe", "devices"), "essp.ssot.ke~moe.devices");
        assert_eq!(super::token("a-b_c"), "a-b_c");
    }
}
