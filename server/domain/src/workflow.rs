//! What happens around a work order: visit schedules, deliverables with
//! evidence and review, and sign-off approvals.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Id;

string_enum!(
    /// A deliverable's review cycle; a rejected one may be resubmitted.
    DeliverableStatus { Pending = "pending", Submitted = "submitted", Approved = "approved", Rejected = "rejected" }
);

string_enum!(
    /// An approval is decided once.
    ApprovalDecision { Pending = "pending", Approved = "approved", Rejected = "rejected" }
);

string_enum!(
    /// Who signs off.
    ApprovalType { SchoolSignoff = "school_signoff", Technical = "technical", Financial = "financial" }
);

/// A visit slot; append-only.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub id: Id,
    pub tenant_id: String,
    pub school_id: String,
    pub work_order_id: String,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    pub timezone: String,
    pub notes: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deliverable {
    pub id: Id,
    pub tenant_id: String,
    pub school_id: String,
    pub work_order_id: String,
    pub phase_id: String,
    pub title: String,
    pub description: String,
    pub status: DeliverableStatus,
    pub evidence_attachment_id: String,
    pub submitted_by: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub submission_notes: String,
    pub reviewed_by: String,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub review_notes: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub id: Id,
    pub tenant_id: String,
    pub school_id: String,
    pub work_order_id: String,
    pub approval_type: ApprovalType,
    pub status: ApprovalDecision,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub decided_by: String,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_notes: String,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    #[error("the visit must not end before it starts")]
    EndBeforeStart,
    #[error("a {0} deliverable cannot be submitted (only pending or rejected ones)")]
    NotSubmittable(DeliverableStatus),
    #[error("a {0} deliverable cannot be reviewed (only submitted ones)")]
    NotReviewable(DeliverableStatus),
    #[error("this approval was already decided ({0})")]
    AlreadyDecided(ApprovalDecision),
    #[error("a decision is approved or rejected")]
    NotADecision,
}

/// IANA zone names (`Africa/Nairobi`, `UTC`): letters, digits, `/_+-`.
pub fn parse_timezone(raw: &str) -> Result<String, String> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '-'))
        && (raw == "UTC" || raw.contains('/'));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err("must be an IANA time zone such as Africa/Nairobi".into())
    }
}

/// A visit may not end before it starts (end ≥ start; a zero-length slot
/// marks a point in time, e.g. a drop-off).
pub fn check_slot(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), WorkflowError> {
    if end >= start {
        Ok(())
    } else {
        Err(WorkflowError::EndBeforeStart)
    }
}

/// Submits (or resubmits after rejection) with evidence.
pub fn submit(
    d: &Deliverable,
    evidence: String,
    notes: String,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Deliverable, WorkflowError> {
    if !matches!(d.status, DeliverableStatus::Pending | DeliverableStatus::Rejected) {
        return Err(WorkflowError::NotSubmittable(d.status));
    }
    let mut next = d.clone();
    next.status = DeliverableStatus::Submitted;
    next.evidence_attachment_id = evidence;
    next.submission_notes = notes;
    next.submitted_by = actor.to_owned();
    next.submitted_at = Some(now);
    next.updated_at = now;
    Ok(next)
}

/// Reviews a submitted deliverable.
pub fn review(
    d: &Deliverable,
    decision: DeliverableStatus,
    notes: String,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Deliverable, WorkflowError> {
    if !matches!(decision, DeliverableStatus::Approved | DeliverableStatus::Rejected) {
        return Err(WorkflowError::NotADecision);
    }
    if d.status != DeliverableStatus::Submitted {
        return Err(WorkflowError::NotReviewable(d.status));
    }
    let mut next = d.clone();
    next.status = decision;
    next.review_notes = notes;
    next.reviewed_by = actor.to_owned();
    next.reviewed_at = Some(now);
    next.updated_at = now;
    Ok(next)
}

/// Decides a pending approval, once.
pub fn decide(
    a: &Approval,
    decision: ApprovalDecision,
    notes: String,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Approval, WorkflowError> {
    if decision == ApprovalDecision::Pending {
        return Err(WorkflowError::NotADecision);
    }
    if a.status != ApprovalDecision::Pending {
        return Err(WorkflowError::AlreadyDecided(a.status));
    }
    let mut next = a.clone();
    next.status = decision;
    next.decided_by = actor.to_owned();
    next.decided_at = Some(now);
    next.decision_notes = notes;
    Ok(next)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use DeliverableStatus::*;

    fn deliverable(status: DeliverableStatus) -> Deliverable {
        let now = Utc::now();
        Deliverable {
            id: Id::new("deliv"),
            tenant_id: "t".into(),
            school_id: "s".into(),
            work_order_id: "wo_1".into(),
            phase_id: String::new(),
            title: "Photos".into(),
            description: "Before and after".into(),
            status,
            evidence_attachment_id: String::new(),
            submitted_by: String::new(),
            submitted_at: None,
            submission_notes: String::new(),
            reviewed_by: String::new(),
            reviewed_at: None,
            review_notes: String::new(),
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn deliverable_cycle() {
        let now = Utc::now();
        for (from, ok) in [(Pending, true), (Rejected, true), (Submitted, false), (Approved, false)] {
            assert_eq!(
                submit(&deliverable(from), "att_1".into(), "n".into(), "u", now).is_ok(),
                ok,
                "submit {from}"
            );
        }
        let submitted = submit(&deliverable(Pending), "att_1".into(), "notes".into(), "tech", now).unwrap();
        assert_eq!(
            submitted.description, "Before and after",
            "submission notes never overwrite the description"
        );
        for (from, ok) in [
            (Submitted, true),
            (Pending, false),
            (Approved, false),
            (Rejected, false),
        ] {
            assert_eq!(
                review(&deliverable(from), Approved, String::new(), "r", now).is_ok(),
                ok,
                "review {from}"
            );
        }
        assert_eq!(
            review(&submitted, Pending, String::new(), "r", now),
            Err(WorkflowError::NotADecision)
        );
    }

    #[test]
    fn approvals_are_decided_once() {
        let now = Utc::now();
        let a = Approval {
            id: Id::new("appr"),
            tenant_id: "t".into(),
            school_id: "s".into(),
            work_order_id: "wo".into(),
            approval_type: ApprovalType::SchoolSignoff,
            status: ApprovalDecision::Pending,
            requested_by: "u".into(),
            requested_at: now,
            decided_by: String::new(),
            decided_at: None,
            decision_notes: String::new(),
            version: 1,
        };
        let done = decide(&a, ApprovalDecision::Approved, String::new(), "head", now).unwrap();
        assert_eq!(
            decide(&done, ApprovalDecision::Rejected, String::new(), "x", now),
            Err(WorkflowError::AlreadyDecided(ApprovalDecision::Approved))
        );
        assert_eq!(
            decide(&a, ApprovalDecision::Pending, String::new(), "x", now),
            Err(WorkflowError::NotADecision)
        );
    }

    #[test]
    fn slots_and_zones() {
        let t = Utc::now();
        assert!(check_slot(t, t + chrono::Duration::hours(1)).is_ok());
        assert!(check_slot(t, t).is_ok());
        assert_eq!(
            check_slot(t, t - chrono::Duration::seconds(1)),
            Err(WorkflowError::EndBeforeStart)
        );
        assert!(parse_timezone("Africa/Nairobi").is_ok());
        assert!(parse_timezone("UTC").is_ok());
        assert!(parse_timezone("Nairobi time").is_err());
    }
}
