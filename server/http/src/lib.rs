//! The HTTP surface of ESSP: one route table, problem errors, request ids,
//! metrics and health. Handlers never contain SQL.

pub mod attachments;
pub mod audit_logs;
pub mod auth;
pub mod client;
pub mod contacts;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod incidents;
pub mod inventory;
pub mod me;
pub mod openapi;
pub mod params;
pub mod problem;
pub mod projects;
pub mod ratelimit;
pub mod recording;
pub mod routes;
pub mod security;
pub mod shops;
pub mod ssot;
pub mod state;
pub mod surveys;
pub mod sync;
pub mod telemetry;
pub mod telemetry_events;
pub mod tx;
pub mod uploads;
pub mod web_admin;
pub mod work_orders;
pub mod workflow;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};

pub use state::{AppState, HttpConfig, Readiness, ReadinessCheck};

use crate::routes::Routes;

use crate::problem::{PROBLEM_JSON, problem_response};

/// The IMS API, in one table. What central owns (SYNC.md) is grouped and
/// marked `central_owned`: read-only on an edge node.
fn ims_routes(config: &HttpConfig) -> Routes {
    let edge = config.edge_node;
    Routes::new()
        .route("/v1/incidents", get(incidents::list).post(incidents::create))
        .route("/v1/incidents/{id}", get(incidents::get).patch(incidents::edit))
        .route("/v1/incidents/{id}/status", patch(incidents::change_status))
        .route("/v1/work-orders", get(work_orders::list).post(work_orders::create))
        .route("/v1/work-orders/{id}", get(work_orders::get).patch(work_orders::edit))
        .route("/v1/work-orders/{id}/status", patch(work_orders::change_status))
        .route("/v1/work-orders/{id}/reject", post(work_orders::reject))
        .route("/v1/work-orders/{id}/rework-history", get(work_orders::rework_history))
        .route("/v1/work-orders/{id}/schedule", post(workflow::create_schedule))
        .route("/v1/work-orders/{id}/schedules", get(workflow::list_schedules))
        .route(
            "/v1/work-orders/{id}/deliverables",
            get(workflow::list_deliverables).post(workflow::create_deliverable),
        )
        .route(
            "/v1/work-orders/{id}/deliverables/{deliverable_id}/submit",
            patch(workflow::submit_deliverable),
        )
        .route(
            "/v1/work-orders/{id}/deliverables/{deliverable_id}/review",
            patch(workflow::review_deliverable),
        )
        .route(
            "/v1/work-orders/{id}/approvals",
            get(workflow::list_approvals).post(workflow::request_approval),
        )
        .route(
            "/v1/work-orders/{id}/approvals/{approval_id}/decide",
            patch(workflow::decide_approval),
        )
        .merge(
            Routes::new()
                .route("/v1/service-shops", get(shops::list_shops).post(shops::create_shop))
                .route(
                    "/v1/service-shops/{id}",
                    get(shops::get_shop)
                        .patch(shops::update_shop)
                        .delete(shops::delete_shop),
                )
                .central_owned(edge, "service shops"),
        )
        .merge(
            Routes::new()
                .route("/v1/service-staff", get(shops::list_staff).post(shops::create_staff))
                .route("/v1/service-staff/stats", get(shops::staff_stats))
                .route(
                    "/v1/service-staff/{id}",
                    get(shops::get_staff)
                        .patch(shops::update_staff)
                        .delete(shops::delete_staff),
                )
                .central_owned(edge, "service staff"),
        )
        .route("/v1/telemetry/events", post(telemetry_events::ingest))
        .merge(
            Routes::new()
                .route("/v1/inventory", get(inventory::list))
                .route("/v1/inventory/upsert", post(inventory::upsert))
                .route("/v1/inventory/low-stock", get(inventory::low_stock))
                .route("/v1/inventory/ledger", get(inventory::ledger_entries))
                .central_owned(edge, "stock levels"),
        )
        // A work order's BOM is the edge's own work (reservations are
        // commands central validates), so it stays writable there.
        .route("/v1/work-orders/{id}/bom", get(inventory::list_bom))
        .route("/v1/work-orders/{id}/bom/items", post(inventory::add_item))
        .route(
            "/v1/work-orders/{id}/bom/items/{item_id}/consume",
            patch(inventory::consume),
        )
        .route(
            "/v1/work-orders/{id}/bom/items/{item_id}/release",
            patch(inventory::release),
        )
        .merge(
            Routes::new()
                .route("/v1/schools/{id}/contacts", get(contacts::list).post(contacts::create))
                .route("/v1/schools/{id}/contacts/primary", patch(contacts::set_primary))
                .route(
                    "/v1/schools/{id}/contacts/{contact_id}",
                    patch(contacts::update).delete(contacts::delete),
                )
                .central_owned(edge, "school contacts"),
        )
        .route("/v1/attachments", get(attachments::list).post(attachments::upload))
        .route("/v1/attachments/uploads", post(uploads::create))
        .route("/v1/attachments/{id}", get(attachments::get))
        .route("/v1/attachments/{id}/confirm", post(uploads::confirm))
        .route("/v1/attachments/{id}/content", get(attachments::content))
        .route("/v1/attachments/{id}/download-url", get(attachments::download_url))
        .merge(
            Routes::new()
                .route(
                    "/v1/projects",
                    get(projects::list_projects).post(projects::create_project),
                )
                .route("/v1/projects/{id}", get(projects::get_project))
                .route(
                    "/v1/projects/{id}/phases",
                    get(projects::list_phases).post(projects::create_phase),
                )
                .route("/v1/phases/{id}/status", patch(projects::change_phase_status))
                .route("/v1/phases/{id}/checklist", get(projects::checklist))
                .route("/v1/phases/{id}/checklist/{item_id}", patch(projects::tick_item))
                .route(
                    "/v1/checklist-templates",
                    get(projects::list_templates).post(projects::create_template),
                )
                .central_owned(edge, "projects, phases and checklists"),
        )
        .merge(
            Routes::new()
                .route(
                    "/v1/projects/{id}/surveys",
                    get(surveys::list_surveys).post(surveys::create_survey),
                )
                .route("/v1/surveys/{id}", get(surveys::get_survey))
                .route("/v1/surveys/{id}/status", patch(surveys::change_survey_status))
                .route("/v1/surveys/{id}/rooms", post(surveys::add_room))
                .route("/v1/surveys/{id}/photos", post(surveys::add_photo))
                .route("/v1/projects/{id}/boq", get(surveys::list_boq))
                .route("/v1/projects/{id}/boq/items", post(surveys::add_boq_item))
                .route(
                    "/v1/projects/{id}/boq/items/{item_id}/approval",
                    patch(surveys::approve_boq_item),
                )
                .central_owned(edge, "site surveys and bills of quantities"),
        )
        .route("/v1/audit-logs", get(audit_logs::list))
        .route("/v1/audit-logs/verify", get(audit_logs::verify))
        .route("/v1/audit-logs/{id}", get(audit_logs::get))
        .route("/v1/sync/edges", get(sync::list_edges))
        .route("/v1/sync/conflicts", get(sync::list_conflicts))
        .route("/v1/sync/rejections", get(sync::list_rejections))
        .route("/v1/sync/status", get(sync::status))
        .route("/v1/sync/now", post(sync::sync_now))
        .merge(ssot::cache::routes().central_owned(edge, "SSOT snapshots"))
}

