//! The catalog of tables replicated between an edge node and central: which
//! tables, which columns (in the schema's order, with their types), and how
//! each table's rows merge when both sides wrote them.
//!
//! The migrations are the truth; `server/testkit/tests/migrations.rs`
//! (`replicated_tables_match_the_catalog`) fails when a replicated table
//! gains or loses a column without this file following.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::value::SqlType;

/// How a table's rows merge when both sides wrote them (SYNC.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Per-field last-writer-wins by HLC; status merges by the state machine.
    Shared,
    /// Insert-if-absent; rows never change after insert.
    AppendOnly,
    /// Written only centrally and sent down (shops, staff, stock); an edge's copy
    /// follows central's, deletions included, and central refuses any
    /// change of it from an edge.
    CentralOwned,
}

/// One replicated column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: SqlType,
}

/// One replicated table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub class: Class,
    /// Every replicated column, `id` (TEXT primary key) first, in the schema's order.
    pub columns: &'static [Column],
    /// Columns that exist in the table but are never replicated (each side
    /// computes its own), e.g. the audit chain's seq, prev_hash, hash.
    pub local_only: &'static [&'static str],
    /// The column holding the status that merges by the state machine
    /// (Shared tables with a status), else None.
    pub status_column: Option<&'static str>,
    /// The column naming the school a row belongs to (`school_id`; a
    /// school's own SSOT row names itself by `id`). `None`: rows belong to
    /// the whole tenant, and every edge of the tenant holds them all.
    pub school_column: Option<&'static str>,
    /// The primary key is `(tenant_id, id)` (SSOT snapshots: ids come from
    /// the SSOT services and are unique only within a tenant); otherwise
    /// `id` alone. Rows are always addressed by tenant and id.
    pub tenant_keyed: bool,
    /// Rows name a blob by this column (attachments). Such a table has a
    /// local `status`: a row replicates once `available` (its blob is
    /// here), and a copy stays `pending`, hidden, until its blob arrives.
    pub blob_key: Option<&'static str>,
}

impl Table {
    /// The school a row of this table belongs to (`""` for tenant-wide rows).
    pub fn school_of<'a>(&self, fields: &'a essp_sync_proto::envelope::Fields) -> &'a str {
        let Some(column) = self.school_column else {
            return "";
        };
        fields.get(column).and_then(|v| v.as_str()).unwrap_or_default()
    }

    /// Rows belong to the whole tenant: every edge of the tenant holds them all.
    pub fn tenant_wide(&self) -> bool {
        self.school_column.is_none()
    }

    /// The columns of the primary key (an upsert's conflict target).
    pub fn key_columns(&self) -> &'static str {
        if self.tenant_keyed { "tenant_id, id" } else { "id" }
    }

    /// The replicated column called `name` (local-only columns are not found).
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The replicated table called `name`.
pub fn table(name: &str) -> Option<&'static Table> {
    // Looked up for every incoming change (a catch-up brings millions).
    static BY_NAME: LazyLock<HashMap<&'static str, &'static Table>> =
        LazyLock::new(|| TABLES.iter().map(|t| (t.name, t)).collect());
    BY_NAME.get(name).copied()
}

/// Every replicated table, parents before children: central's own
/// tenant-wide tables, then IMS's SSOT snapshots, then the school's
/// records (a school's projects among them).
pub static TABLES: LazyLock<Vec<Table>> = LazyLock::new(|| {
    let (central, school) = OWN.split_at(OWN.iter().take_while(|t| t.class == Class::CentralOwned).count());
    central
        .iter()
        .copied()
        .chain(ssot_snapshots())
        .chain(school.iter().copied())
        .collect()
});

