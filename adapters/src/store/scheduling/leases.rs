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

    /// The heartbeat of a running instance: extends to `until` every claim `owner` still holds
    /// (due timers and automatic transitions being worked on, messages being sent, named
    /// leases). A claim that already ran out is not revived: another instance may have it.
    /// Returns how many were extended.
    #[tracing::instrument(skip_all, fields(owner = %owner))]
    pub async fn renew_claims(
        &self,
        owner: &str,
        until: Instant,
        now: Instant,
    ) -> Result<u64, StoreError> {
        self.update_claims(
            [
                "UPDATE timers SET lease_until = $1 WHERE lease_owner = $2 AND status = 'pending' AND lease_until >= $3",
                "UPDATE outbox SET lease_until = $1 WHERE lease_owner = $2 AND status = 'pending' AND lease_until >= $3",
                "UPDATE leases SET until = $1 WHERE owner = $2 AND until >= $3",
            ],
            Some(micros(until)),
            owner,
            micros(now),
        )
        .await
    }

    /// An instance stopping: gives back every claim `owner` holds, so that another instance
    /// takes the work at once instead of after the lease. Returns how many were released.
    #[tracing::instrument(skip_all, fields(owner = %owner))]
    pub async fn release_claims(&self, owner: &str, now: Instant) -> Result<u64, StoreError> {
        self.update_claims(
            [
                "UPDATE timers SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1 AND status = 'pending' AND lease_until >= $2",
                "UPDATE outbox SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1 AND status = 'pending' AND lease_until >= $2",
                "UPDATE leases SET until = $2 WHERE owner = $1 AND until >= $2",
            ],
            None,
            owner,
            micros(now),
        )
        .await
    }

    /// Runs the three statements on `owner`'s live claims (timers, outbox, leases) in one
    /// transaction, each bound to `until` (when given), `owner` and `now` in that order; returns
    /// how many rows they changed.
    async fn update_claims(
        &self,
        statements: [&'static str; 3],
        until: Option<Instant>,
        owner: &str,
        now: Instant,
    ) -> Result<u64, StoreError> {
        Ok(with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut n = 0;
            for sql in statements {
                let mut q = sqlx::query(sql);
                if let Some(until) = until {
                    q = q.bind(until);
                }
                n += q
                    .bind(owner)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            n
        }))
    }
}
