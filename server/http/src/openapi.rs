//! The OpenAPI 3.1 document served at `/openapi.json`, generated from the
//! code: each handler module describes its own operations
//! (`#[utoipa::path]` plus a `Doc` that lists them), the SSOT operations
//! are generated from the kind descriptions, and [`Common`] adds what every
//! operation shares (tenancy headers, problem responses, bearer security)
//! so no annotation repeats it. A test holds the document against the
//! route table this process actually serves.

use serde::Serialize;
use utoipa::openapi::path::{HttpMethod, Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Required, Response, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi, PartialSchema, ToSchema};

use crate::problem::PROBLEM_JSON;
use crate::state::HttpConfig;

/// The document for this process's role, built once at start-up.
pub fn document(config: &HttpConfig) -> Document {
    let mut doc = Base::openapi();
    doc.merge(crate::me::Doc::openapi());
    if config.serve_ims {
        for part in crate::ims_docs() {
            doc.merge(part);
        }
        crate::uploads::document_limits(&mut doc, config.attachment_max_bytes);
    }
    if !config.ssot_domains.is_empty() {
        doc.merge(crate::ssot::openapi::document(&config.ssot_domains));
    }
    Common {
        tenant_header: config.tenant_header.clone(),
        school_header: config.school_header.clone(),
    }
    .modify(&mut doc);
    doc
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ESSP API",
        description = "Incidents, work orders, parts and evidence for school devices, and the single sources of truth for schools, devices and parts."
    ),
    components(schemas(crate::problem::Problem, essp_domain::error::FieldError)),
    modifiers(&BearerAuth)
)]
struct Base;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token of the identity provider, or one minted by `essp token`. Not needed when AUTH_ENABLED=false (development).",
                    ))
                    .build(),
            ),
        );
    }
}

/// What every operation of the API shares, added once instead of on every
/// annotation: the tenancy headers, the bearer security requirement and the
/// problem responses the layers below the handlers can produce.
struct Common {
    tenant_header: String,
    school_header: String,
}

impl Modify for Common {
    fn modify(&self, doc: &mut Document) {
        for (path, item) in doc.paths.paths.iter_mut() {
            if !path.starts_with("/v1/") {
                continue;
            }
            let has_path_params = path.contains('{');
            for (method, op) in operations(item) {
                // Handler names repeat across modules (`list`, `get`);
                // the module's tag makes the operation id unique.
                if let (Some(tag), Some(id)) = (op.tags.as_ref().and_then(|t| t.first()), &op.operation_id) {
                    op.operation_id = Some(format!("{tag}.{id}"));
                }
                no_nul_in_free_text_queries(op);
                self.headers(op);
                op.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
                let writes = !matches!(method, HttpMethod::Get | HttpMethod::Head);
                let mut statuses = vec![
                    ("400", "The request is malformed or a field is invalid."),
                    ("401", "No valid credentials."),
                    ("403", "The credentials do not allow this action or scope."),
                    ("429", "Too many requests; retry after the time in `Retry-After`."),
                    ("503", "A dependency is down; safe to retry."),
                ];
                if has_path_params || writes {
                    statuses.push(("404", "No such resource in this tenant (or school)."));
                }
                if writes {
                    statuses.extend([
                        ("409", "The change conflicts with the current state."),
                        ("412", "`If-Match` does not match the current version."),
                        ("422", "Well-formed input that cannot be applied to the current data."),
                    ]);
                }
                if op.request_body.is_some() {
                    statuses.extend([
                        ("413", "The body is larger than the limit."),
                        ("415", "The body's media type is not accepted."),
                    ]);
                }
                for (code, description) in statuses {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| problem(description));
                }
            }
        }
    }
}

impl Common {
    fn headers(&self, op: &mut Operation) {
        let params = op.parameters.get_or_insert_with(Vec::new);
        for (name, description) in [
            (
                &self.tenant_header,
                "The tenant. Required in development mode; with tokens it must match the token's tenant when given.",
            ),
            (
                &self.school_header,
                "The school, for school-scoped actions; must be one the caller may act for.",
            ),
        ] {
            let declared = params
                .iter()
                .any(|p| matches!(p, RefOr::T(p) if p.name.eq_ignore_ascii_case(name)));
            if !declared {
                params.push(RefOr::T(header(name, description)));
            }
        }
    }
}