/// The SSOT snapshots an edge holds (written only centrally, from SSOT
/// events and reconcile) and which school each row belongs to.
/// Catalogues (counties, models, parts, …) go to every edge of the tenant.
/// A school gets only its own row of `schools` (its IMS reads no other
/// school's: names, codes and places of other schools are theirs, and the
/// county and sub-county names it routes by are catalogues) and its own
/// contacts and devices.
const SSOT_SCOPES: &[(&str, Option<&str>)] = &[
    ("counties", None),
    ("sub_counties", None),
    ("schools", Some("id")),
    ("school_contacts", Some("school_id")),
    ("device_models", None),
    ("devices", Some("school_id")),
    ("parts", None),
    ("part_compatibility", None),
    ("vendor_skus", None),
];

/// SSOT kinds whose snapshots stay central: IMS reads no MAC address from
/// its snapshot (only the devices SSOT's own API serves them), and a MAC
/// row names no school (only its device does), so scoping it would take a
/// join and moving it with its device; tenant-wide, it would hand every
/// school the addresses of every other school's machines.
pub const SSOT_NOT_REPLICATED: &[&str] = &["network_identities"];

/// The catalog entries of the replicated SSOT snapshots, from the SSOT
/// kinds' descriptions (a field added there replicates with no edit here).
fn ssot_snapshots() -> impl Iterator<Item = Table> {
    use essp_domain::ssot::{FieldType, KINDS};
    KINDS.iter().filter_map(|kind| {
        let (_, school_column) = SSOT_SCOPES.iter().find(|(name, _)| *name == kind.name)?;
        let mut columns = vec![col("id", Text), col("tenant_id", Text)];
        columns.extend(kind.fields.iter().map(|f| {
            col(
                f.column,
                match f.ty {
                    FieldType::Bool => Bool,
                    FieldType::Int(..) => I64,
                    FieldType::Float(..) => SqlType::F64,
                    FieldType::Text(_)
                    | FieldType::Enum(_)
                    | FieldType::Ref(_)
                    | FieldType::Mac
                    | FieldType::Email
                    | FieldType::Phone
                    | FieldType::JsonText => Text,
                },
            )
        }));
        columns.extend([
            col("revision", I64),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
            col("deleted_at", Timestamp),
        ]);
        Some(Table {
            name: kind.snapshot,
            class: Class::CentralOwned,
            // Built once per process (the catalog is a static).
            columns: Box::leak(columns.into_boxed_slice()),
            local_only: &[],
            status_column: None,
            school_column: *school_column,
            tenant_keyed: true,
            blob_key: None,
        })
    })
}

/// Columns that hold JSON as text, kept exactly as written (the audit chain
/// hashes the stored text): a change must carry JSON text or null there.
/// Anything else would be stored, and then every read of the row (the
/// audit list, the sealer of the whole tenant's chain) would fail on it.
pub const JSON_TEXT: &[(&str, &str)] = &[("audit_logs", "before_state"), ("audit_logs", "after_state")];

/// The optimistic-lock counter is each side's own: a merge that changes a
/// row bumps it locally, so a client holding the pre-merge version gets a
/// 409 instead of overwriting what the merge brought in.
const VERSIONED: &[&str] = &["version"];

const fn col(name: &'static str, ty: SqlType) -> Column {
    Column { name, ty }
}

use SqlType::{Bool, I64, Json, Text, Timestamp};

/// A central-owned table whose rows belong to the school in `school_id`.
const fn central_of_school(
    name: &'static str,
    columns: &'static [Column],
    local_only: &'static [&'static str],
) -> Table {
    Table {
        name,
        class: Class::CentralOwned,
        columns,
        local_only,
        status_column: None,
        school_column: Some("school_id"),
        tenant_keyed: false,
        blob_key: None,
    }
}

