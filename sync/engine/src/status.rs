//! An edge's view of its link to central, shared by the sync tasks, the
//! readiness probe and `GET /v1/sync/status`.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What the edge knows about its sync right now.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EdgeStatus {
    /// `ok`, `offline` (central not reachable), `reenroll` (central
    /// refuses this box's epoch) or `rebootstrap` (central's stream no
    /// longer holds the changes after our cursor).
    pub state: String,
    pub message: String,
    /// When central last answered a checkpoint.
    pub last_contact: Option<DateTime<Utc>>,
    /// The highest outbox position central confirmed applied.
    pub confirmed_seq: i64,
    /// The last position this edge wrote.
    pub last_seq: i64,
    pub outbox_depth: i64,
    pub down_cursor: i64,
}

impl EdgeStatus {
    /// Fills in the outbox and positions as the database holds them now,
    /// not as of the last checkpoint (a write a moment ago is pending, and
    /// says so).
    pub async fn refresh(&mut self, db: &dyn essp_store::Executor) -> Result<(), essp_store::StoreError> {
        use essp_store::sync::{edges, outbox};
        let depth = outbox::depth(db).await?;
        self.confirmed_seq = edges::position(db, edges::UP_CONFIRMED).await?;
        self.outbox_depth = depth.count;
        self.last_seq = depth.last_seq.max(self.confirmed_seq);
        self.down_cursor = edges::position(db, edges::DOWN_CURSOR).await?;
        Ok(())
    }
}

/// A handle every task of one edge shares.
#[derive(Debug, Clone, Default)]
pub struct SharedStatus(Arc<RwLock<EdgeStatus>>);

impl SharedStatus {
    pub fn get(&self) -> EdgeStatus {
        self.0.read().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn update(&self, f: impl FnOnce(&mut EdgeStatus)) {
        if let Ok(mut s) = self.0.write() {
            f(&mut s);
        }
    }
}
