//! Telemetry de-duplication state (see migration 0007).

use chrono::{DateTime, Utc};
use essp_domain::Scope;

use crate::error::{Result, StoreError};
use crate::executor::Executor;

/// The incident telemetry of one kind last opened for a device.
#[derive(Debug, Clone, PartialEq)]
pub struct LastOpened {
    pub incident_id: String,
    pub opened_at: Option<DateTime<Utc>>,
}

/// Locks the (device, type) row for the rest of the transaction, counts the
/// event, and returns what it last opened.
pub async fn lock_and_count(
    ex: &dyn Executor,
    scope: &Scope,
    device_id: &str,
    event_type: &str,
    now: DateTime<Utc>,
) -> Result<LastOpened> {
    let key = [
        scope.tenant().into(),
        scope.school().into(),
        device_id.into(),
        event_type.into(),
    ];
    ex.execute(
        "INSERT INTO telemetry_dedupe (tenant_id, school_id, device_id, event_type) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, school_id, device_id, event_type) DO NOTHING",
        &key,
    )
    .await?;
    let mut params = vec![now.into()];
    params.extend(key);
    let row = ex
        .fetch_optional(
            "UPDATE telemetry_dedupe SET events = events + 1, last_event_at = $1 \
             WHERE tenant_id = $2 AND school_id = $3 AND device_id = $4 AND event_type = $5 \
             RETURNING incident_id, incident_opened_at",
            &params,
        )
        .await?
        .ok_or_else(|| StoreError::Other("telemetry dedupe row vanished".into()))?;
    Ok(LastOpened {
        incident_id: row.text("incident_id")?,
        opened_at: row.opt_timestamp("incident_opened_at")?,
    })
}

pub async fn remember_opened(
    ex: &dyn Executor,
    scope: &Scope,
    device_id: &str,
    event_type: &str,
    incident_id: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    ex.execute(
        "UPDATE telemetry_dedupe SET incident_id = $1, incident_opened_at = $2 \
         WHERE tenant_id = $3 AND school_id = $4 AND device_id = $5 AND event_type = $6",
        &[
            incident_id.into(),
            at.into(),
            scope.tenant().into(),
            scope.school().into(),
            device_id.into(),
            event_type.into(),
        ],
    )
    .await?;
    Ok(())
}
