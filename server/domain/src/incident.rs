//! Incidents: a reported problem with one device at one school.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Id;

string_enum!(
    /// How bad the fault is; drives the SLA window.
    Severity { Low = "low", Medium = "medium", High = "high", Critical = "critical" }
);

string_enum!(
    /// Lifecycle of an incident.
    IncidentStatus {
        New = "new",
        Acknowledged = "acknowledged",
        InProgress = "in_progress",
        Escalated = "escalated",
        Resolved = "resolved",
        Closed = "closed",
    }
);

impl IncidentStatus {
    /// The transition table. Same-state moves are not transitions.
    pub fn allowed_next(self) -> &'static [IncidentStatus] {
        use IncidentStatus::*;
        match self {
            New => &[Acknowledged, Escalated],
            Acknowledged => &[InProgress, Escalated],
            InProgress => &[Resolved, Escalated],
            Escalated => &[InProgress, Resolved],
            Resolved => &[Closed, InProgress],
            Closed => &[],
        }
    }

    /// The shortest walk of allowed transitions from `self` to `to`
    /// (excluding `self`); `None` when `to` cannot be reached. Lets automatic
    /// moves (work order coupling) follow the state machine step by step.
    pub fn path_to(self, to: IncidentStatus) -> Option<Vec<IncidentStatus>> {
        let mut queue = std::collections::VecDeque::from([vec![self]]);
        let mut seen = vec![self];
        while let Some(path) = queue.pop_front() {
            let last = *path.last()?;
            if last == to && path.len() > 1 {
                return Some(path[1..].to_vec());
            }
            for &next in last.allowed_next() {
                // Automatic moves never reopen (resolved → in_progress needs a
                // person's reason) and never escalate (a person's judgement).
                let manual = (last, next) == (IncidentStatus::Resolved, IncidentStatus::InProgress)
                    || (next == IncidentStatus::Escalated && to != IncidentStatus::Escalated);
                if manual || seen.contains(&next) {
                    continue;
                }
                seen.push(next);
                let mut p = path.clone();
                p.push(next);
                queue.push_back(p);
            }
        }
        None
    }

    /// Open incidents count against the SLA.
    pub fn is_open(self) -> bool {
        !matches!(self, IncidentStatus::Resolved | IncidentStatus::Closed)
    }
}

/// Incident categories: the four the UI offers, plus `telemetry:<kind>` for
/// incidents raised by device telemetry.
pub fn parse_category(raw: &str) -> Result<String, String> {
    const FIXED: [&str; 4] = ["hardware", "software", "network", "other"];
    if FIXED.contains(&raw) {
        return Ok(raw.to_owned());
    }
    if let Some(kind) = raw.strip_prefix("telemetry:") {
        let ok = !kind.is_empty()
            && kind.len() <= 48
            && kind
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if ok {
            return Ok(raw.to_owned());
        }
    }
    Err(format!("must be one of: {}, or telemetry:<kind>", FIXED.join(", ")))
}

/// An incident as stored and returned by the API.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    pub id: Id,
    pub tenant_id: String,
    pub school_id: String,
    pub device_id: String,
    pub category: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub title: String,
    pub description: String,
    pub reported_by: String,
    pub sla_due_at: DateTime<Utc>,
    pub sla_breached: bool,
    pub breached_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub status_reason: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version, bumped by every change (ETag).
    pub version: i64,
    /// SSOT names as they were when the incident was reported.
    #[serde(flatten)]
    pub context: crate::context::SsotContext,
}

/// The validated content of a new incident.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    pub device_id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub severity: Severity,
}

impl Incident {
    /// A freshly reported incident: status new, SLA deadline from severity.
    pub fn open(
        tenant: &str,
        school: &str,
        new: NewIncident,
        reported_by: &str,
        sla: &crate::sla::SlaPolicy,
        now: DateTime<Utc>,
    ) -> Incident {
        Incident {
            id: Id::new(crate::id::prefix::INCIDENT),
            tenant_id: tenant.to_owned(),
            school_id: school.to_owned(),
            device_id: new.device_id,
            category: new.category,
            severity: new.severity,
            status: IncidentStatus::New,
            title: new.title,
            description: new.description,
            reported_by: reported_by.to_owned(),
            sla_due_at: sla.due_at(now, new.severity),
            sla_breached: false,
            breached_at: None,
            acknowledged_at: None,
            resolved_at: None,
            closed_at: None,
            status_reason: String::new(),
            created_at: now,
            updated_at: now,
            version: 1,
            context: crate::context::SsotContext::default(),
        }
    }
}

