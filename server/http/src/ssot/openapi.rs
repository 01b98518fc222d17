//! The SSOT services' operations in the OpenAPI document, generated from
//! the kind descriptions that also drive their handlers and SQL: one row
//! schema per kind (its fields with the types, lengths and patterns
//! `ssot::validate` enforces), its CRUD and change-feed operations, and the
//! per-domain export and import. A process documents only the domains it
//! serves, as it routes only those.

use essp_domain::ssot::{self, Domain, Field, FieldType, Kind};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    Components, Content, Info, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required, ResponseBuilder,
};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::rows::MAX_FEED_PAGE;
use crate::openapi as common;

/// The document of the SSOT services for `domains`.
pub fn document(domains: &[Domain]) -> OpenApi {
    let mut doc = Doc::default();
    for &domain in domains {
        for kind in domain.kinds() {
            doc.kind(kind);
        }
        doc.transfer(
            domain,
            &format!("/v1/export/{}", domain.as_str()),
            &format!("/v1/import/{}", domain.as_str()),
        );
    }
    if let [domain] = domains {
        doc.transfer(*domain, "/v1/export", "/v1/import");
    }
    doc.lookup(domains);
    doc.csv_import(domains);
    doc.finish(domains)
}

/// The schema component name of a kind's rows (`SsotSubCounty`).
pub(crate) fn row_name(kind: &Kind) -> String {
    format!("Ssot{}", pascal(singular(kind.name)))
}

/// A `$ref` to the component `name`.
pub(crate) fn to(name: &str) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

/// The schema of a kind's rows as the API answers them: the bookkeeping
/// fields, every field of the kind, and `extra` (IMS adds the names of
/// referenced rows).
pub(crate) fn row_schema(kind: &Kind, extra: &[(String, Schema)]) -> Schema {
    let mut o = ObjectBuilder::new()
        .property("id", id_schema(kind.id_prefix, true))
        .required("id")
        .property("tenantId", string())
        .required("tenantId");
    for f in kind.fields {
        o = o.property(f.json, stored(f)).required(f.json);
    }
    o = o
        .property(
            "revision",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .description(Some(
                    "Increases with every change of any row of this kind; the row's ETag.",
                )),
        )
        .required("revision")
        .property("createdAt", common::timestamp())
        .required("createdAt")
        .property("updatedAt", common::timestamp())
        .required("updatedAt")
        .property("deleted", bool_schema())
        .required("deleted")
        .property(
            "deletedAt",
            with_description(
                common::timestamp(),
                "Only on a deleted row (a tombstone in the change feed).",
            ),
        );
    for (name, schema) in extra {
        o = o.property(name, schema.clone());
    }
    o.additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .into()
}

/// An id of `prefix`; with `required` false, empty for none.
pub(crate) fn id_schema(prefix: &str, required: bool) -> Schema {
    let id = crate::openapi::id_pattern(prefix);
    crate::openapi::string_matching(if required {
        format!("^{id}$")
    } else {
        format!("^({id})?$")
    })
}

/// A path parameter.
pub(crate) fn path_param(name: &str, schema: impl Into<RefOr<Schema>>, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// An optional query parameter.
pub(crate) fn query_param(name: &str, schema: impl Into<RefOr<Schema>>, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description).filter(|d| !d.is_empty()))
        .schema(Some(schema))
        .build()
}

/// A JSON response with `body`.
pub(crate) fn json_response(description: &str, body: impl Into<RefOr<Schema>>) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(body)))
}

pub(crate) fn string() -> Schema {
    ObjectBuilder::new().schema_type(Type::String).into()
}

pub(crate) fn integer(minimum: i64) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(minimum))
        .into()
}

fn bool_schema() -> Schema {
    ObjectBuilder::new().schema_type(Type::Boolean).into()
}

fn with_description(schema: Schema, description: &str) -> Schema {
    match schema {
        Schema::Object(mut o) => {
            o.description = Some(description.to_owned());
            Schema::Object(o)
        }
        other => other,
    }
}

/// `counties` → `county`, `vendor_skus` → `vendor_sku`.
fn singular(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("ies") {
        format!("{stem}y")
    } else {
        name.strip_suffix('s').unwrap_or(name).to_owned()
    }
}

