//! Whole-domain export and import in the original's JSON shapes
//! (`{counties:[…], subCounties:[…], schools:[…], contacts:[…]}` …).
//! An import is one transaction: every row valid, or nothing written.

use axum::Json;
use axum::extract::State;
use essp_domain::FieldError;
use essp_domain::ssot::{self, Domain};
use essp_store::ssot::{self as repo, FeedQuery, Incoming, OnKeyMatch};
use serde_json::{Map, Value, json};

use crate::auth::TenantAuthorized;
use crate::auth::permissions::{SsotRead, SsotWrite};
use crate::extract::ApiJson;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

/// Every live row of the domain, by export key.
pub(super) async fn export(
    domain: Domain,
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotRead>,
) -> ApiResult<Json<Value>> {
    let mut out = Map::new();
    out.insert("version".into(), json!("1"));
    out.insert("tenantId".into(), json!(auth.tenant));
    out.insert("generatedAt".into(), json!(essp_domain::now()));
    for kind in domain.kinds() {
        let mut items = Vec::new();
        let mut f = FeedQuery {
            limit: 5000,
            ..FeedQuery::default()
        };
        loop {
            let (rows, next) = repo::changes(state.db.as_ref(), &auth.tenant, kind, &f).await?;
            items.extend(rows.iter().map(|r| r.to_json(kind)));
            match next {
                Some(n) => f.after = n,
                None => break,
            }
        }
        out.insert(kind.export_key.into(), Value::Array(items));
    }
    Ok(Json(Value::Object(out)))
}

/// Upserts a whole export document: rows with an id update that row (of
/// this tenant only), rows without one match their natural key or are
/// created. Any invalid row rejects the whole import with every problem.
pub(super) async fn import(
    domain: Domain,
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotWrite>,
    body: ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let doc = body
        .value
        .as_object()
        .ok_or_else(|| ApiError::bad_request("invalid-body", "the body must be a JSON object"))?;
    let known: Vec<&str> = domain.kinds().map(|k| k.export_key).collect();
    let mut errors = Vec::new();
    for key in doc.keys() {
        if !known.contains(&key.as_str()) && !matches!(key.as_str(), "version" | "tenantId" | "generatedAt") {
            errors.push(FieldError {
                field: key.clone(),
                message: format!("is not part of a {} export ({})", domain.as_str(), known.join(", ")),
            });
        }
    }
    // Validate everything up front so one response lists every problem.
    let mut batches = Vec::new();
    for kind in domain.kinds() {
        let Some(items) = doc.get(kind.export_key) else {
            continue;
        };
        let Some(items) = items.as_array() else {
            errors.push(FieldError {
                field: kind.export_key.into(),
                message: "must be an array".into(),
            });
            continue;
        };
        let mut rows = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = |f: &str| format!("{}[{i}].{f}", kind.export_key);
            let Some(obj) = item.as_object() else {
                errors.push(FieldError {
                    field: format!("{}[{i}]", kind.export_key),
                    message: "must be an object".into(),
                });
                continue;
            };
            let id = match obj.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()) {
                None => None,
                Some(raw) => match ssot::parse_id(kind, raw) {
                    Ok(id) => Some(id.into_string()),
                    Err(e) => {
                        errors.extend(e.0.into_iter().map(|fe| FieldError {
                            field: at(&fe.field),
                            message: fe.message,
                        }));
                        continue;
                    }
                },
            };
            match ssot::validate(kind, obj, None) {
                Ok(record) => rows.push(Incoming {
                    id,
                    record,
                    expected_revision: None,
                }),
                Err(e) => errors.extend(e.0.into_iter().map(|fe| FieldError {
                    field: at(&fe.field),
                    message: fe.message,
                })),
            }
        }
        batches.push((kind, rows));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(essp_domain::ValidationError(errors)));
    }
    if batches.iter().all(|(_, rows)| rows.is_empty()) {
        return Err(ApiError::bad_request("empty-import", "no ssot data provided"));
    }
    let tenant = auth.tenant.clone();
    let actor = auth.actor.clone();
    let counts = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            let now = essp_domain::now();
            let mut counts = Map::new();
            let mut rejected = Vec::new();
            for (kind, rows) in &batches {
                let outcome = repo::upsert_batch(tx, &tenant, kind, rows, OnKeyMatch::Update, now).await?;
                rejected.extend(outcome.errors.iter().map(|e| FieldError {
                    field: format!("{}[{}].{}", kind.export_key, e.index, e.error.field),
                    message: e.error.message.clone(),
                }));
                counts.insert(
                    kind.export_key.into(),
                    json!({"created": outcome.created, "updated": outcome.updated, "unchanged": outcome.unchanged}),
                );
            }
            if !rejected.is_empty() {
                return Err(ApiError::Rejected {
                    code: "import-rejected",
                    detail: format!("{} row(s) cannot be imported; nothing was written", rejected.len()),
                    errors: rejected,
                });
            }
            let summary = Value::Object(counts.clone());
            let subject = Subject {
                tenant: &tenant,
                school: "",
                entity_type: "ssot_import",
                entity_id: domain.as_str(),
            };
            recording::record(tx, &actor, subject, "import", None, Some(&summary), now).await?;
            Ok(counts)
        })
    })
    .await?;
    Ok(Json(json!({"ok": true, "imported": counts})))
}
