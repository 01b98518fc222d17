//! The SSOT services' HTTP API (`ssot-school`, `ssot-devices`,
//! `ssot-parts`) and IMS's read side of their data (`/v1/ssot/…`).
//!
//! Every kind is served by the same handlers, bound to the kind's
//! description when the route table is built.

pub mod cache;
pub mod context;
pub mod csv_import;
pub mod openapi;
pub mod rows;
pub mod transfer;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use essp_domain::ssot::{Domain, Kind};

use crate::problem::ApiError;
use crate::routes::Routes;

/// Routes of the SSOT services for `domains` (all three in one process, or
/// one per deployment), except the imports ([`import_router`]).
pub fn router(domains: &[Domain]) -> Routes {
    let mut r = Routes::new();
    for &domain in domains {
        for kind in domain.kinds() {
            r = rows::routes(r, kind);
        }
        r = r.route(
            &format!("/v1/export/{}", domain.as_str()),
            get(move |s, a| transfer::export(domain, s, a)),
        );
    }
    if let [domain] = domains {
        let domain = *domain;
        r = r.route("/v1/export", get(move |s, a| transfer::export(domain, s, a)));
    }
    let served: Vec<Domain> = domains.to_vec();
    r.route(
        "/v1/lookup/{field}/{value}",
        get(move |s, a, p| rows::lookup(served.clone(), s, a, p)),
    )
}

/// The bulk imports (JSON per domain and CSV per kind). They count against
/// the stricter bulk rate-limit tier. With exactly one domain the
/// original's `/v1/import` is served as well.
pub fn import_router(domains: &[Domain]) -> Routes {
    let mut r = Routes::new();
    for &domain in domains {
        r = r.route(
            &format!("/v1/import/{}", domain.as_str()),
            post(move |s, a, b| transfer::import(domain, s, a, b)),
        );
    }
    if let [domain] = domains {
        let domain = *domain;
        r = r.route("/v1/import", post(move |s, a, b| transfer::import(domain, s, a, b)));
    }
    let served: Vec<Domain> = domains.to_vec();
    r.route(
        "/v1/import/csv/{kind}",
        post(move |s, a, p, q, req| csv_import::handler(served.clone(), s, a, p, q, req))
            .layer(DefaultBodyLimit::disable()),
    )
}

/// The kind named in a path, if this process serves its domain.
pub(crate) fn served_kind(domains: &[Domain], raw: &str) -> Result<&'static Kind, ApiError> {
    essp_domain::ssot::kind(raw)
        .filter(|k| domains.contains(&k.domain))
        .ok_or_else(|| ApiError::bad_request("unknown-kind", format!("{raw:?} is not an SSOT kind served here")))
}