/// `sub_county` → `SubCounty`.
fn pascal(snake: impl AsRef<str>) -> String {
    snake
        .as_ref()
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// Text of at most `max` characters, as `optional_text` / `required_text`
/// check it (the shared schemas, with this field's length; never `null`,
/// which `ssot::validate` refuses).
fn text(max: usize, required: bool) -> Schema {
    let mut s = if required {
        common::required_text::<1>()
    } else {
        common::text::<1>()
    };
    if let Schema::Object(o) = &mut s {
        o.schema_type = Type::String.into();
        o.max_length = Some(max);
    }
    s
}

const MAC_STORED: &str = "^([0-9a-f]{2}:){5}[0-9a-f]{2}$";
/// What `normalize_mac` accepts: twelve hex digits with `:`, `-` or `.`
/// anywhere between them.
const MAC_GIVEN: &str = r"^\s*[:.-]*([0-9A-Fa-f][:.-]*){12}\s*$";
/// What `contact::parse_email` accepts (or empty).
const EMAIL: &str = r"^([^\s@]+@[^\s@.][^\s@]*\.[^\s@]*[^\s@.])?$";
/// What `shop::parse_phone` accepts: 7–15 digits, spaces and hyphens, a
/// leading `+` (or empty).
const PHONE: &str = r"^(\+?[ -]*([0-9][ -]*){7,15})?$";

/// A field as stored and answered.
fn stored(f: &Field) -> Schema {
    match f.ty {
        FieldType::Mac => pattern(MAC_STORED, None),
        FieldType::JsonText => json_document(true),
        _ => given(f, f.required),
    }
}

/// A field as `ssot::validate` accepts it; `required` fields must not be
/// empty.
fn given(f: &Field, required: bool) -> Schema {
    match f.ty {
        FieldType::Text(max) => text(max, required),
        FieldType::Enum(values) => ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values.iter().copied()))
            .into(),
        FieldType::Ref(target) => {
            let prefix = ssot::kind(target).map_or("", |k| k.id_prefix);
            with_description(id_schema(prefix, required), &format!("The id of one of {target}."))
        }
        FieldType::Mac => pattern(MAC_GIVEN, Some("Stored as lowercase `aa:bb:cc:dd:ee:ff`.")),
        FieldType::Email => {
            let mut s = pattern(EMAIL, None);
            if let Schema::Object(o) = &mut s {
                o.max_length = Some(254);
            }
            s
        }
        FieldType::Phone => pattern(PHONE, None),
        FieldType::Bool => bool_schema(),
        FieldType::Int(min, max) => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min))
            .maximum(Some(max))
            .into(),
        FieldType::Float(min, max) => ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Number, Type::Null]))
            .minimum(Some(min))
            .maximum(Some(max))
            .into(),
        FieldType::JsonText => json_document(false),
    }
}

/// A JSON document field: an object or array, null for none. A write may
/// also send "" for none, or the document's text (older clients send it
/// so), but a generator cannot tell such text from any other string, so
/// the document names the structured forms only.
fn json_document(stored: bool) -> Schema {
    let mut any = AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Object))
        .item(ArrayBuilder::new())
        .item(ObjectBuilder::new().schema_type(Type::Null));
    if !stored {
        any = any.item(pattern(r"^\s*$", None));
    }
    any.description(Some("A JSON document (an object or array); null for none."))
        .into()
}

fn pattern(p: &str, description: Option<&str>) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(p))
        .description(description)
        .into()
}

/// Bookkeeping fields a row read back carries; a write ignores them, so a
/// row as read may be sent back as it is.
const IGNORED: &[&str] = &["tenantId", "revision", "createdAt", "updatedAt", "deleted", "deletedAt"];

fn ignored() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .description(Some("Ignored (a row as read may be sent back as it is)."))
        .into()
}