/// The OpenAPI parts of the IMS API, one per handler module.
fn ims_docs() -> Vec<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi as _;
    vec![
        incidents::Doc::openapi(),
        work_orders::Doc::openapi(),
        workflow::Doc::openapi(),
        telemetry_events::Doc::openapi(),
        shops::Doc::openapi(),
        inventory::Doc::openapi(),
        contacts::Doc::openapi(),
        attachments::Doc::openapi(),
        uploads::Doc::openapi(),
        projects::Doc::openapi(),
        surveys::Doc::openapi(),
        audit_logs::Doc::openapi(),
        sync::Doc::openapi(),
        ssot::cache::Doc::openapi(),
    ]
}

/// The API routes of this process (IMS and/or the SSOT services, as its
/// role says): the ordinary ones, and the bulk ones that have their own
/// rate-limit budget.
fn api_routes(config: &HttpConfig) -> (Routes, Routes) {
    let mut api = Routes::new().route("/v1/me", get(me::me));
    let mut bulk = Routes::new();
    if config.serve_ims {
        api = api.merge(ims_routes(config));
        bulk = bulk
            .route("/v1/work-orders/bulk/status", post(work_orders::bulk_status))
            .route("/v1/work-orders/bulk/assignment", post(work_orders::bulk_assignment))
            .route("/v1/work-orders/bulk/approval", post(work_orders::bulk_approval));
    }
    if !config.ssot_domains.is_empty() {
        const SSOT: &str = "schools, devices and parts (SSOT records)";
        api = api.merge(ssot::router(&config.ssot_domains).central_owned(config.edge_node, SSOT));
        bulk = bulk.merge(ssot::import_router(&config.ssot_domains).central_owned(config.edge_node, SSOT));
    }
    (api, bulk)
}

