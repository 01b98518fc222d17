use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::incident::Severity;

/// Response windows per severity. `due = created + window(severity)`;
/// wall-clock time, configurable per deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    pub critical: Duration,
    pub high: Duration,
    pub medium: Duration,
    pub low: Duration,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        const HOUR: u64 = 3600;
        Self {
            critical: Duration::from_secs(4 * HOUR),
            high: Duration::from_secs(24 * HOUR),
            medium: Duration::from_secs(48 * HOUR),
            low: Duration::from_secs(72 * HOUR),
        }
    }
}

impl SlaPolicy {
    pub fn window(&self, severity: Severity) -> Duration {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
        }
    }

    pub fn due_at(&self, created_at: DateTime<Utc>, severity: Severity) -> DateTime<Utc> {
        // Windows come from validated configuration (hours to days), far below
        // chrono's range; saturate rather than panic if someone sets 10^9 years.
        chrono::Duration::from_std(self.window(severity))
            .ok()
            .and_then(|w| created_at.checked_add_signed(w))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn default_windows_per_severity() {
        let created = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).single().unwrap_or_default();
        let p = SlaPolicy::default();
        let cases = [
            (Severity::Critical, 4),
            (Severity::High, 24),
            (Severity::Medium, 48),
            (Severity::Low, 72),
        ];
        for (sev, hours) in cases {
            assert_eq!(
                p.due_at(created, sev),
                created + chrono::Duration::hours(hours),
                "{sev:?}"
            );
        }
    }

    #[test]
    fn configured_windows_are_used() {
        let p = SlaPolicy {
            critical: Duration::from_secs(60),
            ..SlaPolicy::default()
        };
        let created = Utc::now();
        assert_eq!(
            p.due_at(created, Severity::Critical),
            created + chrono::Duration::seconds(60)
        );
    }
}