/// The body of a new row: every field, the required ones required.
/// `skip` fields are filled in by the server (a device's MAC takes the
/// device from the path).
pub(crate) fn input_schema(kind: &Kind, skip: &[&str]) -> ObjectBuilder {
    let mut o = ObjectBuilder::new();
    for f in kind.fields.iter().filter(|f| !skip.contains(&f.json)) {
        o = o.property(f.json, given(f, f.required));
        if f.required {
            o = o.required(f.json);
        }
    }
    for name in IGNORED {
        o = o.property(*name, ignored());
    }
    o.additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// A partial update: any fields; the required ones cannot be emptied.
fn patch_schema(kind: &Kind) -> Schema {
    let mut o = ObjectBuilder::new().description(Some("The fields to change; the others keep their values."));
    for f in kind.fields {
        o = o.property(f.json, given(f, f.required));
    }
    for name in IGNORED {
        o = o.property(*name, ignored());
    }
    o.additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .into()
}

/// The number of rows created, updated and left unchanged by an import.
#[derive(ToSchema)]
#[schema(as = SsotImportCounts)]
#[allow(dead_code)]
struct ImportCounts {
    created: u64,
    updated: u64,
    unchanged: u64,
}

#[derive(Default)]
struct Doc {
    paths: Paths,
    components: Components,
}

impl Doc {
    fn schema(&mut self, name: impl Into<String>, schema: impl Into<RefOr<Schema>>) {
        self.components.schemas.insert(name.into(), schema.into());
    }

    fn op(&mut self, path: &str, method: HttpMethod, op: Operation) {
        self.paths.add_path_operation(path, vec![method], op);
    }

    /// A kind's row schemas and its operations.
    fn kind(&mut self, kind: &'static Kind) {
        let row = row_name(kind);
        let (input, patch, page) = (format!("{row}Input"), format!("{row}Patch"), format!("{row}Page"));
        self.schema(&row, row_schema(kind, &[]));
        self.schema(&input, input_schema(kind, &[]));
        self.schema(&patch, patch_schema(kind));
        self.schema(
            &page,
            ObjectBuilder::new()
                .property("items", ArrayBuilder::new().items(to(&row)))
                .required("items")
                .property(
                    "nextCursor",
                    with_description(
                        pattern("^[0-9]*$", None),
                        "The `cursor` of the next page; empty at the end of the feed.",
                    ),
                )
                .required("nextCursor")
                .property(
                    "lastRevision",
                    with_description(
                        integer(0),
                        "The revision of the page's last row (or the cursor given): where to resume.",
                    ),
                )
                .required("lastRevision")
                .additional_properties(Some(AdditionalProperties::FreeForm(false))),
        );

        let tag = tag(kind.domain);
        let what = kind.name.replace('_', " ");
        let one = singular(kind.name).replace('_', " ");
        let collection = format!("/v1/{}", kind.path);
        let item = format!("/v1/{}/{{id}}", kind.path);
        let id_param = || path_param("id", id_schema(kind.id_prefix, true), &format!("The {one}'s id."));
        let row_response = |description: &str| json_response(description, to(&row)).header("ETag", etag());

        let list = OperationBuilder::new()
            .tag(&tag)
            .operation_id(Some(format!("list_{}", kind.name)))
            .summary(Some(format!("The change feed of {what}")))
            .description(Some(
                "Rows in revision order after `cursor`. Paging to the end with `includeDeleted=true` and keeping the last cursor gives a consumer every change exactly once, deletes included.",
            ))
            .parameters(Some(feed_params(kind)))
            .response("200", json_response("A page of the feed", to(&page)));
        self.op(&collection, HttpMethod::Get, list.build());

        self.op(
            &collection,
            HttpMethod::Post,
            OperationBuilder::new()
                .tag(&tag)
                .operation_id(Some(format!("create_{}", kind.name)))
                .summary(Some(format!("Add a {one}")))
                .request_body(Some(json_body(to(&input))))
                .response(
                    "201",
                    row_response("Created").header("Location", HeaderBuilder::new().schema(Some(string())).build()),
                )
                .build(),
        );
        self.op(
            &item,
            HttpMethod::Get,
            OperationBuilder::new()
                .tag(&tag)
                .operation_id(Some(format!("get_{}", kind.name)))
                .summary(Some(format!("A live {one}")))
                .parameter(id_param())
                .response("200", row_response("The row"))
                .build(),
        );
        self.op(
            &item,
            HttpMethod::Patch,
            OperationBuilder::new()
                .tag(&tag)
                .operation_id(Some(format!("update_{}", kind.name)))
                .summary(Some(format!("Change some fields of a {one}")))
                .parameter(id_param())
                .parameters(Some(if_match()))
                .request_body(Some(json_body(to(&patch))))
                .response("200", row_response("Changed"))
                .build(),
        );
        self.op(
            &item,
            HttpMethod::Delete,
            OperationBuilder::new()
                .tag(&tag)
                .operation_id(Some(format!("delete_{}", kind.name)))
                .summary(Some(format!("Delete a {one}")))
                .description(Some(
                    "The row stays as a tombstone so the deletion reaches every consumer. Refused with 409 while live rows refer to it.",
                ))
                .parameter(id_param())
                .parameters(Some(if_match()))
                .response("204", ResponseBuilder::new().description("Deleted"))
                .build(),
        );
        if kind.name == "devices" {
            self.network_identities(kind);
        }
    }

    /// `/v1/devices/{id}/network-identities`.
    fn network_identities(&mut self, devices: &'static Kind) {
        let Some(nets) = ssot::kind("network_identities") else {
            return;
        };
        let path = "/v1/devices/{id}/network-identities";
        let tag = tag(devices.domain);
        let row = row_name(nets);
        let id = || path_param("id", id_schema(devices.id_prefix, true), "The device's id.");
        let items = format!("{row}List");
        self.schema(
            &items,
            ObjectBuilder::new()
                .property("items", ArrayBuilder::new().items(to(&row)))
                .required("items")
                .additional_properties(Some(AdditionalProperties::FreeForm(false))),
        );
        self.op(
            path,
            HttpMethod::Get,
            OperationBuilder::new()
                .tag(&tag)
                .operation_id(Some("list_device_network_identities"))
                .summary(Some("A device's MAC addresses, primary first"))
                .parameter(id())
                .response("200", json_response("The device's network identities", to(&items)))
                .build(),
        );
        let body = input_schema(nets, &["deviceId"])
            .property(
                "deviceId",
                with_description(
                    ObjectBuilder::new().schema_type(SchemaType::AnyValue).into(),
                    "Ignored: the device is the one in the path.",
                ),
            )
            .property("id", ignored())
            .property(
                "rehome",
                with_description(
                    bool_schema(),
                    "Move the MAC from another device to this one (a re-imaged or re-cased laptop). Without it a MAC of another device is refused with 409.",
                ),
            );
        let name = format!("{row}Assignment");
        self.schema(&name, body);
        let saved = |d: &str| json_response(d, to(&row)).header("ETag", etag());
        self.op(
            path,
            HttpMethod::Post,
            OperationBuilder::new()
                .tag(&tag)
                .operation_id(Some("put_device_network_identity"))
                .summary(Some("Add a MAC address to a device, or update it"))
                .parameter(id())
                .request_body(Some(json_body(to(&name))))
                .response("201", saved("Added"))
                .response("200", saved("Updated (or moved here with `rehome`)"))
                .build(),
        );
    }

    /// The export and import of a whole domain at these paths.
    fn transfer(&mut self, domain: Domain, export: &str, import: &str) {
        let tag = tag(domain);
        let name = pascal(domain.as_str());
        let (export_doc, import_doc) = (format!("Ssot{name}Export"), format!("Ssot{name}Import"));
        let mut e = ObjectBuilder::new()
            .property(
                "version",
                ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["1"])),
            )
            .required("version")
            .property("tenantId", string())
            .required("tenantId")
            .property("generatedAt", common::timestamp())
            .required("generatedAt");
        let mut i = ObjectBuilder::new()
            .description(Some(
                "An export document (or part of one): every row valid or nothing is written. Rows with an `id` update that row; rows without one match their natural key or are created.",
            ))
            .property("version", ignored())
            .property("tenantId", ignored())
            .property("generatedAt", ignored());
        let mut some_rows = AnyOfBuilder::new();
        for kind in domain.kinds() {
            let row = row_name(kind);
            e = e
                .property(kind.export_key, ArrayBuilder::new().items(to(&row)))
                .required(kind.export_key);
            let import_row = format!("{row}ImportRow");
            let with_id = input_schema(kind, &[]).property(
                "id",
                with_description(
                    id_schema(kind.id_prefix, false),
                    "The row to update; empty or absent to match the natural key or create.",
                ),
            );
            self.schema(&import_row, with_id);
            i = i.property(kind.export_key, ArrayBuilder::new().items(to(&import_row)));
            some_rows = some_rows.item(
                ObjectBuilder::new()
                    .property(kind.export_key, ArrayBuilder::new().min_items(Some(1)))
                    .required(kind.export_key),
            );
        }
        let i = i.additional_properties(Some(AdditionalProperties::FreeForm(false)));
        self.schema(
            &export_doc,
            e.additional_properties(Some(AdditionalProperties::FreeForm(false))),
        );
        // At least one kind with rows (an empty import is refused).
        self.schema(
            &import_doc,
            Schema::AllOf(
                utoipa::openapi::schema::AllOfBuilder::new()
                    .item(i)
                    .item(some_rows)
                    .build(),
            ),
        );
        let d = domain.as_str();
        self.op(
            export,
            HttpMethod::Get,
            OperationBuilder::new()
                .tag(&tag)
                .operation_id(Some(format!("export_{d}{}", suffix(export))))
                .summary(Some(format!("Every live row of the {d} domain")))
                .response("200", json_response("The export document", to(&export_doc)))
                .build(),
        );
        self.op(
            import,
            HttpMethod::Post,
            OperationBuilder::new()
                .tag(&tag)
                .operation_id(Some(format!("import_{d}{}", suffix(import))))
                .summary(Some(format!("Upsert a {d} export document in one transaction")))
                .request_body(Some(json_body(to(&import_doc))))
                .response("200", json_response("Imported", to("SsotImportResult")))
                .build(),
        );
    }

    /// `/v1/lookup/{field}/{value}` over the served kinds' lookup fields.
    fn lookup(&mut self, domains: &[Domain]) {
        let kinds: Vec<&Kind> = ssot::KINDS
            .iter()
            .filter(|k| domains.contains(&k.domain) && !k.lookups.is_empty())
            .collect();
        let mut fields: Vec<String> = Vec::new();
        let mut answers = OneOfBuilder::new();
        for k in &kinds {
            for column in k.lookups {
                for name in [column.to_string(), column.replace('_', "-")] {
                    if !fields.contains(&name) {
                        fields.push(name);
                    }
                }
                if *column == "mac_address" {
                    fields.push("mac".into());
                }
            }
            if k.name == "network_identities" {
                let Some(devices) = ssot::kind("devices") else { continue };
                answers = answers.item(
                    ObjectBuilder::new()
                        .property("networkIdentity", to(&row_name(k)))
                        .required("networkIdentity")
                        .property(
                            "device",
                            OneOfBuilder::new()
                                .item(to(&row_name(devices)))
                                .item(ObjectBuilder::new().schema_type(Type::Null)),
                        )
                        .required("device")
                        .additional_properties(Some(AdditionalProperties::FreeForm(false))),
                );
            } else {
                answers = answers.item(to(&row_name(k)));
            }
        }
        let field = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(fields));
        self.op(
            "/v1/lookup/{field}/{value}",
            HttpMethod::Get,
            OperationBuilder::new()
                .tag("ssot")
                .operation_id(Some("lookup"))
                .summary(Some("A live row by a unique field"))
                .description(Some(
                    "By serial, asset tag, MAC, PUK, SKU or school code (`_` or `-` in the field's name). A MAC (any common spelling) answers with its device too.",
                ))
                .parameter(path_param("field", field, "The field to match."))
                .parameter(path_param("value", string(), "Its value (surrounding blanks ignored)."))
                .response("200", json_response("The row", answers))
                .build(),
        );
    }

    /// `/v1/import/csv/{kind}` for the served kinds.
    fn csv_import(&mut self, domains: &[Domain]) {
        let mut names: Vec<&str> = Vec::new();
        for k in ssot::KINDS.iter().filter(|k| domains.contains(&k.domain)) {
            names.push(k.path);
            if k.name != k.path {
                names.push(k.name);
            }
        }
        let kind = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names));
        let csv = || {
            Content::new(Some(with_description(
                string(),
                "A header line of the kind's field names (plus `id`, or a reference's natural key such as `countyCode`), then one row per line; `,`, `;` or tab separated.",
            )))
        };
        let body = RequestBodyBuilder::new()
            .required(Some(Required::True))
            .content("text/csv", csv())
            .content("application/csv", csv())
            .content(
                "multipart/form-data",
                Content::new(Some(
                    ObjectBuilder::new()
                        .property(
                            "file",
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary))),
                        )
                        .required("file"),
                )),
            )
            .build();
        let rejected = Schema::AllOf(
            utoipa::openapi::schema::AllOfBuilder::new()
                .item(to("Problem"))
                .item(to("SsotCsvReport"))
                .build(),
        );
        self.op(
            "/v1/import/csv/{kind}",
            HttpMethod::Post,
            OperationBuilder::new()
                .tag("ssot")
                .operation_id(Some("import_csv"))
                .summary(Some("Import a CSV file of one kind in one transaction"))
                .description(Some(
                    "Every row is checked; with any error (or `dryRun=true`) nothing is written and the report says what would have happened. Re-importing the same file changes nothing.",
                ))
                .parameter(path_param("kind", kind, "The kind (its name or URL segment)."))
                .parameter(query_param(
                    "dryRun",
                    bool_schema(),
                    "Check and count only; write nothing.",
                ))
                .request_body(Some(body))
                .response("200", json_response("Imported (or checked)", to("SsotCsvReport")))
                .response(
                    "422",
                    ResponseBuilder::new()
                        .description("Rows were rejected; nothing was written. The problem carries the report.")
                        .content(crate::problem::PROBLEM_JSON, Content::new(Some(rejected))),
                )
                .build(),
        );
    }

    fn finish(mut self, domains: &[Domain]) -> OpenApi {
        self.schema("SsotImportCounts", ImportCounts::schema());
        self.schema("SsotCsvReport", super::csv_import::Report::schema());
        self.schema("SsotCsvLineError", super::csv_import::LineError::schema());
        self.schema(
            "SsotImportResult",
            ObjectBuilder::new()
                .property(
                    "ok",
                    ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .enum_values(Some([true])),
                )
                .required("ok")
                .property(
                    "imported",
                    ObjectBuilder::new()
                        .description(Some("Per export key given."))
                        .additional_properties(Some(to("SsotImportCounts"))),
                )
                .required("imported")
                .additional_properties(Some(AdditionalProperties::FreeForm(false))),
        );
        let mut tags: Vec<_> = domains
            .iter()
            .map(|d| {
                TagBuilder::new()
                    .name(tag(*d))
                    .description(Some(match d {
                        Domain::School => "SSOT: counties, sub-counties, schools and their contacts.",
                        Domain::Devices => "SSOT: device models, devices and their MAC addresses.",
                        Domain::Parts => "SSOT: parts, their compatibility and vendor SKUs.",
                    }))
                    .build()
            })
            .collect();
        tags.push(
            TagBuilder::new()
                .name("ssot")
                .description(Some("SSOT operations across kinds: lookups and CSV imports."))
                .build(),
        );
        OpenApiBuilder::new()
            .info(Info::new("ESSP SSOT", env!("CARGO_PKG_VERSION")))
            .paths(self.paths)
            .components(Some(self.components))
            .tags(Some(tags))
            .build()
    }
}

