//! Single sources of truth: the reference data every school and repair
//! depends on (counties, schools, devices, parts, …).
//!
//! Every kind is described once, as data: its fields, their types and
//! rules, its natural key and the kinds it points at. Storage, the HTTP API,
//! CSV import and the IMS snapshot tables are all driven by these
//! descriptions, so adding a field is one line here plus a migration.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use crate::error::{FieldError, ValidationError};
use crate::id::Id;

/// The SSOT service that owns a kind (and the runbook deployment serving it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Domain {
    School,
    Devices,
    Parts,
}

impl Domain {
    pub const ALL: [Domain; 3] = [Domain::School, Domain::Devices, Domain::Parts];

    /// As in the original's export/import and event names.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::School => "school",
            Domain::Devices => "devices",
            Domain::Parts => "parts",
        }
    }

    /// The kinds this domain owns, parents before children (the order an
    /// import must apply them in).
    pub fn kinds(self) -> impl Iterator<Item = &'static Kind> {
        KINDS.iter().filter(move |k| k.domain == self)
    }
}

/// How a field's value is checked and stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldType {
    /// Trimmed text of at most this many characters.
    Text(usize),
    /// One of a closed set of values (stored as text).
    Enum(&'static [&'static str]),
    /// The id of another kind. Checked for existence when that kind lives
    /// in the same domain (same database); otherwise only its shape.
    Ref(&'static str),
    /// A MAC address, normalised to lowercase `aa:bb:cc:dd:ee:ff`.
    Mac,
    Email,
    Phone,
    Bool,
    /// A whole number within the range.
    Int(i64, i64),
    /// A decimal number within the range; NULL when absent.
    Float(f64, f64),
    /// A JSON document stored as text (model or part specifications).
    JsonText,
}

#[derive(Debug)]
pub struct Field {
    /// camelCase name in JSON and CSV.
    pub json: &'static str,
    /// snake_case column name.
    pub column: &'static str,
    pub ty: FieldType,
    pub required: bool,
}

const fn field(json: &'static str, column: &'static str, ty: FieldType) -> Field {
    Field {
        json,
        column,
        ty,
        required: false,
    }
}

const fn required(json: &'static str, column: &'static str, ty: FieldType) -> Field {
    Field {
        json,
        column,
        ty,
        required: true,
    }
}

/// One kind of reference data.
#[derive(Debug)]
pub struct Kind {
    /// Plural resource name: the route (`/v1/<path>`), the event subject
    /// suffix and the `ssot_sync_state` resource.
    pub name: &'static str,
    /// The URL segment (`sub-counties` for `sub_counties`).
    pub path: &'static str,
    pub domain: Domain,
    /// The SSOT's own table.
    pub table: &'static str,
    /// IMS's per-row copy of it.
    pub snapshot: &'static str,
    pub id_prefix: &'static str,
    /// The export/import array this kind travels in (original shapes).
    pub export_key: &'static str,
    pub fields: &'static [Field],
    /// Columns that identify a live row besides its id (unique per tenant
    /// among rows not deleted, ignoring empty values); imports without ids
    /// match on them, so re-importing the same file changes nothing.
    pub natural_key: &'static [&'static str],
    /// Columns a client may look a row up by (`/v1/lookup/<json>/<value>`).
    pub lookups: &'static [&'static str],
}

impl Kind {
    pub fn field(&self, json: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.json == json)
    }

    pub fn field_by_column(&self, column: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.column == column)
    }

    /// Fields pointing at kinds stored in the same domain (checked on write).
    pub fn local_refs(&self) -> impl Iterator<Item = (&'static Field, &'static Kind)> {
        self.fields.iter().filter_map(move |f| match f.ty {
            FieldType::Ref(target) => kind(target).filter(|k| k.domain == self.domain).map(|k| (f, k)),
            _ => None,
        })
    }
}