/// Device telemetry names severities loosely (`crit`, `critial`, `med`);
/// anything unrecognised is low.
pub fn telemetry_severity(raw: &str) -> Severity {
    match raw.trim().to_ascii_lowercase().as_str() {
        "critical" | "critial" | "crit" => Severity::Critical,
        "high" => Severity::High,
        "medium" | "med" => Severity::Medium,
        _ => Severity::Low,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("cannot move an incident from {from} to {to}; allowed: {}", allowed(*.from))]
    NotAllowed { from: IncidentStatus, to: IncidentStatus },
    #[error("reopening a resolved incident needs a reason")]
    ReasonRequired,
}

fn allowed(from: IncidentStatus) -> String {
    let next: Vec<&str> = from.allowed_next().iter().map(|s| s.as_str()).collect();
    if next.is_empty() {
        "none (terminal)".into()
    } else {
        next.join(", ")
    }
}

/// The fields a status change writes, computed purely from the current row.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    pub from: IncidentStatus,
    pub to: IncidentStatus,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reason: String,
}

/// Applies the state machine to `current`. The caller writes the result as a
/// compare-and-set on (status, version), so a concurrent change makes the
/// write fail instead of silently overwriting.
pub fn plan_transition(
    current: &Incident,
    to: IncidentStatus,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<StatusChange, TransitionError> {
    let from = current.status;
    if !from.allowed_next().contains(&to) {
        return Err(TransitionError::NotAllowed { from, to });
    }
    let reopening = from == IncidentStatus::Resolved && to == IncidentStatus::InProgress;
    if reopening && reason.trim().is_empty() {
        return Err(TransitionError::ReasonRequired);
    }
    let mut change = StatusChange {
        from,
        to,
        acknowledged_at: current.acknowledged_at,
        resolved_at: current.resolved_at,
        closed_at: current.closed_at,
        reason: reason.trim().to_owned(),
    };
    match to {
        IncidentStatus::Acknowledged => change.acknowledged_at = change.acknowledged_at.or(Some(now)),
        IncidentStatus::Resolved => change.resolved_at = Some(now),
        IncidentStatus::Closed => change.closed_at = Some(now),
        // A reopened incident is no longer resolved.
        IncidentStatus::InProgress if reopening => change.resolved_at = None,
        _ => {}
    }
    Ok(change)
}

/// A partial edit of an incident's details (not its status).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub severity: Option<Severity>,
}

