//! Work orders: the repair job for a device, routed to a shop and a
//! technician, moving forward through repair and QA to approval, and back
//! through rework when quality fails.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Id;

string_enum!(
    /// Lifecycle of a work order.
    WorkOrderStatus {
        Draft = "draft",
        Assigned = "assigned",
        InRepair = "in_repair",
        Qa = "qa",
        Completed = "completed",
        Approved = "approved",
    }
);

string_enum!(
    /// Why a work order went back (rework history).
    ReworkCategory {
        Quality = "quality",
        Incomplete = "incomplete",
        WrongParts = "wrong_parts",
        Safety = "safety",
        Other = "other",
    }
);

string_enum!(
    /// Sign-off state, separate from the status (phase gates read it).
    ApprovalStatus {
        NotRequired = "not_required",
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
    }
);

impl WorkOrderStatus {
    /// Forward moves (`PATCH …/status`). QA may be skipped.
    pub fn forward(self) -> &'static [WorkOrderStatus] {
        use WorkOrderStatus::*;
        match self {
            Draft => &[Assigned],
            Assigned => &[InRepair],
            InRepair => &[Qa, Completed],
            Qa => &[Completed],
            Completed => &[Approved],
            Approved => &[],
        }
    }

    /// Forward moves allowed in bulk: no QA skip (a batch never bypasses QA).
    pub fn bulk_forward(self) -> &'static [WorkOrderStatus] {
        use WorkOrderStatus::*;
        match self {
            InRepair => &[Qa],
            other => other.forward(),
        }
    }

    /// Backward moves (`POST …/reject`), each counted as rework.
    pub fn rework_targets(self) -> &'static [WorkOrderStatus] {
        use WorkOrderStatus::*;
        match self {
            Draft => &[],
            Assigned => &[Draft],
            InRepair => &[Assigned, Draft],
            Qa => &[InRepair, Assigned],
            Completed => &[Qa, InRepair],
            Approved => &[Completed],
        }
    }

    /// Still needs work (counts as "open" for its incident).
    pub fn is_open(self) -> bool {
        self != WorkOrderStatus::Approved
    }
}

/// A work order as stored and returned by the API.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkOrder {
    pub id: Id,
    pub tenant_id: String,
    pub school_id: String,
    /// The incident it repairs; empty for a work order opened on its own.
    pub incident_id: String,
    pub device_id: String,
    pub status: WorkOrderStatus,
    /// The shop doing the repair; empty when unset (as are the other references).
    pub service_shop_id: String,
    pub assigned_staff_id: String,
    pub assigned_to: String,
    /// `service_shop`, `on_site` or the deployment's depot.
    pub repair_location: String,
    pub task_type: String,
    pub cost_estimate_cents: i64,
    pub notes: String,
    pub project_id: String,
    pub phase_id: String,
    pub onsite_contact_id: String,
    pub approval_status: ApprovalStatus,
    pub rework_count: i64,
    pub last_rework_at: Option<DateTime<Utc>>,
    pub last_rework_reason: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version, bumped by every change (ETag).
    pub version: i64,
    /// SSOT names (school, contact, device) as they were at creation.
    #[serde(flatten)]
    pub context: crate::context::SsotContext,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkOrderError {
    #[error("cannot move a work order from {from} to {to}; allowed: {allowed}")]
    NotAllowed {
        from: WorkOrderStatus,
        to: WorkOrderStatus,
        allowed: String,
    },
    #[error("work order has been reworked {count} times, the maximum is {max}")]
    ReworkLimit { count: i64, max: i64 },
    #[error("a reason is required to send a work order back")]
    ReasonRequired,
}