const SCHOOL_LEVELS: &[&str] = &[
    "pre_primary",
    "primary",
    "junior_secondary",
    "secondary",
    "tvet",
    "special_needs",
    "other",
];
const SCHOOL_TYPES: &[&str] = &["public", "private"];
const SCHOOL_SEX: &[&str] = &["", "boys", "girls", "mixed"];
const ACCOMMODATION: &[&str] = &["", "day", "boarding", "day_and_boarding"];
const CONTACT_ROLES: &[&str] = &[
    "point_of_contact",
    "head_teacher",
    "deputy_head",
    "ict_teacher",
    "bursar",
    "other",
];
const DEVICE_CATEGORIES: &[&str] = &[
    "laptop",
    "tablet",
    "desktop",
    "projector",
    "printer",
    "network",
    "server",
    "other",
];
const LIFECYCLES: &[&str] = &["in_stock", "deployed", "in_repair", "retired", "lost"];
const INTERFACE_TYPES: &[&str] = &["ethernet", "wifi", "bluetooth", "unknown"];
const PART_CATEGORIES: &[&str] = &[
    "screen",
    "keyboard",
    "battery",
    "charger",
    "storage",
    "memory",
    "motherboard",
    "hinge",
    "casing",
    "cable",
    "network",
    "misc",
];
const PART_UNITS: &[&str] = &["piece", "set", "metre", "litre", "kit"];
const MONEY: FieldType = FieldType::Int(0, 1_000_000_000_000);

use FieldType::{Bool, Email, Enum, Float, Int, JsonText, Mac, Phone, Ref, Text};