/// Every query is refused if it carries a NUL (`extract::ApiQuery`); a
/// free-text query parameter says so.
fn no_nul_in_free_text_queries(op: &mut Operation) {
    for param in op.parameters.iter_mut().flatten() {
        let RefOr::T(param) = param else { continue };
        if param.parameter_in != ParameterIn::Query {
            continue;
        }
        if let Some(RefOr::T(Schema::Object(s))) = param.schema.as_mut()
            && s.schema_type == SchemaType::Type(Type::String)
            && s.pattern.is_none()
            && s.enum_values.is_none()
            && s.format.is_none()
        {
            s.pattern = Some("^[^\\u0000]*$".to_owned());
        }
    }
}

fn header(name: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^[A-Za-z0-9_.-]{1,64}$")),
        ))
        .build()
}

fn problem(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, Content::new(Some(Ref::from_schema_name("Problem"))))
        .build()
        .into()
}

/// The operations of one path, with their methods.
fn operations(item: &mut utoipa::openapi::PathItem) -> Vec<(HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
        (HttpMethod::Head, item.head.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

/// `If-Match` on a change: the ETag last read (`"<version>"`, or the bare
/// version) or `*`. A stale one is refused with 412.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IfMatch {
    /// The ETag last read; the change is refused with 412 if the entity changed since.
    #[param(
        rename = "If-Match",
        nullable = false,
        pattern = r#"^(\*|(W/)?"[0-9]{1,18}"|[0-9]{1,18})$"#
    )]
    if_match: Option<String>,
}

/// `Idempotency-Key` on a create: the same key and body answer the first
/// response again; the same key with another body is refused with 422.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyKey {
    /// 1–255 visible ASCII characters, unique per intended request.
    #[param(rename = "Idempotency-Key", nullable = false, pattern = "^[!-~]{1,255}$")]
    idempotency_key: Option<String>,
}

// --- Schemas of the values every handler validates the same way. Use them
// with `#[schema(schema_with = …)]` so the document states exactly what the
// validators in `essp_domain::error` and `params` accept.

/// Characters our text validators refuse (control characters other than
/// tab, CR and LF).
const NO_CONTROL: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F";

/// Optional text of at most `MAX` characters (`optional_text`); `null`
/// reads as absent.
pub fn text<const MAX: usize>() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(MAX))
        .pattern(Some(format!("^[^{NO_CONTROL}]*$")))
        .into()
}

/// Optional text in a partial update (`params::no_null`): a string, never null.
pub fn edit_text<const MAX: usize>() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX))
        .pattern(Some(format!("^[^{NO_CONTROL}]*$")))
        .into()
}

/// Required text: at least one non-blank character, at most `MAX`
/// (`required_text`).
pub fn required_text<const MAX: usize>() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX))
        .pattern(Some(format!(r"^[^{NO_CONTROL}]*[^\s{NO_CONTROL}][^{NO_CONTROL}]*$")))
        .into()
}

/// An RFC 3339 timestamp.
pub fn timestamp() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::DateTime,
        )))
        .into()
}

/// The opaque keyset cursor of a list response.
pub fn cursor() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^[A-Za-z0-9_-]{0,512}$"))
        .description(Some(
            "`nextCursor` of the previous page, as returned; empty for the first page.",
        ))
        .into()
}

/// The page size of a list (1–200; absent or empty for the default, 50).
pub fn limit() -> Schema {
    limit_up_to(crate::params::MAX_LIMIT)
}

/// A page size from 1 to `max`; absent or empty for the list's default.
pub fn limit_up_to(max: u32) -> Schema {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(max)),
        )
        .item(ObjectBuilder::new().schema_type(Type::String).max_length(Some(0)))
        .into()
}

/// `true` or `false`, as a query parameter.
pub fn flag() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["true", "false"]))
        .into()
}

// --- Shared pieces of module documents.

/// White space as `str::trim` removes it (Unicode `White_Space`), for a
/// regex character class.
pub const BLANK: &str = r"\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

pub fn string_matching(pattern: String) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .into()
}

/// An id with the given prefix, as `Id::parse` accepts it (canonical
/// upper case; it also takes lower case).
pub fn id_of(prefix: &str) -> Schema {
    string_matching(format!("^{}$", id_pattern(prefix)))
}