/// The replicated tables of ESSP's own schema (see [`TABLES`]).
const OWN: &[Table] = &[
    Table {
        name: "service_shops",
        class: Class::CentralOwned,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("name", Text),
            col("location", Text),
            col("county_code", Text),
            col("county_name", Text),
            col("sub_county_code", Text),
            col("sub_county_name", Text),
            col("coverage_level", Text),
            col("active", Bool),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
        ],
        local_only: VERSIONED,
        status_column: None,
        school_column: None,
        tenant_keyed: false,
        blob_key: None,
    },
    Table {
        name: "service_staff",
        class: Class::CentralOwned,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("service_shop_id", Text),
            col("user_id", Text),
            col("role", Text),
            col("phone", Text),
            col("active", Bool),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
        ],
        local_only: VERSIONED,
        status_column: None,
        school_column: None,
        tenant_keyed: false,
        blob_key: None,
    },
    Table {
        name: "inventory",
        class: Class::CentralOwned,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("service_shop_id", Text),
            col("part_id", Text),
            col("qty_available", I64),
            col("qty_reserved", I64),
            col("reorder_threshold", I64),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
        ],
        local_only: VERSIONED,
        status_column: None,
        school_column: None,
        tenant_keyed: false,
        blob_key: None,
    },
    Table {
        name: "incidents",
        class: Class::Shared,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("school_id", Text),
            col("device_id", Text),
            col("category", Text),
            col("severity", Text),
            col("status", Text),
            col("title", Text),
            col("description", Text),
            col("reported_by", Text),
            col("sla_due_at", Timestamp),
            col("sla_breached", Bool),
            col("breached_at", Timestamp),
            col("acknowledged_at", Timestamp),
            col("resolved_at", Timestamp),
            col("closed_at", Timestamp),
            col("status_reason", Text),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
            col("context", Json),
        ],
        local_only: VERSIONED,
        status_column: Some("status"),
        school_column: Some("school_id"),
        tenant_keyed: false,
        blob_key: None,
    },
    Table {
        name: "work_orders",
        class: Class::Shared,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("school_id", Text),
            col("incident_id", Text),
            col("device_id", Text),
            col("status", Text),
            col("service_shop_id", Text),
            col("assigned_staff_id", Text),
            col("assigned_to", Text),
            col("repair_location", Text),
            col("task_type", Text),
            col("cost_estimate_cents", I64),
            col("notes", Text),
            col("project_id", Text),
            col("phase_id", Text),
            col("onsite_contact_id", Text),
            col("approval_status", Text),
            col("rework_count", I64),
            col("last_rework_at", Timestamp),
            col("last_rework_reason", Text),
            col("created_by", Text),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
            col("context", Json),
        ],
        local_only: VERSIONED,
        status_column: Some("status"),
        school_column: Some("school_id"),
        tenant_keyed: false,
        blob_key: None,
    },
    Table {
        name: "attachments",
        class: Class::Shared,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("school_id", Text),
            col("entity_type", Text),
            col("entity_id", Text),
            col("file_name", Text),
            col("content_type", Text),
            col("size_bytes", I64),
            col("sha256", Text),
            col("object_key", Text),
            col("uploaded_by", Text),
            col("created_at", Timestamp),
        ],
        local_only: &["status"],
        status_column: None,
        school_column: Some("school_id"),
        tenant_keyed: false,
        blob_key: Some("object_key"),
    },
    // A school's projects and what hangs off them: written only centrally
    // (docs/sync.md), each row going to its school's edge. They come after
    // `attachments`, which survey photos name.
    central_of_school(
        "projects",
        &[
            col("id", Text),
            col("tenant_id", Text),
            col("school_id", Text),
            col("project_type", Text),
            col("status", Text),
            col("current_phase", Text),
            col("notes", Text),
            col("created_by", Text),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
        ],
        VERSIONED,
    ),
    central_of_school(
        "phases",
        &[
            col("id", Text),
            col("tenant_id", Text),
            col("school_id", Text),
            col("project_id", Text),
            col("phase_type", Text),
            col("status", Text),
            col("owner_role", Text),
            col("notes", Text),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
        ],
        VERSIONED,
    ),
    // The templates a phase's checklist is made from: every edge of the
    // tenant holds them all (they name no school).
    Table {
        name: "checklist_templates",
        class: Class::CentralOwned,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("phase_type", Text),
            col("title", Text),
            col("required", Bool),
            col("created_at", Timestamp),
        ],
        local_only: &[],
        status_column: None,
        school_column: None,
        tenant_keyed: false,
        blob_key: None,
    },
    central_of_school(
        "phase_checklist_items",
        &[
            col("id", Text),
            col("tenant_id", Text),
            col("phase_id", Text),
            col("title", Text),
            col("required", Bool),
            col("done", Bool),
            col("done_by", Text),
            col("done_at", Timestamp),
            col("created_at", Timestamp),
            col("school_id", Text),
        ],
        &[],
    ),
    central_of_school(
        "site_surveys",
        &[
            col("id", Text),
            col("tenant_id", Text),
            col("school_id", Text),
            col("project_id", Text),
            col("status", Text),
            col("conducted_by", Text),
            col("summary", Text),
            col("risks", Text),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
        ],
        &[],
    ),
    central_of_school(
        "survey_rooms",
        &[
            col("id", Text),
            col("survey_id", Text),
            col("name", Text),
            col("room_type", Text),
            col("floor", Text),
            col("power_notes", Text),
            col("network_notes", Text),
            col("created_at", Timestamp),
            col("tenant_id", Text),
            col("school_id", Text),
        ],
        &[],
    ),
    central_of_school(
        "survey_photos",
        &[
            col("id", Text),
            col("survey_id", Text),
            col("room_id", Text),
            col("attachment_id", Text),
            col("caption", Text),
            col("created_at", Timestamp),
            col("tenant_id", Text),
            col("school_id", Text),
        ],
        &[],
    ),
    central_of_school(
        "boq_items",
        &[
            col("id", Text),
            col("tenant_id", Text),
            col("school_id", Text),
            col("project_id", Text),
            col("category", Text),
            col("description", Text),
            col("part_id", Text),
            col("qty", I64),
            col("unit", Text),
            col("estimated_cost_cents", I64),
            col("approved", Bool),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
        ],
        &[],
    ),
    Table {
        name: "work_order_deliverables",
        class: Class::Shared,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("school_id", Text),
            col("work_order_id", Text),
            col("phase_id", Text),
            col("title", Text),
            col("description", Text),
            col("status", Text),
            col("evidence_attachment_id", Text),
            col("submitted_by", Text),
            col("submitted_at", Timestamp),
            col("submission_notes", Text),
            col("reviewed_by", Text),
            col("reviewed_at", Timestamp),
            col("review_notes", Text),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
        ],
        local_only: VERSIONED,
        status_column: Some("status"),
        school_column: Some("school_id"),
        tenant_keyed: false,
        blob_key: None,
    },
    Table {
        name: "work_order_approvals",
        class: Class::Shared,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("school_id", Text),
            col("work_order_id", Text),
            col("approval_type", Text),
            col("status", Text),
            col("requested_by", Text),
            col("requested_at", Timestamp),
            col("decided_by", Text),
            col("decided_at", Timestamp),
            col("decision_notes", Text),
        ],
        local_only: VERSIONED,
        status_column: Some("status"),
        school_column: Some("school_id"),
        tenant_keyed: false,
        blob_key: None,
    },
    Table {
        name: "work_order_parts",
        class: Class::Shared,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("school_id", Text),
            col("work_order_id", Text),
            col("service_shop_id", Text),
            col("part_id", Text),
            col("qty_planned", I64),
            col("qty_used", I64),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
        ],
        local_only: VERSIONED,
        status_column: None,
        school_column: Some("school_id"),
        tenant_keyed: false,
        blob_key: None,
    },
    Table {
        name: "work_order_schedules",
        class: Class::AppendOnly,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("school_id", Text),
            col("work_order_id", Text),
            col("scheduled_start", Timestamp),
            col("scheduled_end", Timestamp),
            col("timezone", Text),
            col("notes", Text),
            col("created_by", Text),
            col("created_at", Timestamp),
        ],
        local_only: &[],
        status_column: None,
        school_column: Some("school_id"),
        tenant_keyed: false,
        blob_key: None,
    },
    Table {
        name: "work_order_rework_history",
        class: Class::AppendOnly,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("school_id", Text),
            col("work_order_id", Text),
            col("seq", I64),
            col("from_status", Text),
            col("to_status", Text),
            col("category", Text),
            col("reason", Text),
            col("actor", Text),
            col("created_at", Timestamp),
        ],
        local_only: &[],
        status_column: None,
        school_column: Some("school_id"),
        tenant_keyed: false,
        blob_key: None,
    },
    Table {
        name: "audit_logs",
        class: Class::AppendOnly,
        columns: &[
            col("id", Text),
            col("tenant_id", Text),
            col("school_id", Text),
            col("actor", Text),
            col("action", Text),
            col("entity_type", Text),
            col("entity_id", Text),
            col("before_state", Text),
            col("after_state", Text),
            col("request_id", Text),
            col("ip_address", Text),
            col("user_agent", Text),
            col("created_at", Timestamp),
        ],
        local_only: &["seq", "prev_hash", "hash"],
        status_column: None,
        school_column: Some("school_id"),
        tenant_keyed: false,
        blob_key: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_starts_with_its_text_id_and_is_scoped() {
        for t in TABLES.iter() {
            assert_eq!(
                t.columns.first().map(|c| (c.name, c.ty)),
                Some(("id", Text)),
                "{}",
                t.name
            );
            assert_eq!(t.column("tenant_id").map(|c| c.ty), Some(Text), "{}", t.name);
            // A school's rows name their school; tenant-wide rows are
            // central's catalogues.
            if let Some(school) = t.school_column {
                assert_eq!(t.column(school).map(|c| c.ty), Some(Text), "{}", t.name);
            } else {
                assert_eq!(t.class, Class::CentralOwned, "{}", t.name);
            }
            if let Some(status) = t.status_column {
                assert_eq!(t.class, Class::Shared, "{}", t.name);
                assert!(t.column(status).is_some(), "{}.{status}", t.name);
            }
            for local in t.local_only {
                assert!(
                    t.column(local).is_none(),
                    "{}.{local} is both replicated and local",
                    t.name
                );
            }
        }
    }

    #[test]
    fn every_ssot_kind_is_decided() {
        for kind in essp_domain::ssot::KINDS {
            let replicated = SSOT_SCOPES.iter().any(|(name, _)| *name == kind.name);
            assert_ne!(
                replicated,
                SSOT_NOT_REPLICATED.contains(&kind.name),
                "{}: say whether its snapshot replicates, and to whom",
                kind.name
            );
            assert_eq!(table(kind.snapshot).is_some(), replicated, "{}", kind.snapshot);
        }
        let devices = table("devices_snapshot").map(|t| (t.tenant_keyed, t.class, t.school_column));
        assert_eq!(devices, Some((true, Class::CentralOwned, Some("school_id"))));
        assert_eq!(table("schools_snapshot").map(|t| t.school_column), Some(Some("id")));
        assert_eq!(table("parts_snapshot").map(|t| t.tenant_wide()), Some(true));
    }

    #[test]
    fn projects_and_surveys_come_down_to_their_school_and_templates_to_all() {
        for name in [
            "projects",
            "phases",
            "phase_checklist_items",
            "site_surveys",
            "survey_rooms",
            "survey_photos",
            "boq_items",
        ] {
            let t = table(name).map(|t| (t.class, t.school_column));
            assert_eq!(t, Some((Class::CentralOwned, Some("school_id"))), "{name}");
        }
        let templates = table("checklist_templates").map(|t| (t.class, t.tenant_wide()));
        assert_eq!(templates, Some((Class::CentralOwned, true)));
        let at = |name: &str| TABLES.iter().position(|t| t.name == name);
        assert!(at("attachments") < at("survey_photos"), "photos name attachments");
    }

    #[test]
    fn lookup_by_name() {
        assert_eq!(table("audit_logs").map(|t| t.class), Some(Class::AppendOnly));
        assert!(table("idempotency_keys").is_none());
        assert!(table("audit_logs").and_then(|t| t.column("hash")).is_none());
        assert_eq!(
            table("incidents").and_then(|t| t.column("context")).map(|c| c.ty),
            Some(Json)
        );
    }
}
