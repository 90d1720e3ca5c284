//! Units: departments, communes, hospitals… Names are effective-dated (a unit renamed in July
//! 2025 keeps its old name for older documents), and a unit merged into another keeps its tasks,
//! which the other unit's users then see and act on.

use chrono::NaiveDate;
use engine::access::{self, Area};
use engine::decide::Actor;
use engine::domain::UnitId;
use engine::time::Instant;

use super::super::{Store, StoreError, Unit, duplicate_or, micros, with_db};
use super::Directory;

const SELECT_UNIT: &str = "SELECT id, name, parent_id, merged_into, merged_on FROM units";

fn check_name(name: &str) -> Result<&str, StoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid(
            "Tên đơn vị không được để trống.".into(),
        ));
    }
    Ok(name)
}

impl Directory<'_> {
    /// Every unit, with mergers.
    #[tracing::instrument(skip_all)]
    pub async fn units(&self) -> Result<Vec<Unit>, StoreError> {
        Ok(with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT id, name, parent_id, merged_into, merged_on FROM units ORDER BY id",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    #[tracing::instrument(skip_all, fields(unit = %id))]
    pub async fn unit(&self, id: &str) -> Result<Unit, StoreError> {
        let found: Option<Unit> = with_db!(self.store, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_UNIT} WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        found.ok_or_else(|| StoreError::not_found("đơn vị", id))
    }

    /// Adds a unit, for an administrator.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, unit = %id))]
    pub async fn add_unit_as(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
        parent_id: Option<&str>,
        now: Instant,
    ) -> Result<Unit, StoreError> {
        access::may_manage(actor, Area::Units)?;
        self.add_unit(id, name, parent_id, now).await
    }

    /// Adds a unit. `id` must be a canonical id (see [`UnitId`]). System door: no access rule.
    #[tracing::instrument(skip_all, fields(unit = %id))]
    pub async fn add_unit(
        &self,
        id: &str,
        name: &str,
        parent_id: Option<&str>,
        now: Instant,
    ) -> Result<Unit, StoreError> {
        let id = UnitId::parse(id).map_err(StoreError::Invalid)?;
        let name = check_name(name)?;
        if let Some(p) = parent_id {
            self.unit(p).await?;
        }
        let now = micros(now);
        let today = engine::time::local_date(now);
        let result: Result<(), sqlx::Error> = with_db!(self.store, |pool| {
            async {
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "INSERT INTO units (id, name, parent_id, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(id.as_str())
                .bind(name)
                .bind(parent_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO unit_names (unit_id, name, valid_from) VALUES ($1, $2, $3)",
                )
                .bind(id.as_str())
                .bind(name)
                .bind(today)
                .execute(&mut *tx)
                .await?;
                tx.commit().await
            }
            .await
        });
        result.map_err(|e| duplicate_or(e, || format!("Đơn vị `{id}`")))?;
        self.unit(id.as_str()).await
    }

    /// Renames a unit from `valid_from`, for an administrator.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, unit = %id))]
    pub async fn rename_unit_as(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
        valid_from: NaiveDate,
    ) -> Result<Unit, StoreError> {
        access::may_manage(actor, Area::Units)?;
        self.rename_unit(id, name, valid_from).await
    }

    /// Renames a unit from `valid_from`; its earlier name stays on record for earlier dates.
    /// System door: no access rule.
    #[tracing::instrument(skip_all, fields(unit = %id))]
    pub async fn rename_unit(
        &self,
        id: &str,
        name: &str,
        valid_from: NaiveDate,
    ) -> Result<Unit, StoreError> {
        let name = check_name(name)?;
        self.unit(id).await?;
        with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM unit_names WHERE unit_id = $1 AND valid_from = $2")
                .bind(id)
                .bind(valid_from)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO unit_names (unit_id, name, valid_from) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(name)
                .bind(valid_from)
                .execute(&mut *tx)
                .await?;
            // The current name is the one with the latest start date.
            sqlx::query(
                "UPDATE units SET name = (SELECT name FROM unit_names WHERE unit_id = $1 ORDER BY valid_from DESC LIMIT 1) WHERE id = $1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        self.unit(id).await
    }

    /// Merges unit `from` into `into` on `on`, for an administrator; returns the merged unit.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, from = %from, into = %into))]
    pub async fn merge_unit_as(
        &self,
        actor: &Actor,
        from: &str,
        into: &str,
        on: NaiveDate,
    ) -> Result<Unit, StoreError> {
        access::may_manage(actor, Area::Units)?;
        self.merge_unit(from, into, on).await
    }

    /// Merges unit `from` into `into` on `on`: `into`'s users then see and act on `from`'s
    /// tasks, which keep their history and owner. Returns the merged unit. System door: no
    /// access rule.
    #[tracing::instrument(skip_all, fields(from = %from, into = %into))]
    pub async fn merge_unit(
        &self,
        from: &str,
        into: &str,
        on: NaiveDate,
    ) -> Result<Unit, StoreError> {
        // Never possible, whatever the directory holds (422); a cycle depends on the merges
        // recorded so far (409).
        if from == into {
            return Err(StoreError::Unprocessable(
                "Không thể sáp nhập một đơn vị vào chính nó; chọn một đơn vị khác để sáp nhập vào."
                    .into(),
            ));
        }
        self.unit(from).await?;
        self.unit(into).await?;
        if self.merged_units(from).await?.iter().any(|u| u == into) {
            return Err(StoreError::StateConflict(format!(
                "Không thể sáp nhập `{from}` vào `{into}`: `{into}` đã được sáp nhập vào `{from}`."
            )));
        }
        with_db!(self.store, |pool| {
            sqlx::query("UPDATE units SET merged_into = $2, merged_on = $3 WHERE id = $1")
                .bind(from)
                .bind(into)
                .bind(on)
                .execute(pool)
                .await?;
        });
        // The users of `into` now act for `from` too.
        self.store.identity_changed();
        self.unit(from).await
    }

    /// The unit's name as it was on `date` (names are effective-dated); its first name for
    /// dates before any record.
    #[tracing::instrument(skip_all, fields(unit = %id))]
    pub async fn unit_name_on(&self, id: &str, date: NaiveDate) -> Result<String, StoreError> {
        self.unit(id).await?;
        let name: Option<String> = with_db!(self.store, |pool| {
            sqlx::query_scalar(
                "SELECT name FROM unit_names WHERE unit_id = $1 AND valid_from <= $2 ORDER BY valid_from DESC LIMIT 1",
            )
            .bind(id)
            .bind(date)
            .fetch_optional(pool)
            .await?
        });
        match name {
            Some(n) => Ok(n),
            None => Ok(with_db!(self.store, |pool| {
                sqlx::query_scalar(
                    "SELECT name FROM unit_names WHERE unit_id = $1 ORDER BY valid_from LIMIT 1",
                )
                .bind(id)
                .fetch_one(pool)
                .await?
            })),
        }
    }

    /// `unit` and every unit merged into it, directly or through other merges.
    #[tracing::instrument(skip_all, fields(unit = %unit))]
    pub async fn merged_units(&self, unit: &str) -> Result<Vec<String>, StoreError> {
        merged_units(self.store, unit).await
    }
}

/// `unit` and every unit merged into it, directly or through other merges.
pub(crate) async fn merged_units(store: &Store, unit: &str) -> Result<Vec<String>, StoreError> {
    let mut all = vec![unit.to_string()];
    let mut i = 0;
    while i < all.len() {
        let here = all[i].clone();
        let children: Vec<String> = with_db!(store, |pool| {
            sqlx::query_scalar("SELECT id FROM units WHERE merged_into = $1 ORDER BY id")
                .bind(&here)
                .fetch_all(pool)
                .await?
        });
        for c in children {
            if !all.contains(&c) {
                all.push(c);
            }
        }
        i += 1;
    }
    Ok(all)
}

/// The units a user of `unit` acts for and those they only read: their unit and those merged
/// into it, acted for while their unit stands; only read once it was merged into another (its
/// users lose write access to it and keep reading what they had).
pub(crate) async fn units_of_user(
    store: &Store,
    unit: &str,
) -> Result<(Vec<String>, Vec<String>), StoreError> {
    let merged_away: Option<Option<String>> = with_db!(store, |pool| {
        sqlx::query_scalar("SELECT merged_into FROM units WHERE id = $1")
            .bind(unit)
            .fetch_optional(pool)
            .await?
    });
    let all = merged_units(store, unit).await?;
    Ok(if merged_away.flatten().is_some() {
        (Vec::new(), all)
    } else {
        (all, Vec::new())
    })
}