/// Every kind, parents before children.
pub static KINDS: &[Kind] = &[
    Kind {
        name: "counties",
        path: "counties",
        domain: Domain::School,
        table: "ssot_counties",
        snapshot: "counties_snapshot",
        id_prefix: "county",
        export_key: "counties",
        fields: &[required("name", "name", Text(100)), required("code", "code", Text(20))],
        natural_key: &["code"],
        lookups: &[],
    },
    Kind {
        name: "sub_counties",
        path: "sub-counties",
        domain: Domain::School,
        table: "ssot_sub_counties",
        snapshot: "sub_counties_snapshot",
        id_prefix: "subcounty",
        export_key: "subCounties",
        fields: &[
            required("countyId", "county_id", Ref("counties")),
            required("name", "name", Text(100)),
            required("code", "code", Text(20)),
        ],
        natural_key: &["code"],
        lookups: &[],
    },
    Kind {
        name: "schools",
        path: "schools",
        domain: Domain::School,
        table: "ssot_schools",
        snapshot: "schools_snapshot",
        id_prefix: "school",
        export_key: "schools",
        fields: &[
            required("name", "name", Text(200)),
            field("code", "code", Text(40)),
            required("countyId", "county_id", Ref("counties")),
            field("subCountyId", "sub_county_id", Ref("sub_counties")),
            field("level", "level", Enum(SCHOOL_LEVELS)),
            field("type", "school_type", Enum(SCHOOL_TYPES)),
            field("active", "active", Bool),
            field("knecCode", "knec_code", Text(40)),
            field("uic", "uic", Text(40)),
            field("sex", "sex", Enum(SCHOOL_SEX)),
            field("cluster", "cluster", Text(100)),
            field("accommodation", "accommodation", Enum(ACCOMMODATION)),
            field("latitude", "latitude", Float(-90.0, 90.0)),
            field("longitude", "longitude", Float(-180.0, 180.0)),
        ],
        natural_key: &["code"],
        lookups: &["code", "knec_code", "uic"],
    },
    Kind {
        name: "school_contacts",
        path: "school-contacts",
        domain: Domain::School,
        table: "ssot_school_contacts",
        snapshot: "school_contacts_snapshot",
        id_prefix: "contact",
        export_key: "contacts",
        fields: &[
            required("schoolId", "school_id", Ref("schools")),
            required("name", "name", Text(200)),
            field("phone", "phone", Phone),
            field("email", "email", Email),
            field("role", "role", Enum(CONTACT_ROLES)),
            field("isPrimary", "is_primary", Bool),
            field("active", "active", Bool),
        ],
        natural_key: &[],
        lookups: &[],
    },
    Kind {
        name: "device_models",
        path: "device-models",
        domain: Domain::Devices,
        table: "ssot_device_models",
        snapshot: "device_models_snapshot",
        id_prefix: "dmodel",
        export_key: "models",
        fields: &[
            required("make", "make", Text(100)),
            required("model", "model", Text(100)),
            field("category", "category", Enum(DEVICE_CATEGORIES)),
            field("specJson", "spec_json", JsonText),
        ],
        natural_key: &["make", "model"],
        lookups: &[],
    },
    Kind {
        name: "devices",
        path: "devices",
        domain: Domain::Devices,
        table: "ssot_devices",
        snapshot: "devices_snapshot",
        id_prefix: "dev",
        export_key: "devices",
        fields: &[
            required("serial", "serial", Text(100)),
            field("assetTag", "asset_tag", Text(100)),
            required("deviceModelId", "device_model_id", Ref("device_models")),
            field("schoolId", "school_id", Ref("schools")),
            field("assignedTo", "assigned_to", Text(200)),
            field("lifecycle", "lifecycle", Enum(LIFECYCLES)),
            field("enrolled", "enrolled", Bool),
        ],
        natural_key: &["serial"],
        lookups: &["serial", "asset_tag"],
    },
    Kind {
        name: "network_identities",
        path: "network-identities",
        domain: Domain::Devices,
        table: "ssot_network_identities",
        snapshot: "network_identities_snapshot",
        id_prefix: "netid",
        export_key: "networkIdentities",
        fields: &[
            required("deviceId", "device_id", Ref("devices")),
            required("macAddress", "mac_address", Mac),
            field("interfaceName", "interface_name", Text(50)),
            field("interfaceType", "interface_type", Enum(INTERFACE_TYPES)),
            field("isPrimary", "is_primary", Bool),
        ],
        natural_key: &["mac_address"],
        lookups: &["mac_address"],
    },
    Kind {
        name: "parts",
        path: "parts",
        domain: Domain::Parts,
        table: "ssot_parts",
        snapshot: "parts_snapshot",
        id_prefix: "part",
        export_key: "parts",
        fields: &[
            required("puk", "puk", Text(64)),
            field("sku", "sku", Text(64)),
            required("name", "name", Text(200)),
            field("category", "category", Enum(PART_CATEGORIES)),
            field("unit", "unit", Enum(PART_UNITS)),
            field("unitCostCents", "unit_cost_cents", MONEY),
            field("specJson", "spec_json", JsonText),
        ],
        natural_key: &["puk"],
        lookups: &["puk", "sku"],
    },
    Kind {
        name: "part_compatibility",
        path: "part-compatibility",
        domain: Domain::Parts,
        table: "ssot_part_compatibility",
        snapshot: "part_compatibility_snapshot",
        id_prefix: "pc",
        export_key: "compatibility",
        fields: &[
            required("partId", "part_id", Ref("parts")),
            required("deviceModelId", "device_model_id", Ref("device_models")),
        ],
        natural_key: &["part_id", "device_model_id"],
        lookups: &[],
    },
    Kind {
        name: "vendor_skus",
        path: "vendor-skus",
        domain: Domain::Parts,
        table: "ssot_vendor_skus",
        snapshot: "vendor_skus_snapshot",
        id_prefix: "vsku",
        export_key: "vendorSkus",
        fields: &[
            required("partId", "part_id", Ref("parts")),
            required("vendorId", "vendor_id", Text(64)),
            required("sku", "sku", Text(64)),
            field("unitPriceCents", "unit_price_cents", MONEY),
            field("currency", "currency", Text(3)),
            field("leadTimeDays", "lead_time_days", Int(0, 365)),
        ],
        natural_key: &["vendor_id", "sku"],
        lookups: &[],
    },
];

/// The kind with this name (`schools`) or URL segment (`sub-counties`).
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name || k.path == name)
}

/// A stored field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Text(String),
    Int(i64),
    Float(Option<f64>),
    Bool(bool),
}

