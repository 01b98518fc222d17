//! Bulk CSV import of any SSOT kind (schools, devices and parts above all):
//! streamed in batches (any file size), every row checked, a report with
//! line numbers, dry-run, and idempotent (a re-import changes nothing).
//!
//! Columns are the kind's JSON field names plus an optional `id`. A
//! reference may also be given by the referenced row's natural key:
//! `countyCode`, `subCountyCode`, `schoolCode`, `partPuk`, or `make` +
//! `model` for a device model.
//!
//! The whole file is one transaction: with any error (or in dry-run mode)
//! it is rolled back and the report says what would have happened.

use std::collections::HashMap;
use std::io::Read;

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use essp_domain::ssot::{self, Domain, FieldType, Kind};
use essp_store::Database;
use essp_store::ssot::{self as repo, CHUNK, Incoming, OnKeyMatch};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use crate::auth::permissions::SsotWrite;
use crate::auth::{Actor, TenantAuthorized};
use crate::extract::ApiQuery;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

/// Errors listed in a report (the count covers all of them).
const MAX_REPORTED: usize = 1000;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SsotCsvLineError)]
pub struct LineError {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub field: String,
    pub message: String,
}

/// What a CSV import did or would do.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SsotCsvReport)]
pub struct Report {
    /// The kind's name (`schools`, `sub_counties` …).
    pub kind: String,
    pub dry_run: bool,
    /// Whether the rows were written (never in a dry run or with errors).
    pub committed: bool,
    /// Data lines read.
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub error_count: u64,
    /// The first 1000 errors, by line.
    pub errors: Vec<LineError>,
}

impl Report {
    fn error(&mut self, line: u64, field: impl Into<String>, message: impl Into<String>) {
        self.error_count += 1;
        if self.errors.len() < MAX_REPORTED {
            self.errors.push(LineError {
                line,
                field: field.into(),
                message: message.into(),
            });
        }
    }
}

/// A file that cannot be imported at all (as opposed to bad rows).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Header(String),
    #[error(transparent)]
    Store(#[from] essp_store::StoreError),
    #[error("{0}")]
    Internal(String),
}