/// A county, sub-county or school code (`parse_scope_part`, blanks around
/// it trimmed).
pub fn code_schema() -> Schema {
    string_matching(format!("^[{BLANK}]*[A-Za-z0-9_.-]{{1,64}}[{BLANK}]*$"))
}

/// An optional code or reference to another record (shop, staff,
/// contact…): empty (or blank) for none.
pub fn optional_code_schema() -> Schema {
    string_matching(format!("^[{BLANK}]*([A-Za-z0-9_.-]{{1,64}}[{BLANK}]*)?$"))
}

/// What `parse_phone` accepts: empty, or 7–15 digits with an optional
/// leading `+` and spaces or dashes.
pub fn phone_schema() -> Schema {
    string_matching(format!("^[{BLANK}]*(\\+?([ -]*[0-9]){{7,15}}[ -]*)?[{BLANK}]*$"))
}

/// The schema of `T` (an object) with `required` fields added and
/// `removed` ones taken out: the create or update form of a body type
/// whose fields are all optional in Rust.
pub fn variant<T: PartialSchema>(required: &[&str], removed: &[&str]) -> RefOr<Schema> {
    let mut schema = T::schema();
    if let RefOr::T(Schema::Object(object)) = &mut schema {
        object.required.extend(required.iter().map(|f| (*f).to_owned()));
        object.properties.retain(|name, _| !removed.contains(&name.as_str()));
    }
    schema
}

/// Declares a type standing for a schema built at run time: a request
/// body derived from another type's schema (`from $base`, whose referenced
/// schemas it registers), or a value for `#[param(value_type = …, inline)]`
/// (utoipa drops `required` and the description of a parameter given with
/// `schema_with`).
macro_rules! schema_type {
    ($(#[$m:meta])* $name:ident = $build:expr) => {
        $(#[$m])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $build.into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
    ($(#[$m:meta])* $name:ident from $base:ty = $build:expr) => {
        $(#[$m])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $build
            }
        }

        impl utoipa::ToSchema for $name {
            fn schemas(
                schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
            ) {
                <$base as utoipa::ToSchema>::schemas(schemas)
            }
        }
    };
}
pub(crate) use schema_type;

/// A page of a list; `nextCursor` asks for the next one (null on the last).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Listing<T> {
    pub(crate) items: Vec<T>,
    pub(crate) next_cursor: Option<String>,
}

impl<T> From<essp_store::cursor::Page<T>> for Listing<T> {
    fn from(p: essp_store::cursor::Page<T>) -> Self {
        Listing {
            items: p.items,
            next_cursor: p.next_cursor.map(|c| c.encode()),
        }
    }
}

/// The pattern of an id of one kind (`wo_…`), for use inside a larger one.
pub fn id_pattern(prefix: &str) -> String {
    format!("{prefix}_[0-9A-HJKMNP-TV-Z]{{26}}")
}

/// `schema`, also allowing `null` (which the handler reads as absent).
pub fn or_null(schema: Schema) -> Schema {
    match schema {
        Schema::Object(mut object) => {
            let mut types = match object.schema_type {
                SchemaType::Type(t) => vec![t],
                SchemaType::Array(types) => types,
                SchemaType::AnyValue => return Schema::Object(object),
            };
            if !types.contains(&Type::Null) {
                types.push(Type::Null);
            }
            object.schema_type = SchemaType::from_iter(types);
            Schema::Object(object)
        }
        other => other,
    }
}

/// A whole list (these lists are short and not paged).
#[derive(Serialize, ToSchema)]
pub struct Items<T> {
    pub(crate) items: Vec<T>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::collections::HashMap;

    /// Merging keeps one schema per name: two modules declaring different
    /// types under one name would silently document the wrong one.
    #[test]
    fn schema_names_are_unique_across_modules() {
        let mut seen: HashMap<String, serde_json::Value> = HashMap::new();
        for part in crate::ims_docs() {
            let Some(components) = part.components else { continue };
            for (name, schema) in components.schemas {
                let schema = serde_json::to_value(schema).unwrap();
                if let Some(previous) = seen.insert(name.clone(), schema.clone()) {
                    assert_eq!(previous, schema, "two different schemas are named {name}");
                }
            }
        }
    }
}
