//! The permissions routes require, as types: a handler states its
//! permission in its signature (`Authorized<IncidentRead>`).

pub trait Permission {
    const NAME: &'static str;
}

macro_rules! permissions {
    ($($ty:ident => $name:literal),+ $(,)?) => {
        $(
            pub struct $ty;
            impl Permission for $ty {
                const NAME: &'static str = $name;
            }
        )+
        /// Every permission a route requires (checked against the role table's vocabulary).
        pub const REQUIRED: &[&str] = &[$($name),+];
    };
}

permissions! {
    IncidentRead => "incident:read",
    IncidentCreate => "incident:create",
    IncidentUpdate => "incident:update",
    AuditRead => "audit:read",
    WorkOrderRead => "workorder:read",
    WorkOrderCreate => "workorder:create",
    WorkOrderUpdate => "workorder:update",
    WorkOrderReview => "workorder:review",
    WorkOrderApproval => "workorder:approval",
    WorkOrderSchedule => "workorder:schedule",
    TelemetryIngest => "telemetry:ingest",
    AttachmentRead => "attachment:read",
    AttachmentCreate => "attachment:create",
    ContactRead => "school:contact:read",
    ContactUpdate => "school:contact:update",
    ProjectRead => "project:read",
    ProjectUpdate => "project:update",
    InventoryRead => "inventory:read",
    InventoryUpdate => "inventory:update",
    BomRead => "bom:read",
    BomUpdate => "bom:update",
    BomConsume => "bom:consume",
    WorkOrderDeliverable => "workorder:deliverable",
    ServiceShopRead => "serviceshop:read",
    ServiceShopCreate => "serviceshop:create",
    ServiceShopUpdate => "serviceshop:update",
    ServiceStaffRead => "servicestaff:read",
    ServiceStaffCreate => "servicestaff:create",
    ServiceStaffUpdate => "servicestaff:update",
    SsotRead => "ssot:read",
    SsotWrite => "ssot:write",
    SsotSync => "ssot:sync",
    SyncRead => "sync:read",
    SyncAdmin => "sync:admin",
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_permission_is_in_the_role_vocabulary() {
        for p in super::REQUIRED {
            assert!(super::super::roles::KNOWN_PERMISSIONS.contains(p), "{p}");
        }
    }
}
