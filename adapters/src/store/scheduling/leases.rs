//! Named leases (one scheduler at a time on SQLite) and cron slots (a digest once per slot
//! across instances).

use engine::time::Instant;

use super::super::{StoreError, micros, with_db};
use super::Scheduling;

impl Scheduling<'_> {
    /// Records that cron slot `slot` of schedule `name` runs here; false if another instance
    /// already took it.
    #[tracing::instrument(skip_all, fields(schedule = %name))]
    pub async fn claim_schedule_slot(
        &self,
        name: &str,
        slot: Instant,
        owner: &str,
        outcome: &str,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let n = with_db!(self.store, |pool| {
            sqlx::query(
                "INSERT INTO schedule_runs (name, slot, owner, outcome, ran_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name, slot) DO NOTHING",
            )
            .bind(name)
            .bind(micros(slot))
            .bind(owner)
            .bind(outcome)
            .bind(micros(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Takes or renews the named lease until `until`; false while another owner holds it.
    #[tracing::instrument(skip_all, fields(lease = %name, owner = %owner))]
    pub async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        until: Instant,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let n = with_db!(self.store, |pool| {
            sqlx::query(
                "INSERT INTO leases (name, owner, until) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until \
                 WHERE leases.until < $4 OR leases.owner = excluded.owner",
            )
            .bind(name)
            .bind(owner)
            .bind(micros(until))
            .bind(micros(now))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }
}
