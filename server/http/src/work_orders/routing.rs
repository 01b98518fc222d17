//! Auto-routing a new incident's work order to the shop covering its school.

use super::*;

/// Auto-routing (`AUTO_ROUTE_WORK_ORDERS`): a new incident at a school the
/// SSOT places in a county gets a triage work order at the shop covering
/// it — sub-county shop, else county shop, else none — assigned to that
/// shop's lead technician when it has one. Audited like any creation.
pub(crate) struct Route {
    county_code: String,
    sub_county_code: String,
    repair_location: String,
    context: essp_domain::context::SsotContext,
}

impl Route {
    pub(crate) fn for_incident(state: &AppState, ssot: &essp_store::ssot_snapshot::Context) -> Option<Route> {
        (state.config.auto_route && !ssot.county_code.is_empty()).then(|| Route {
            county_code: ssot.county_code.clone(),
            sub_county_code: ssot.sub_county_code.clone(),
            repair_location: state.config.default_repair_location.clone(),
            context: ssot.names.for_work_order(),
        })
    }

    /// In the incident's transaction; `None` when no shop covers the school.
    pub(crate) async fn open_work_order(
        &self,
        tx: &dyn Executor,
        actor: &Actor,
        incident: &essp_domain::incident::Incident,
    ) -> ApiResult<Option<WorkOrder>> {
        let Some((shop, lead)) =
            essp_store::shops::route(tx, &incident.tenant_id, &self.county_code, &self.sub_county_code).await?
        else {
            return Ok(None);
        };
        let (staff, user) = lead.unwrap_or_default();
        let wo = WorkOrder {
            id: Id::new(PREFIX),
            tenant_id: incident.tenant_id.clone(),
            school_id: incident.school_id.clone(),
            incident_id: incident.id.to_string(),
            device_id: incident.device_id.clone(),
            status: if staff.is_empty() {
                WorkOrderStatus::Draft
            } else {
                WorkOrderStatus::Assigned
            },
            service_shop_id: shop,
            assigned_staff_id: staff,
            assigned_to: user,
            repair_location: self.repair_location.clone(),
            task_type: "triage".into(),
            cost_estimate_cents: 0,
            notes: format!("Auto-created from incident {}", incident.id),
            project_id: String::new(),
            phase_id: String::new(),
            onsite_contact_id: String::new(),
            approval_status: ApprovalStatus::NotRequired,
            rework_count: 0,
            last_rework_at: None,
            last_rework_reason: String::new(),
            created_by: actor.subject.clone(),
            created_at: incident.created_at,
            updated_at: incident.created_at,
            version: 1,
            context: self.context.clone(),
        };
        work_orders::insert(tx, &wo).await?;
        record(tx, actor, "auto_route", None, &wo).await?;
        metrics::counter!("work_orders_auto_routed_total").increment(1);
        Ok(Some(wo))
    }
}