impl FieldValue {
    pub fn to_json(&self) -> Json {
        match self {
            FieldValue::Text(s) => Json::String(s.clone()),
            FieldValue::Int(n) => Json::from(*n),
            FieldValue::Float(f) => f.map_or(Json::Null, Json::from),
            FieldValue::Bool(b) => Json::Bool(*b),
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// A row's field values by column (every field of its kind present).
pub type Record = BTreeMap<&'static str, FieldValue>;

/// The value a field takes when a new row leaves it out.
pub fn default_value(f: &Field) -> FieldValue {
    match f.ty {
        FieldType::Bool => FieldValue::Bool(matches!(f.column, "active")),
        FieldType::Int(..) => FieldValue::Int(match f.column {
            "lead_time_days" => 7,
            _ => 0,
        }),
        FieldType::Float(..) => FieldValue::Float(None),
        FieldType::Enum(values) => FieldValue::Text(
            match (f.column, values) {
                ("level", _) => "other",
                ("school_type", _) => "public",
                ("role", _) => "point_of_contact",
                ("category", v) if v.contains(&"other") => "other",
                ("category", _) => "misc",
                ("lifecycle", _) => "in_stock",
                ("interface_type", _) => "unknown",
                ("unit", _) => "piece",
                _ => "",
            }
            .to_owned(),
        ),
        FieldType::Text(_) if f.column == "currency" => FieldValue::Text("KES".into()),
        _ => FieldValue::Text(String::new()),
    }
}

/// Lowercase colon-separated form of a 48-bit MAC given with `:`, `-`, `.`
/// or no separators.
pub fn normalize_mac(raw: &str) -> Result<String, String> {
    let hex: String = raw.trim().chars().filter(|c| !matches!(c, ':' | '-' | '.')).collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("must be a MAC address such as aa:bb:cc:dd:ee:ff".into());
    }
    let lower = hex.to_ascii_lowercase();
    Ok(lower
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":"))
}

fn check(f: &Field, v: &Json) -> Result<FieldValue, String> {
    use FieldType as T;
    let text = || -> Result<&str, String> {
        match v {
            Json::String(s) => Ok(s.trim()),
            _ => Err("must be a string".into()),
        }
    };
    match f.ty {
        T::Text(max) => crate::error::optional_text(Some(text()?), max).map(FieldValue::Text),
        T::Enum(values) => {
            let s = text()?;
            if values.contains(&s) {
                Ok(FieldValue::Text(s.to_owned()))
            } else {
                let shown: Vec<&str> = values.iter().copied().filter(|v| !v.is_empty()).collect();
                Err(format!("must be one of {}", shown.join(", ")))
            }
        }
        T::Ref(target) => {
            let s = text()?;
            let prefix = kind(target).map_or("", |k| k.id_prefix);
            if s.is_empty() {
                return Ok(FieldValue::Text(String::new()));
            }
            Id::parse(prefix, s)
                .map(|id| FieldValue::Text(id.into_string()))
                .map_err(|e| e.to_string())
        }
        T::Mac => normalize_mac(text()?).map(FieldValue::Text),
        T::Email => crate::contact::parse_email(text()?).map(FieldValue::Text),
        T::Phone => crate::shop::parse_phone(text()?).map(FieldValue::Text),
        T::Bool => v
            .as_bool()
            .map(FieldValue::Bool)
            .ok_or_else(|| "must be true or false".into()),
        T::Int(min, max) => match whole_number(v) {
            Some(n) if (min..=max).contains(&n) => Ok(FieldValue::Int(n)),
            _ => Err(format!("must be a whole number from {min} to {max}")),
        },
        T::Float(min, max) => match v {
            Json::Null => Ok(FieldValue::Float(None)),
            _ => match v.as_f64() {
                Some(x) if (min..=max).contains(&x) => Ok(FieldValue::Float(Some(x))),
                _ => Err(format!("must be a number from {min} to {max}")),
            },
        },
        T::JsonText => {
            const WANTED: &str = "must be a JSON object or array, or null for none";
            match v {
                Json::Null => Ok(FieldValue::Text(String::new())),
                Json::String(s) if s.trim().is_empty() => Ok(FieldValue::Text(String::new())),
                Json::Object(_) | Json::Array(_) => Ok(FieldValue::Text(v.to_string())),
                // The text of a document, as rows carried it before they
                // were answered structured; a scalar is not a document.
                Json::String(s) => match serde_json::from_str::<Json>(s) {
                    Ok(doc @ (Json::Object(_) | Json::Array(_))) => Ok(FieldValue::Text(doc.to_string())),
                    _ => Err(WANTED.into()),
                },
                _ => Err(WANTED.into()),
            }
        }
    }
}

fn whole_number(v: &Json) -> Option<i64> {
    v.as_number().and_then(crate::error::whole_number)
}

/// The fields every JSON row may carry besides its kind's own.
const META: &[&str] = &[
    "id",
    "tenantId",
    "revision",
    "createdAt",
    "updatedAt",
    "deleted",
    "deletedAt",
];

/// Validates `input` (camelCase JSON) into a record.
///
/// With `current`, only the fields present change (a partial update);
/// without, absent fields take their defaults and required ones must be
/// given. Every problem is reported, each naming its field.
pub fn validate(kind: &Kind, input: &Map<String, Json>, current: Option<&Record>) -> Result<Record, ValidationError> {
    let mut errors = Vec::new();
    for key in input.keys() {
        if kind.field(key).is_none() && !META.contains(&key.as_str()) {
            errors.push(FieldError {
                field: key.clone(),
                message: format!("is not a field of {}", kind.name),
            });
        }
    }
    let mut out = Record::new();
    for f in kind.fields {
        let value = match (input.get(f.json), current) {
            (Some(v), _) => match check(f, v) {
                Ok(v) => v,
                Err(message) => {
                    errors.push(FieldError {
                        field: f.json.to_owned(),
                        message,
                    });
                    continue;
                }
            },
            (None, Some(cur)) => cur.get(f.column).cloned().unwrap_or_else(|| default_value(f)),
            (None, None) => default_value(f),
        };
        if f.required && value.as_text().is_some_and(str::is_empty) {
            errors.push(FieldError {
                field: f.json.to_owned(),
                message: "is required".into(),
            });
            continue;
        }
        out.insert(f.column, value);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ValidationError(errors))
    }
}

