//! Which part of the platform a process runs (`essp serve --role …`),
//! named and ported as the runbook's deployments.

use clap::ValueEnum;
use essp_domain::ssot::Domain;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Everything in one process (the default; edge boxes and laptops).
    All,
    /// The IMS API (the runbook's `ims-api` deployment, port 8080).
    ImsApi,
    /// SSOT for counties, sub-counties, schools and contacts (8081).
    SsotSchool,
    /// SSOT for device models, devices and MAC addresses (8082).
    SsotDevices,
    /// SSOT for parts, compatibility and vendor SKUs (8083).
    SsotParts,
    /// All three SSOT services in one process (8081).
    Ssot,
    /// Keeps IMS's SSOT snapshots current from events and reconcile
    /// (health and metrics only, 8084).
    SyncWorker,
}

impl Role {
    pub fn serves_ims(self) -> bool {
        matches!(self, Role::All | Role::ImsApi)
    }

    pub fn ssot_domains(self) -> Vec<Domain> {
        match self {
            Role::All | Role::Ssot => Domain::ALL.to_vec(),
            Role::SsotSchool => vec![Domain::School],
            Role::SsotDevices => vec![Domain::Devices],
            Role::SsotParts => vec![Domain::Parts],
            Role::ImsApi | Role::SyncWorker => Vec::new(),
        }
    }

    /// Applies SSOT events and reconciles IMS's snapshots.
    pub fn runs_sync_worker(self) -> bool {
        matches!(self, Role::All | Role::SyncWorker)
    }

    /// The runbook's port, used when HTTP_ADDR is not set.
    pub fn default_port(self) -> u16 {
        match self {
            Role::All | Role::ImsApi => 8080,
            Role::SsotSchool | Role::Ssot => 8081,
            Role::SsotDevices => 8082,
            Role::SsotParts => 8083,
            Role::SyncWorker => 8084,
        }
    }
}
