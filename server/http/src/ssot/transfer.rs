//! Whole-domain export and import in the original's JSON shapes
//! (`{counties:[…], subCounties:[…], schools:[…], contacts:[…]}` …).
//! An import is one transaction: every row valid, or nothing written.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use essp_domain::FieldError;
use essp_domain::ssot::{self, Domain};
use essp_store::ssot::{self as repo, FeedQuery, Incoming, OnKeyMatch};
use futures::StreamExt;
use serde_json::{Map, Value, json};

use crate::auth::TenantAuthorized;
use crate::auth::permissions::{SsotRead, SsotWrite};
use crate::extract::ApiJson;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

/// Where a streaming export is.
struct ExportCursor {
    state: AppState,
    tenant: String,
    kinds: Vec<&'static ssot::Kind>,
    /// Index into `kinds`; `kinds.len()` once every kind is written.
    kind: usize,
    /// Position in the current kind's change feed; `None` before its first page.
    after: Option<i64>,
    done: bool,
}

/// Rows per page of an export (one statement each).
const EXPORT_PAGE: u32 = 500;

impl ExportCursor {
    /// The next piece of the document, or `None` at its end.
    async fn next_chunk(&mut self) -> Result<Option<String>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let Some(kind) = self.kinds.get(self.kind).copied() else {
            self.done = true;
            return Ok(Some("]}".into()));
        };
        let mut out = String::new();
        let first_page = self.after.is_none();
        if first_page {
            out.push_str(if self.kind == 0 { "," } else { "]," });
            out.push_str(&serde_json::to_string(kind.export_key).unwrap_or_default());
            out.push_str(":[");
        }
        let f = FeedQuery {
            after: self.after.unwrap_or(0),
            limit: EXPORT_PAGE,
            ..FeedQuery::default()
        };
        let (rows, next) = repo::changes(self.state.db.as_ref(), &self.tenant, kind, &f).await?;
        for (i, row) in rows.iter().enumerate() {
            if !(first_page && i == 0) {
                out.push(',');
            }
            out.push_str(&row.to_json(kind).to_string());
        }
        match next {
            Some(n) => self.after = Some(n),
            None => {
                self.kind += 1;
                self.after = None;
            }
        }
        Ok(Some(out))
    }
}

/// Every live row of the domain, by export key, streamed page by page so
/// a national device register never sits in memory at once.
pub(super) async fn export(
    domain: Domain,
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotRead>,
) -> ApiResult<Response> {
    let head = json!({"version": "1", "tenantId": auth.tenant, "generatedAt": essp_domain::now()}).to_string();
    // `{"version":…,"generatedAt":…` without its closing brace; kinds follow.
    let head = head.trim_end_matches('}').to_owned();
    let cursor = ExportCursor {
        state,
        tenant: auth.tenant.clone(),
        kinds: domain.kinds().collect(),
        kind: 0,
        after: None,
        done: false,
    };
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(bytes::Bytes::from(head)) }).chain(
        futures::stream::unfold(cursor, |mut c| async move {
            match c.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(bytes::Bytes::from(chunk)), c)),
                Ok(None) => None,
                Err(e) => {
                    // The status line is gone: end the body short (the JSON
                    // will not parse) and log why.
                    tracing::error!(error = %e, "SSOT export interrupted");
                    c.done = true;
                    Some((Err(std::io::Error::other("export interrupted")), c))
                }
            }
        }),
    );
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
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
            let id = match obj.get("id") {
                None => None,
                Some(Value::String(raw)) if raw.is_empty() => None,
                Some(Value::String(raw)) => match ssot::parse_id(kind, raw) {
                    Ok(id) => Some(id.into_string()),
                    Err(e) => {
                        errors.extend(e.0.into_iter().map(|fe| FieldError {
                            field: at(&fe.field),
                            message: fe.message,
                        }));
                        continue;
                    }
                },
                // Not silently "no id": that would add a second row.
                Some(_) => {
                    errors.push(FieldError {
                        field: at("id"),
                        message: "must be a string".into(),
                    });
                    continue;
                }
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