/// Parses a client-supplied id for `kind` (must be `<prefix>_<ULID>`).
pub fn parse_id(kind: &Kind, raw: &str) -> Result<Id, ValidationError> {
    Id::parse(kind.id_prefix, raw.trim()).map_err(|e| ValidationError::single("id", e.to_string()))
}

/// The JSON form of a stored row: its fields in camelCase plus metadata.
pub fn to_json(kind: &Kind, meta: &RowMeta, record: &Record) -> Json {
    let mut m = Map::new();
    m.insert("id".into(), Json::String(meta.id.clone()));
    m.insert("tenantId".into(), Json::String(meta.tenant_id.clone()));
    for f in kind.fields {
        if let Some(v) = record.get(f.column) {
            m.insert(f.json.into(), field_json(f, v));
        }
    }
    m.insert("revision".into(), Json::from(meta.revision));
    m.insert("createdAt".into(), Json::String(rfc3339(meta.created_at)));
    m.insert("updatedAt".into(), Json::String(rfc3339(meta.updated_at)));
    m.insert("deleted".into(), Json::Bool(meta.deleted_at.is_some()));
    if let Some(d) = meta.deleted_at {
        m.insert("deletedAt".into(), Json::String(rfc3339(d)));
    }
    Json::Object(m)
}