/// How a CSV column maps onto the kind.
#[derive(Debug, Clone)]
enum Column {
    Id,
    Field(&'static ssot::Field),
    /// Part of a reference given by the target's natural key:
    /// (reference field, target kind, position in the target's key).
    RefKey(&'static ssot::Field, &'static Kind, usize),
    Ignored,
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The header names accepted for a reference given by natural key.
fn ref_key_headers(field: &ssot::Field, target: &Kind) -> Vec<String> {
    let stem = field.json.strip_suffix("Id").unwrap_or(field.json);
    let key_json: Vec<&str> = target
        .natural_key
        .iter()
        .filter_map(|c| target.field_by_column(c).map(|f| f.json))
        .collect();
    match key_json.as_slice() {
        [one] => vec![format!("{stem}{}", capitalise(one))],
        many => many.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn map_header(kind: &'static Kind, headers: &csv::StringRecord) -> Result<Vec<Column>, String> {
    if headers.iter().all(|h| h.trim().is_empty()) {
        return Err("the file has no header line".into());
    }
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for h in headers {
        let h = h.trim();
        if h == "id" {
            out.push(Column::Id);
            continue;
        }
        if let Some(f) = kind.field(h) {
            out.push(Column::Field(f));
            continue;
        }
        if matches!(
            h,
            "tenantId" | "revision" | "createdAt" | "updatedAt" | "deleted" | "deletedAt"
        ) {
            out.push(Column::Ignored);
            continue;
        }
        let by_key = kind.fields.iter().find_map(|f| match f.ty {
            FieldType::Ref(t) => ssot::kind(t).and_then(|target| {
                ref_key_headers(f, target)
                    .iter()
                    .position(|name| name == h)
                    .map(|pos| Column::RefKey(f, target, pos))
            }),
            _ => None,
        });
        match by_key {
            Some(c) => out.push(c),
            None => unknown.push(h.to_owned()),
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "unknown column(s) {} for {}; expected some of: id, {}",
            unknown.join(", "),
            kind.name,
            kind.fields.iter().map(|f| f.json).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(out)
}

/// CSV text to the JSON value the field's validation expects.
fn cell(ty: FieldType, raw: &str) -> Result<Option<Value>, String> {
    let raw = raw.trim();
    Ok(Some(match ty {
        FieldType::Bool => match raw.to_ascii_lowercase().as_str() {
            "" => return Ok(None),
            "true" | "1" | "yes" | "y" => Value::Bool(true),
            "false" | "0" | "no" | "n" => Value::Bool(false),
            _ => return Err("must be true or false".into()),
        },
        FieldType::Int(..) => match raw {
            "" => return Ok(None),
            _ => Value::from(raw.parse::<i64>().map_err(|_| "must be a whole number")?),
        },
        FieldType::Float(..) => match raw {
            "" => Value::Null,
            _ => Value::from(raw.parse::<f64>().map_err(|_| "must be a number")?),
        },
        FieldType::JsonText => match raw {
            "" => Value::Null,
            _ => serde_json::from_str(raw).map_err(|_| "must be a JSON object or array")?,
        },
        _ => Value::String(raw.to_owned()),
    }))
}

/// One parsed line: its number, given id, fields, and references by key.
struct Line {
    number: u64,
    id: Option<String>,
    fields: Map<String, Value>,
    ref_keys: Vec<(&'static ssot::Field, &'static Kind, Vec<String>)>,
}

enum Parsed {
    Header(Result<(), String>),
    Batch(Vec<Line>),
    Bad { line: u64, field: String, message: String },
}

/// Spreadsheet exports as they come: a UTF-8 byte-order mark is skipped,
/// and a header with semicolons (or tabs) but no commas sets the delimiter.
fn sniff<R: Read>(source: R) -> (std::io::BufReader<R>, u8) {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, source);
    let mut delimiter = b',';
    if let Ok(buf) = reader.fill_buf() {
        let bom = buf.starts_with(&[0xEF, 0xBB, 0xBF]);
        let start = if bom { 3 } else { 0 };
        let header = &buf[start..];
        let header = &header[..header.iter().position(|b| *b == b'\n').unwrap_or(header.len())];
        if !header.contains(&b',') {
            if header.contains(&b';') {
                delimiter = b';';
            } else if header.contains(&b'\t') {
                delimiter = b'\t';
            }
        }
        if bom {
            reader.consume(3);
        }
    }
    (reader, delimiter)
}

/// Reads the file on a blocking thread, sending batches of lines.
fn spawn_parser(kind: &'static Kind, source: impl Read + Send + 'static) -> tokio::sync::mpsc::Receiver<Parsed> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let (source, delimiter) = sniff(source);
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .delimiter(delimiter)
            .from_reader(source);
        let columns = match reader.headers() {
            Ok(h) => map_header(kind, h),
            Err(e) => Err(format!("cannot read the header line: {e}")),
        };
        let header_ok = columns.is_ok();
        if tx.blocking_send(Parsed::Header(columns.clone().map(|_| ()))).is_err() || !header_ok {
            return;
        }
        let columns = columns.unwrap_or_default();
        let mut batch = Vec::with_capacity(CHUNK);
        for (i, rec) in reader.records().enumerate() {
            let number = i as u64 + 2;
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    let (field, message) = ("row".to_owned(), format!("is not valid CSV: {e}"));
                    if tx
                        .blocking_send(Parsed::Bad {
                            line: number,
                            field,
                            message,
                        })
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
            };
            let mut line = Line {
                number,
                id: None,
                fields: Map::new(),
                ref_keys: Vec::new(),
            };
            let mut bad = None;
            for (col, value) in columns.iter().zip(rec.iter()) {
                match col {
                    Column::Id => line.id = Some(value.trim().to_owned()).filter(|s| !s.is_empty()),
                    Column::Field(f) => match cell(f.ty, value) {
                        Ok(Some(v)) => {
                            line.fields.insert(f.json.into(), v);
                        }
                        Ok(None) => {}
                        Err(m) => bad = Some((f.json.to_owned(), m)),
                    },
                    Column::RefKey(f, target, pos) => {
                        let entry = match line.ref_keys.iter_mut().find(|(rf, _, _)| rf.column == f.column) {
                            Some(e) => e,
                            None => {
                                line.ref_keys
                                    .push((*f, *target, vec![String::new(); target.natural_key.len()]));
                                let last = line.ref_keys.len() - 1;
                                &mut line.ref_keys[last]
                            }
                        };
                        entry.2[*pos] = value.trim().to_owned();
                    }
                    Column::Ignored => {}
                }
            }
            if let Some((field, message)) = bad {
                if tx
                    .blocking_send(Parsed::Bad {
                        line: number,
                        field,
                        message,
                    })
                    .is_err()
                {
                    return;
                }
                continue;
            }
            batch.push(line);
            if batch.len() == CHUNK && tx.blocking_send(Parsed::Batch(std::mem::take(&mut batch))).is_err() {
                return;
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Parsed::Batch(batch));
        }
    });
    rx
}

/// Imports a CSV file of `kind` for `tenant` in one transaction.
pub async fn import_csv(
    db: &dyn Database,
    tenant: &str,
    kind: &'static Kind,
    source: impl Read + Send + 'static,
    dry_run: bool,
    actor: &Actor,
) -> Result<Report, ImportError> {
    let mut rx = spawn_parser(kind, source);
    let mut report = Report {
        kind: kind.name.into(),
        dry_run,
        ..Report::default()
    };
    match rx.recv().await {
        Some(Parsed::Header(Ok(()))) => {}
        Some(Parsed::Header(Err(m))) => return Err(ImportError::Header(m)),
        _ => return Err(ImportError::Header("the file is empty".into())),
    }
    let tx = db.begin().await?;
    let mut bulk = repo::BulkLoad::default();
    let now = essp_domain::now();
    let mut resolved: HashMap<(&'static str, Vec<String>), Option<String>> = HashMap::new();
    while let Some(msg) = rx.recv().await {
        let lines = match msg {
            Parsed::Header(_) => continue,
            Parsed::Bad { line, field, message } => {
                report.rows += 1;
                report.error(line, field, message);
                continue;
            }
            Parsed::Batch(lines) => lines,
        };
        report.rows += lines.len() as u64;
        // Resolve references given by natural key (cached across batches).
        let mut wanted: HashMap<&'static str, (&'static Kind, Vec<Vec<String>>)> = HashMap::new();
        for l in &lines {
            for (_, target, key) in &l.ref_keys {
                if key.iter().all(|k| !k.is_empty()) && !resolved.contains_key(&(target.name, key.clone())) {
                    wanted
                        .entry(target.name)
                        .or_insert((target, Vec::new()))
                        .1
                        .push(key.clone());
                }
            }
        }
        for (name, (target, keys)) in wanted {
            let found = repo::ids_by_key(tx.as_ref(), tenant, target, &keys).await?;
            for k in keys {
                let id = found.get(&k).cloned();
                resolved.insert((name, k), id);
            }
        }
        let mut incoming = Vec::with_capacity(lines.len());
        let mut numbers = Vec::with_capacity(lines.len());
        for mut l in lines {
            let mut unresolved: Vec<&str> = Vec::new();
            for (field, target, key) in &l.ref_keys {
                if key.iter().all(String::is_empty) {
                    continue;
                }
                match resolved.get(&(target.name, key.clone())).cloned().flatten() {
                    Some(id) => {
                        l.fields.insert(field.json.into(), Value::String(id));
                    }
                    None => {
                        report.error(
                            l.number,
                            field.json,
                            format!("names no existing {} ({})", target.name, key.join(" / ")),
                        );
                        unresolved.push(field.json);
                    }
                }
            }
            let id = match l.id.as_deref().map(|raw| ssot::parse_id(kind, raw)) {
                None => None,
                Some(Ok(id)) => Some(id.into_string()),
                Some(Err(e)) => {
                    for fe in e.0 {
                        report.error(l.number, fe.field, fe.message);
                    }
                    continue;
                }
            };
            match ssot::validate(kind, &l.fields, None) {
                Ok(record) if unresolved.is_empty() => {
                    numbers.push(l.number);
                    incoming.push(Incoming {
                        id,
                        record,
                        expected_revision: None,
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    // A reference reported unresolved is not also "required".
                    for fe in e.0.into_iter().filter(|fe| !unresolved.contains(&fe.field.as_str())) {
                        report.error(l.number, fe.field, fe.message);
                    }
                }
            }
        }
        let outcome = repo::upsert_batch(tx.as_ref(), tenant, kind, &incoming, OnKeyMatch::Update, now).await?;
        for e in &outcome.errors {
            report.error(numbers[e.index], e.error.field.clone(), e.error.message.clone());
        }
        bulk.wrote(tx.as_ref(), kind, outcome.created + outcome.updated).await?;
        report.created += outcome.created;
        report.updated += outcome.updated;
        report.unchanged += outcome.unchanged;
    }
    report.errors.sort_by_key(|e| e.line);
    if report.error_count > 0 || dry_run {
        tx.rollback().await?;
        return Ok(report);
    }
    let summary = serde_json::json!({
        "kind": kind.name, "rows": report.rows, "created": report.created,
        "updated": report.updated, "unchanged": report.unchanged,
    });
    let subject = Subject {
        tenant,
        school: "",
        entity_type: "ssot_import",
        entity_id: kind.name,
    };
    recording::record(tx.as_ref(), actor, subject, "import", None, Some(&summary), now)
        .await
        .map_err(|e| ImportError::Internal(e.to_string()))?;
    tx.commit().await?;
    report.committed = true;
    Ok(report)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportParams {
    dry_run: Option<bool>,
}

/// `POST /v1/import/csv/{kind}`: the file as multipart field `file`, or the
/// body itself as `text/csv`. It is spooled to a temporary file first, so
/// any size streams through in constant memory.
pub(super) async fn handler(
    domains: Vec<Domain>,
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotWrite>,
    Path(kind): Path<String>,
    ApiQuery(q): ApiQuery<ImportParams>,
    req: Request,
) -> ApiResult<Response> {
    let kind = super::served_kind(&domains, &kind)?;
    let spool = tempfile::NamedTempFile::new().map_err(|e| ApiError::Internal(format!("spool file: {e}")))?;
    let mut file = tokio::fs::File::create(spool.path())
        .await
        .map_err(|e| ApiError::Internal(format!("spool file: {e}")))?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let write_err = |e: std::io::Error| ApiError::Internal(format!("spool write: {e}"));
    if content_type.starts_with("multipart/form-data") {
        let mut form = Multipart::from_request(req, &state)
            .await
            .map_err(|e| ApiError::bad_request("invalid-multipart", e.body_text()))?;
        let mut found = false;
        while let Some(mut field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request("invalid-multipart", e.body_text()))?
        {
            if field.name() != Some("file") {
                continue;
            }
            found = true;
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| ApiError::bad_request("invalid-multipart", e.body_text()))?
            {
                file.write_all(&chunk).await.map_err(write_err)?;
            }
        }
        if !found {
            return Err(ApiError::field(
                "file",
                "is required (a multipart field named \"file\")",
            ));
        }
    } else if content_type.starts_with("text/csv") || content_type.starts_with("application/csv") {
        let mut body = Body::into_data_stream(req.into_body());
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| ApiError::bad_request("invalid-body", e.to_string()))?;
            file.write_all(&chunk).await.map_err(write_err)?;
        }
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "send the file as multipart/form-data (field \"file\") or as text/csv".into(),
        ));
    }
    file.flush().await.map_err(write_err)?;
    drop(file);
    let reader = std::fs::File::open(spool.path()).map_err(|e| ApiError::Internal(format!("spool read: {e}")))?;
    let report = match import_csv(
        state.db.as_ref(),
        &auth.tenant,
        kind,
        std::io::BufReader::new(reader),
        q.dry_run.unwrap_or(false),
        &auth.actor,
    )
    .await
    {
        Ok(r) => r,
        Err(ImportError::Header(m)) => return Err(ApiError::bad_request("invalid-csv-header", m)),
        Err(ImportError::Store(e)) => return Err(e.into()),
        Err(ImportError::Internal(e)) => return Err(ApiError::Internal(e)),
    };
    Ok(report_response(report))
}

/// 200 with the report, or 422 (a problem document carrying the report)
/// when rows were rejected and nothing was written.
fn report_response(report: Report) -> Response {
    if report.error_count == 0 {
        return Json(report).into_response();
    }
    let mut body = serde_json::to_value(&report).unwrap_or_default();
    if let Some(obj) = body.as_object_mut() {
        obj.insert("type".into(), "https://essp.dev/problems/import-rejected".into());
        obj.insert("title".into(), "Unprocessable Entity".into());
        obj.insert("status".into(), 422.into());
        obj.insert(
            "detail".into(),
            format!("{} row error(s); nothing was written", report.error_count).into(),
        );
        obj.insert("code".into(), "import-rejected".into());
    }
    let mut resp = (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(crate::problem::PROBLEM_JSON),
    );
    resp
}
