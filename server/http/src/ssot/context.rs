//! What new IMS records take from the SSOT snapshots: point-in-time names
//! (enrichment) and the repair shop a school's faults are routed to.

use essp_domain::Scope;
use essp_store::Executor;
use essp_store::ssot_snapshot;

use crate::problem::{ApiError, ApiResult};

/// Names for a new incident or work order of `scope` about `device`.
///
/// A device the tenant's populated SSOT does not know is refused (422);
/// while a tenant has no device data yet, the record is accepted without
/// device names.
pub async fn resolve(db: &dyn Executor, scope: &Scope, device: &str) -> ApiResult<ssot_snapshot::Context> {
    let c = ssot_snapshot::context(db, scope.tenant(), scope.school(), device).await?;
    if !c.device_found && c.tenant_has_devices {
        return Err(ApiError::unknown_reference(
            "unknown-device",
            "deviceId",
            "names no device of the SSOT",
            format!("device {device} is not in this tenant's device register"),
        ));
    }
    Ok(c)
}