fn tag(domain: Domain) -> String {
    format!("ssot-{}", domain.as_str())
}

/// `_default` for the single-domain alias routes (unique operation ids).
fn suffix(path: &str) -> &'static str {
    if path.matches('/').count() == 2 { "_default" } else { "" }
}

fn json_body(schema: RefOr<Schema>) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content("application/json", Content::new(Some(schema)))
        .build()
}

fn etag() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(string()))
        .description(Some("The row's revision, for `If-Match`."))
        .build()
}

fn if_match() -> Vec<Parameter> {
    common::IfMatch::into_params(|| None)
}

/// The change feed's query: paging, and equality filters on the kind's
/// references and natural key.
fn feed_params(kind: &Kind) -> Vec<Parameter> {
    let mut params = vec![
        query_param(
            "cursor",
            pattern("^[0-9]{0,18}$", None),
            "`nextCursor` (or `lastRevision`) of the previous page; empty or absent from the start.",
        ),
        query_param(
            "after",
            pattern("^[0-9]{0,18}$", None),
            "The same as `cursor` (the original's name).",
        ),
        query_param(
            "updatedSince",
            common::timestamp(),
            "Only rows changed at or after this time.",
        ),
        query_param("includeDeleted", bool_schema(), "Include tombstones (deleted rows)."),
        query_param(
            "limit",
            crate::openapi::limit_up_to(MAX_FEED_PAGE),
            "Rows per page; default 100.",
        ),
    ];
    for f in kind
        .fields
        .iter()
        .filter(|f| matches!(f.ty, FieldType::Ref(_)) || kind.natural_key.contains(&f.column))
    {
        params.push(query_param(f.json, string(), "Only rows with exactly this value."));
    }
    params
}