/// Every path template of the API this configuration serves (for the test
/// that holds `/openapi.json` against it).
pub fn served_paths(config: &HttpConfig) -> Vec<String> {
    let (api, bulk) = api_routes(config);
    api.paths().iter().chain(bulk.paths()).cloned().collect()
}

/// The whole HTTP surface of this process.
pub fn router(state: AppState) -> Router {
    let (api, bulk) = api_routes(&state.config);
    let (mut api, mut bulk) = (api.into_router(), bulk.into_router());
    // Each request counts against one budget: bulk routes have their own,
    // stricter one; everything else the read or the write budget.
    if let Some(limits) = &state.config.rate_limits {
        let mut configs = Vec::new();
        if let Some((read, write, both)) = ratelimit::layers(limits) {
            api = api.layer(read).layer(write);
            configs.extend(both);
        }
        if let Some((layer, config)) = ratelimit::bulk_layer(limits) {
            bulk = bulk.layer(layer);
            configs.push(config);
        }
        ratelimit::spawn_cleanup(configs);
    }
    let api = api.merge(bulk);

    // Probes and scrapes: never authenticated, never rate limited.
    let mut infra = Router::new()
        .route("/health", get(health::health))
        .route("/healthz", get(health::health))
        .route("/readyz", get(health::ready));
    // Built on first request, not at start: the document is ~0.5 MB and
    // building it peaks at several, which an idle edge box would keep.
    let openapi = std::sync::Arc::new(std::sync::OnceLock::<bytes::Bytes>::new());
    let config = state.config.clone();
    infra = infra.route(
        "/openapi.json",
        get(move || {
            let body = openapi
                .get_or_init(|| bytes::Bytes::from(serde_json::to_vec(&openapi::document(&config)).unwrap_or_default()))
                .clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    if state.config.metrics_on_api {
        infra = infra.route("/metrics", get(telemetry::metrics_endpoint));
    }
    if state.config.serve_ims {
        infra = infra.merge(web_admin::routes(&state.config.ui));
    }

    // Layers, outermost first (the order a request meets them): request id
    // → CORS → client address → security headers → problem rendering for
    // bare errors → authentication → body limit → routing → rate limits →
    // metrics → handler.
    let app = api
        .merge(infra)
        .route_layer(middleware::from_fn(telemetry::track))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(middleware::from_fn(security::headers))
        .layer(middleware::from_fn_with_state(state.clone(), client::context));
    let app = match security::cors(
        &state.config.cors_origins,
        &state.config.tenant_header,
        &state.config.school_header,
    ) {
        Some(cors) => app.layer(cors),
        None => app,
    };
    app.layer(middleware::from_fn(telemetry::request_id)).with_state(state)
}

/// `/metrics` alone, for a separate listener (`ESSP_METRICS_ADDR`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(telemetry::metrics_endpoint))
        .with_state(state)
}

async fn not_found(req: Request) -> Response {
    telemetry::record(req.method().as_str(), "unmatched", 404, std::time::Instant::now());
    problem_response(
        StatusCode::NOT_FOUND,
        "not-found",
        format!("no route for {}", req.uri().path()),
        None,
    )
}

/// Errors produced below our handlers (405 from the router, a timeout…)
/// come without a body; give them the same problem shape as ours.
async fn problem_for_bare_errors(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let status = resp.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was never read, so this connection cannot
        // carry another request. Say so, or a client reuses it and its next
        // request fails mid-send ("incomplete message").
        resp.headers_mut()
            .insert(header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    // Only bodiless errors: a handler's own JSON (e.g. a 503 from /readyz) stays.
    let empty = http_body::Body::size_hint(resp.body()).exact() == Some(0);
    if !(status.is_client_error() || status.is_server_error()) || is_problem || !empty {
        return resp;
    }
    let (mut parts, _) = resp.into_parts();
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed on this route".to_owned(),
        other => other.canonical_reason().unwrap_or("error").to_owned(),
    };
    let code = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace(' ', "-");
    let fresh = problem_response(status, &code, detail, None);
    // Keep headers such as Allow and X-Request-ID; take the body and type from the problem.
    let (fresh_parts, body) = fresh.into_parts();
    parts
        .headers
        .insert(header::CONTENT_TYPE, fresh_parts.headers[header::CONTENT_TYPE].clone());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, body).into_response()
}