fn allowed(list: &[WorkOrderStatus]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// Checks a forward move (single or bulk).
pub fn check_forward(from: WorkOrderStatus, to: WorkOrderStatus, bulk: bool) -> Result<(), WorkOrderError> {
    let options = if bulk { from.bulk_forward() } else { from.forward() };
    if options.contains(&to) {
        Ok(())
    } else {
        Err(WorkOrderError::NotAllowed {
            from,
            to,
            allowed: allowed(options),
        })
    }
}

/// Checks a rework move: a back-edge, a reason, and the rework limit.
pub fn check_rework(wo: &WorkOrder, to: WorkOrderStatus, reason: &str, max_rework: i64) -> Result<(), WorkOrderError> {
    let options = wo.status.rework_targets();
    if !options.contains(&to) {
        return Err(WorkOrderError::NotAllowed {
            from: wo.status,
            to,
            allowed: allowed(options),
        });
    }
    if reason.trim().is_empty() {
        return Err(WorkOrderError::ReasonRequired);
    }
    if wo.rework_count >= max_rework {
        return Err(WorkOrderError::ReworkLimit {
            count: wo.rework_count,
            max: max_rework,
        });
    }
    Ok(())
}

/// Repair locations: a shop, the school itself, or the deployment's depot
/// (`DEFAULT_REPAIR_LOCATION`, e.g. `central-depot`).
pub fn parse_repair_location(raw: &str, depot: &str) -> Result<String, String> {
    if raw == "service_shop" || raw == "on_site" || raw == depot {
        Ok(raw.to_owned())
    } else {
        Err(format!("must be service_shop, on_site or {depot}"))
    }
}

/// Task types are short slugs (`triage`, `screen_replacement`, …).
pub fn parse_task_type(raw: &str) -> Result<String, String> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err("must be 1-64 characters of a-z, 0-9, '_' or '-'".into())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::WorkOrderStatus::*;
    use super::*;

    #[test]
    fn forward_table() {
        let ok = [
            (Draft, Assigned),
            (Assigned, InRepair),
            (InRepair, Qa),
            (InRepair, Completed),
            (Qa, Completed),
            (Completed, Approved),
        ];
        for &from in WorkOrderStatus::ALL {
            for &to in WorkOrderStatus::ALL {
                assert_eq!(
                    check_forward(from, to, false).is_ok(),
                    ok.contains(&(from, to)),
                    "{from}->{to}"
                );
                let bulk_ok = ok.contains(&(from, to)) && (from, to) != (InRepair, Completed);
                assert_eq!(check_forward(from, to, true).is_ok(), bulk_ok, "bulk {from}->{to}");
            }
        }
    }

    fn wo(status: WorkOrderStatus, rework_count: i64) -> WorkOrder {
        let now = Utc::now();
        WorkOrder {
            id: Id::new("wo"),
            tenant_id: "t".into(),
            school_id: "s".into(),
            incident_id: String::new(),
            device_id: "d".into(),
            status,
            service_shop_id: String::new(),
            assigned_staff_id: String::new(),
            assigned_to: String::new(),
            repair_location: "service_shop".into(),
            task_type: "triage".into(),
            cost_estimate_cents: 0,
            notes: String::new(),
            project_id: String::new(),
            phase_id: String::new(),
            onsite_contact_id: String::new(),
            approval_status: ApprovalStatus::NotRequired,
            rework_count,
            last_rework_at: None,
            last_rework_reason: String::new(),
            created_by: "u".into(),
            created_at: now,
            updated_at: now,
            version: 1,
            context: Default::default(),
        }
    }

    #[test]
    fn rework_table_reason_and_limit() {
        let back = [
            (Assigned, Draft),
            (InRepair, Assigned),
            (InRepair, Draft),
            (Qa, InRepair),
            (Qa, Assigned),
            (Completed, Qa),
            (Completed, InRepair),
            (Approved, Completed),
        ];
        for &from in WorkOrderStatus::ALL {
            for &to in WorkOrderStatus::ALL {
                assert_eq!(
                    check_rework(&wo(from, 0), to, "r", 5).is_ok(),
                    back.contains(&(from, to)),
                    "{from}->{to}"
                );
            }
        }
        assert_eq!(
            check_rework(&wo(Qa, 0), InRepair, " ", 5),
            Err(WorkOrderError::ReasonRequired)
        );
        assert_eq!(
            check_rework(&wo(Qa, 5), InRepair, "again", 5),
            Err(WorkOrderError::ReworkLimit { count: 5, max: 5 })
        );
    }

    #[test]
    fn repair_locations_and_task_types() {
        assert!(parse_repair_location("central-depot", "central-depot").is_ok());
        assert!(parse_repair_location("on_site", "service_shop").is_ok());
        assert!(
            parse_repair_location("moon", "central-depot")
                .unwrap_err()
                .contains("central-depot")
        );
        assert!(parse_task_type("screen_replacement").is_ok());
        assert!(parse_task_type("Screen Replacement").is_err());
    }
}
