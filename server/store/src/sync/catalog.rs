//! The catalog of tables replicated between an edge node and central: which
//! tables, which columns (in the schema's order, with their types), and how
//! each table's rows merge when both sides wrote them.
//!
//! The migrations are the truth; `server/testkit/tests/migrations.rs`
//! (`replicated_tables_match_the_catalog`) fails when a replicated table
//! gains or loses a column without this file following.

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
    /// Rows belong to the whole tenant (no `school_id`): every edge of the
    /// tenant holds them all.
    pub tenant_wide: bool,
    /// Rows name a blob by this column (attachments). Such a table has a
    /// local `status`: a row replicates once `available` (its blob is
    /// here), and a copy stays `pending`, hidden, until its blob arrives.
    pub blob_key: Option<&'static str>,
}

impl Table {
    /// The school a row of this table belongs to (`""` for tenant-wide rows).
    pub fn school_of<'a>(&self, fields: &'a essp_sync_proto::envelope::Fields) -> &'a str {
        if self.tenant_wide {
            return "";
        }
        fields.get("school_id").and_then(|v| v.as_str()).unwrap_or_default()
    }

    /// The replicated column called `name` (local-only columns are not found).
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The replicated table called `name`.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// The optimistic-lock counter is each side's own: a merge that changes a
/// row bumps it locally, so a client holding the pre-merge version gets a
/// 409 instead of overwriting what the merge brought in.
const VERSIONED: &[&str] = &["version"];

const fn col(name: &'static str, ty: SqlType) -> Column {
    Column { name, ty }
}

use SqlType::{Bool, I64, Json, Text, Timestamp};

/// Every replicated table, parents before children.
pub const TABLES: &[Table] = &[
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
        tenant_wide: true,
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
        tenant_wide: true,
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
        tenant_wide: true,
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
        tenant_wide: false,
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
        tenant_wide: false,
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
        tenant_wide: false,
        blob_key: Some("object_key"),
    },
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
        tenant_wide: false,
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
        tenant_wide: false,
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
        tenant_wide: false,
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
        tenant_wide: false,
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
        tenant_wide: false,
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
        tenant_wide: false,
        blob_key: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_starts_with_its_text_id_and_is_scoped() {
        for t in TABLES {
            assert_eq!(
                t.columns.first().map(|c| (c.name, c.ty)),
                Some(("id", Text)),
                "{}",
                t.name
            );
            assert_eq!(t.column("tenant_id").map(|c| c.ty), Some(Text), "{}", t.name);
            // A school's rows name their school; tenant-wide rows have none.
            let school = t.column("school_id").map(|c| c.ty);
            assert_eq!(school, (!t.tenant_wide).then_some(Text), "{}", t.name);
            assert_eq!(t.tenant_wide, t.class == Class::CentralOwned, "{}", t.name);
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
