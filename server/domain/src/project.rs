//! Rollout projects at a school, their phases, phase checklists and the
//! gate a phase must pass to be done.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Id;

string_enum!(
    ProjectType {
        FullInstallation = "full_installation",
        DeviceRefresh = "device_refresh",
        Support = "support",
        Repair = "repair",
        Training = "training",
    }
);

string_enum!(
    PhaseType {
        Demo = "demo",
        Survey = "survey",
        Procurement = "procurement",
        Install = "install",
        Integrate = "integrate",
        Commission = "commission",
        Ops = "ops",
        Training = "training",
        Support = "support",
        Repair = "repair",
    }
);

string_enum!(
    PhaseStatus { Pending = "pending", InProgress = "in_progress", Blocked = "blocked", Done = "done" }
);

string_enum!(
    OwnerRole { Sales = "sales", Engineer = "engineer", LeadTech = "lead_tech", Admin = "admin" }
);

impl ProjectType {
    /// The phases a project of this type goes through, in order.
    pub fn phases(self) -> &'static [PhaseType] {
        use PhaseType::*;
        match self {
            ProjectType::FullInstallation => &[Demo, Survey, Procurement, Install, Integrate, Commission, Ops],
            ProjectType::DeviceRefresh => &[Survey, Procurement, Install, Commission],
            ProjectType::Support => &[Support],
            ProjectType::Repair => &[Repair],
            ProjectType::Training => &[Training],
        }
    }
}

impl PhaseStatus {
    pub fn allowed_next(self) -> &'static [PhaseStatus] {
        use PhaseStatus::*;
        match self {
            Pending => &[InProgress, Blocked],
            InProgress => &[Blocked, Done],
            Blocked => &[InProgress],
            Done => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    #[schema(value_type = String, pattern = "^proj_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub id: Id,
    pub tenant_id: String,
    pub school_id: String,
    pub project_type: ProjectType,
    pub status: String,
    pub current_phase: PhaseType,
    pub notes: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Phase {
    #[schema(value_type = String, pattern = "^phase_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub id: Id,
    pub tenant_id: String,
    pub school_id: String,
    #[schema(pattern = "^proj_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub project_id: String,
    pub phase_type: PhaseType,
    pub status: PhaseStatus,
    pub owner_role: OwnerRole,
    pub notes: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

string_enum!(
    SurveyStatus { Draft = "draft", Submitted = "submitted", Approved = "approved" }
);

string_enum!(
    RoomType { Classroom = "classroom", Lab = "lab", Office = "office", ServerRoom = "server_room", Store = "store", Other = "other" }
);

string_enum!(
    BoqCategory {
        Cabling = "cabling",
        Switches = "switches",
        Racks = "racks",
        Power = "power",
        Labor = "labor",
        Devices = "devices",
        Other = "other",
    }
);

impl SurveyStatus {
    pub fn allowed_next(self) -> &'static [SurveyStatus] {
        match self {
            SurveyStatus::Draft => &[SurveyStatus::Submitted],
            SurveyStatus::Submitted => &[SurveyStatus::Approved, SurveyStatus::Draft],
            SurveyStatus::Approved => &[],
        }
    }
}

/// A site survey of a project, with the rooms walked and photos taken.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Survey {
    #[schema(value_type = String, pattern = "^survey_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub id: Id,
    pub tenant_id: String,
    pub school_id: String,
    #[schema(pattern = "^proj_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub project_id: String,
    pub status: SurveyStatus,
    pub conducted_by: String,
    pub summary: String,
    pub risks: String,
    pub rooms: Vec<SurveyRoom>,
    pub photos: Vec<SurveyPhoto>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SurveyRoom {
    #[schema(value_type = String, pattern = "^room_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub id: Id,
    #[schema(pattern = "^survey_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub survey_id: String,
    pub name: String,
    pub room_type: RoomType,
    pub floor: String,
    pub power_notes: String,
    pub network_notes: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SurveyPhoto {
    #[schema(value_type = String, pattern = "^photo_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub id: Id,
    #[schema(pattern = "^survey_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub survey_id: String,
    #[schema(pattern = "^(room_[0-9A-HJKMNP-TV-Z]{26})?$")]
    pub room_id: String,
    #[schema(pattern = "^att_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub attachment_id: String,
    pub caption: String,
    pub created_at: DateTime<Utc>,
}

/// A bill-of-quantities line of a project.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BoqItem {
    #[schema(value_type = String, pattern = "^boq_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub id: Id,
    pub tenant_id: String,
    pub school_id: String,
    #[schema(pattern = "^proj_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub project_id: String,
    pub category: BoqCategory,
    pub description: String,
    #[schema(pattern = "^(part_[0-9A-HJKMNP-TV-Z]{26})?$")]
    pub part_id: String,
    pub qty: i64,
    pub unit: String,
    pub estimated_cost_cents: i64,
    pub approved: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChecklistTemplate {
    #[schema(value_type = String, pattern = "^ckt_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub id: Id,
    pub tenant_id: String,
    pub phase_type: PhaseType,
    pub title: String,
    pub required: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChecklistItem {
    #[schema(value_type = String, pattern = "^cki_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub id: Id,
    pub tenant_id: String,
    #[schema(pattern = "^phase_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub phase_id: String,
    pub title: String,
    pub required: bool,
    pub done: bool,
    pub done_by: String,
    pub done_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What still blocks a phase from being done, counted by the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateCounts {
    pub work_orders_not_completed: i64,
    pub approvals_pending: i64,
    pub deliverables_not_approved: i64,
    pub required_items_open: i64,
}

impl GateCounts {
    /// Human-readable blockers; empty when the gate is open.
    pub fn blockers(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut add = |n: i64, what: &str| {
            if n > 0 {
                out.push(format!("{n} {what}"));
            }
        };
        add(
            self.work_orders_not_completed,
            "work order(s) not completed or approved",
        );
        add(self.approvals_pending, "work order approval(s) pending or rejected");
        add(self.deliverables_not_approved, "deliverable(s) not approved");
        add(self.required_items_open, "required checklist item(s) not done");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_transitions_and_gate_messages() {
        assert!(PhaseStatus::Pending.allowed_next().contains(&PhaseStatus::InProgress));
        assert!(!PhaseStatus::Pending.allowed_next().contains(&PhaseStatus::Done));
        assert!(PhaseStatus::Done.allowed_next().is_empty());
        assert_eq!(ProjectType::FullInstallation.phases()[0], PhaseType::Demo);
        let g = GateCounts {
            work_orders_not_completed: 2,
            required_items_open: 1,
            ..Default::default()
        };
        assert_eq!(
            g.blockers(),
            vec![
                "2 work order(s) not completed or approved",
                "1 required checklist item(s) not done"
            ]
        );
        assert!(GateCounts::default().blockers().is_empty());
    }
}