/// A JSON document field is stored as text and answered as the document
/// itself (null for none), so a row read back can be written back as is.
fn field_json(f: &Field, v: &FieldValue) -> Json {
    match (f.ty, v) {
        (FieldType::JsonText, FieldValue::Text(s)) if s.trim().is_empty() => Json::Null,
        (FieldType::JsonText, FieldValue::Text(s)) => {
            serde_json::from_str(s).unwrap_or_else(|_| Json::String(s.clone()))
        }
        _ => v.to_json(),
    }
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Bookkeeping every SSOT row carries.
#[derive(Debug, Clone, PartialEq)]
pub struct RowMeta {
    pub id: String,
    pub tenant_id: String,
    /// Per tenant and kind, strictly increasing in commit order: the change
    /// feed's position and the snapshot's version guard.
    pub revision: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Set on delete: the row stays as a tombstone so the deletion travels.
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A stored row: bookkeeping plus field values.
#[derive(Debug, Clone, PartialEq)]
pub struct SsotRow {
    pub meta: RowMeta,
    pub record: Record,
}

impl SsotRow {
    pub fn to_json(&self, kind: &Kind) -> Json {
        to_json(kind, &self.meta, &self.record)
    }

    /// Reads a row back from its JSON form (events and the HTTP change feed).
    pub fn from_json(kind: &Kind, v: &Json) -> Result<SsotRow, ValidationError> {
        let obj = v
            .as_object()
            .ok_or_else(|| ValidationError::single("row", "must be a JSON object"))?;
        let record = validate(kind, obj, None)?;
        let text = |k: &str| obj.get(k).and_then(Json::as_str).map(str::to_owned);
        let time = |k: &str| {
            text(k).and_then(|s| {
                chrono::DateTime::parse_from_rfc3339(&s)
                    .ok()
                    .map(|t| t.with_timezone(&chrono::Utc))
            })
        };
        let bad = |f: &str| ValidationError::single(f, "is missing or malformed");
        Ok(SsotRow {
            meta: RowMeta {
                id: text("id").ok_or_else(|| bad("id"))?,
                tenant_id: text("tenantId").ok_or_else(|| bad("tenantId"))?,
                revision: obj
                    .get("revision")
                    .and_then(Json::as_i64)
                    .ok_or_else(|| bad("revision"))?,
                created_at: time("createdAt").ok_or_else(|| bad("createdAt"))?,
                updated_at: time("updatedAt").ok_or_else(|| bad("updatedAt"))?,
                deleted_at: time("deletedAt"),
            },
            record,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_ref_names_a_kind_and_parents_come_first() {
        for (i, k) in KINDS.iter().enumerate() {
            for (_, target) in k.local_refs() {
                let j = KINDS.iter().position(|t| t.name == target.name).unwrap();
                assert!(j < i, "{} refers to {} which comes later", k.name, target.name);
            }
            for f in k.fields {
                if let FieldType::Ref(t) = f.ty {
                    assert!(kind(t).is_some(), "{}.{} -> {t}", k.name, f.json);
                }
            }
            for col in k.natural_key.iter().chain(k.lookups) {
                assert!(k.field_by_column(col).is_some(), "{}: {col}", k.name);
            }
        }
    }

    #[test]
    fn macs_are_normalised() {
        assert_eq!(normalize_mac("AA-BB-CC-00-11-22").unwrap(), "aa:bb:cc:00:11:22");
        assert_eq!(normalize_mac("aabb.cc00.1122").unwrap(), "aa:bb:cc:00:11:22");
        for bad in ["", "aa:bb", "zz:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff:00"] {
            assert!(normalize_mac(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_reports_every_field_and_applies_defaults() {
        let schools = kind("schools").unwrap();
        let err = validate(
            schools,
            json!({"sex": "other", "latitude": 91, "colour": "red"})
                .as_object()
                .unwrap(),
            None,
        )
        .unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["colour", "name", "countyId", "sex", "latitude"]);

        let ok = validate(
            schools,
            json!({"name": " Moi Girls ", "countyId": "county_01J0000000000000000000000A"})
                .as_object()
                .unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(ok["name"], FieldValue::Text("Moi Girls".into()));
        assert_eq!(ok["active"], FieldValue::Bool(true));
        assert_eq!(ok["school_type"], FieldValue::Text("public".into()));
        assert_eq!(ok["latitude"], FieldValue::Float(None));
    }

    #[test]
    fn partial_update_keeps_other_fields() {
        let parts = kind("parts").unwrap();
        let cur = validate(parts, json!({"puk": "P1", "name": "Screen"}).as_object().unwrap(), None).unwrap();
        let next = validate(parts, json!({"name": "Screen 14\""}).as_object().unwrap(), Some(&cur)).unwrap();
        assert_eq!(next["puk"], FieldValue::Text("P1".into()));
        assert_eq!(next["name"], FieldValue::Text("Screen 14\"".into()));
        assert!(validate(parts, json!({"name": ""}).as_object().unwrap(), Some(&cur)).is_err());
    }
}