/// Applies an edit to a copy of `current`. A severity change recomputes the
/// SLA due time from the creation time; if the new deadline lies ahead, a
/// previous breach no longer stands (the sweep re-marks it if it passes).
pub fn apply_edit(
    current: &Incident,
    edit: &IncidentEdit,
    sla: &crate::sla::SlaPolicy,
    now: DateTime<Utc>,
) -> Incident {
    let mut next = current.clone();
    if let Some(t) = &edit.title {
        next.title = t.clone();
    }
    if let Some(d) = &edit.description {
        next.description = d.clone();
    }
    if let Some(c) = &edit.category {
        next.category = c.clone();
    }
    if let Some(sev) = edit.severity
        && sev != current.severity
    {
        next.severity = sev;
        next.sla_due_at = sla.due_at(current.created_at, sev);
        if next.sla_due_at > now {
            next.sla_breached = false;
            next.breached_at = None;
        }
    }
    next.updated_at = now;
    next
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use IncidentStatus::*;

    fn incident(status: IncidentStatus) -> Incident {
        let now = Utc::now();
        Incident {
            id: Id::new("inc"),
            tenant_id: "t".into(),
            school_id: "s".into(),
            device_id: "dev_1".into(),
            category: "hardware".into(),
            severity: Severity::High,
            status,
            title: "Screen".into(),
            description: String::new(),
            reported_by: "u".into(),
            sla_due_at: now,
            sla_breached: false,
            breached_at: None,
            acknowledged_at: None,
            resolved_at: None,
            closed_at: None,
            status_reason: String::new(),
            created_at: now,
            updated_at: now,
            version: 1,
            context: Default::default(),
        }
    }

    #[test]
    fn transition_table() {
        // Every (from, to) pair: exactly the listed ones are allowed.
        let allowed = [
            (New, Acknowledged),
            (New, Escalated),
            (Acknowledged, InProgress),
            (Acknowledged, Escalated),
            (InProgress, Resolved),
            (InProgress, Escalated),
            (Escalated, InProgress),
            (Escalated, Resolved),
            (Resolved, Closed),
            (Resolved, InProgress),
        ];
        for &from in IncidentStatus::ALL {
            for &to in IncidentStatus::ALL {
                let result = plan_transition(&incident(from), to, "reason", Utc::now());
                assert_eq!(result.is_ok(), allowed.contains(&(from, to)), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn automatic_paths_follow_the_machine() {
        assert_eq!(New.path_to(InProgress), Some(vec![Acknowledged, InProgress]));
        assert_eq!(New.path_to(Resolved), Some(vec![Acknowledged, InProgress, Resolved]));
        assert_eq!(Escalated.path_to(Resolved), Some(vec![Resolved]));
        assert_eq!(Acknowledged.path_to(Resolved), Some(vec![InProgress, Resolved]));
        assert_eq!(InProgress.path_to(InProgress), None);
        assert_eq!(Resolved.path_to(InProgress), None, "never an automatic reopen");
        assert_eq!(Closed.path_to(Resolved), None);
    }

    #[test]
    fn timestamps_follow_the_lifecycle() {
        let now = Utc::now();
        let ack = plan_transition(&incident(New), Acknowledged, "", now).unwrap();
        assert_eq!(ack.acknowledged_at, Some(now));
        let res = plan_transition(&incident(InProgress), Resolved, "", now).unwrap();
        assert_eq!(res.resolved_at, Some(now));
        let closed = plan_transition(&incident(Resolved), Closed, "", now).unwrap();
        assert_eq!(closed.closed_at, Some(now));
    }

    #[test]
    fn reopen_needs_a_reason_and_clears_resolution() {
        let mut resolved = incident(Resolved);
        resolved.resolved_at = Some(Utc::now());
        assert_eq!(
            plan_transition(&resolved, InProgress, "  ", Utc::now()),
            Err(TransitionError::ReasonRequired)
        );
        let reopened = plan_transition(&resolved, InProgress, "still broken", Utc::now()).unwrap();
        assert_eq!(reopened.resolved_at, None);
        assert_eq!(reopened.reason, "still broken");
    }

    #[test]
    fn severity_change_recomputes_the_sla_from_creation() {
        let sla = crate::sla::SlaPolicy::default();
        let mut i = incident(New);
        i.severity = Severity::Low;
        i.sla_due_at = sla.due_at(i.created_at, Severity::Low);
        i.sla_breached = true;
        i.breached_at = Some(i.created_at);
        let edit = IncidentEdit {
            severity: Some(Severity::Critical),
            ..Default::default()
        };
        let now = i.created_at + chrono::Duration::hours(1);
        let next = apply_edit(&i, &edit, &sla, now);
        assert_eq!(next.sla_due_at, i.created_at + chrono::Duration::hours(4));
        assert!(!next.sla_breached && next.breached_at.is_none(), "deadline ahead again");
        // Raised after the new deadline passed: stays breached.
        let late = apply_edit(&i, &edit, &sla, i.created_at + chrono::Duration::hours(5));
        assert!(late.sla_breached);
        // Title only: SLA untouched.
        let t = apply_edit(
            &i,
            &IncidentEdit {
                title: Some("x".into()),
                ..Default::default()
            },
            &sla,
            now,
        );
        assert_eq!((t.title.as_str(), t.sla_due_at), ("x", i.sla_due_at));
    }

    #[test]
    fn telemetry_severities_are_lenient() {
        for (raw, want) in [
            ("CRIT", Severity::Critical),
            ("critial", Severity::Critical),
            ("high", Severity::High),
            ("med", Severity::Medium),
            ("warning", Severity::Low),
            ("", Severity::Low),
        ] {
            assert_eq!(telemetry_severity(raw), want, "{raw}");
        }
    }

    #[test]
    fn enums_parse_and_reject() {
        assert_eq!("critical".parse::<Severity>(), Ok(Severity::Critical));
        assert!(
            "urgent"
                .parse::<Severity>()
                .unwrap_err()
                .contains("low, medium, high, critical")
        );
        assert!("Critical".parse::<Severity>().is_err());
        assert_eq!("in_progress".parse::<IncidentStatus>(), Ok(InProgress));
        assert!(parse_category("telemetry:battery_low").is_ok());
        for bad in ["", "Hardware", "telemetry:", "telemetry:Bad Kind", "misc"] {
            assert!(parse_category(bad).is_err(), "{bad}");
        }
    }
}
