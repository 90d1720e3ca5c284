//! Units, users and plans: who acts, for which unit, in which plan.

use chrono::NaiveDate;
use engine::Role;
use engine::decide::Actor;
use engine::domain::{UnitId, Username};
use engine::time::Instant;
use sqlx::Row;

use super::{NewUser, Plan, Store, StoreError, Unit, User, with_db};
use crate::store::records::NewTask;

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Instants are kept to the microsecond, the precision PostgreSQL stores, so that a value read
/// back is the value written and audit hashes recompute identically on both backends.
pub(crate) fn micros(t: Instant) -> Instant {
    use chrono::{DurationRound, TimeDelta};
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Store {
    /// Adds a unit. `id` must be a canonical id (see [`UnitId`]).
    pub async fn add_unit(
        &self,
        id: &str,
        name: &str,
        parent_id: Option<&str>,
        now: Instant,
    ) -> Result<Unit, StoreError> {
        let id = UnitId::parse(id).map_err(StoreError::Invalid)?;
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::Invalid(
                "Tên đơn vị không được để trống.".into(),
            ));
        }
        if let Some(p) = parent_id {
            self.unit(p).await?;
        }
        let now = micros(now);
        let today = engine::time::local_date(now);
        let result: Result<(), sqlx::Error> = with_db!(self, |pool| {
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
        match result {
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Duplicate(format!("Đơn vị `{id}`")))
            }
            Err(e) => Err(e.into()),
            Ok(()) => self.unit(id.as_str()).await,
        }
    }

    /// Renames a unit from `valid_from`; its earlier name stays on record for earlier dates.
    pub async fn rename_unit(
        &self,
        id: &str,
        name: &str,
        valid_from: NaiveDate,
    ) -> Result<Unit, StoreError> {
        self.unit(id).await?;
        with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM unit_names WHERE unit_id = $1 AND valid_from = $2")
                .bind(id)
                .bind(valid_from)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO unit_names (unit_id, name, valid_from) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(name.trim())
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

    /// Merges unit `from` into `into` on `on`: `into`'s users then see and act on `from`'s
    /// tasks, which keep their history and owner.
    pub async fn merge_unit(
        &self,
        from: &str,
        into: &str,
        on: NaiveDate,
    ) -> Result<(), StoreError> {
        if from == into {
            return Err(StoreError::Invalid(
                "Không thể sáp nhập một đơn vị vào chính nó.".into(),
            ));
        }
        self.unit(from).await?;
        self.unit(into).await?;
        if self.merged_units(from).await?.iter().any(|u| u == into) {
            return Err(StoreError::Invalid(format!(
                "Không thể sáp nhập `{from}` vào `{into}`: `{into}` đã được sáp nhập vào `{from}`."
            )));
        }
        with_db!(self, |pool| {
            sqlx::query("UPDATE units SET merged_into = $2, merged_on = $3 WHERE id = $1")
                .bind(from)
                .bind(into)
                .bind(on)
                .execute(pool)
                .await?;
        });
        // The users of `into` now act for `from` too.
        self.identity_changed();
        Ok(())
    }

    /// The unit's name as it was on `date` (names are effective-dated); its first name for
    /// dates before any record.
    pub async fn unit_name_on(&self, id: &str, date: NaiveDate) -> Result<String, StoreError> {
        self.unit(id).await?;
        let name: Option<String> = with_db!(self, |pool| {
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
            None => {
                Ok(with_db!(self, |pool| {
                    sqlx::query_scalar("SELECT name FROM unit_names WHERE unit_id = $1 ORDER BY valid_from LIMIT 1")
                    .bind(id)
                    .fetch_one(pool)
                    .await?
                }))
            }
        }
    }

    pub async fn unit(&self, id: &str) -> Result<Unit, StoreError> {
        let row = with_db!(self, |pool| {
            sqlx::query(
                "SELECT id, name, parent_id, merged_into, merged_on FROM units WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
            .map(|r| -> Result<Unit, sqlx::Error> {
                Ok(Unit {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    parent_id: r.try_get("parent_id")?,
                    merged_into: r.try_get("merged_into")?,
                    merged_on: r.try_get("merged_on")?,
                })
            })
            .transpose()?
        });
        row.ok_or_else(|| StoreError::not_found("đơn vị", id))
    }

    pub async fn units(&self) -> Result<Vec<Unit>, StoreError> {
        Ok(with_db!(self, |pool| {
            sqlx::query("SELECT id, name, parent_id, merged_into, merged_on FROM units ORDER BY id")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| -> Result<Unit, sqlx::Error> {
                    Ok(Unit {
                        id: r.try_get("id")?,
                        name: r.try_get("name")?,
                        parent_id: r.try_get("parent_id")?,
                        merged_into: r.try_get("merged_into")?,
                        merged_on: r.try_get("merged_on")?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// `unit` and every unit merged into it, directly or through other merges.
    pub async fn merged_units(&self, unit: &str) -> Result<Vec<String>, StoreError> {
        let mut all = vec![unit.to_string()];
        let mut i = 0;
        while i < all.len() {
            let here = all[i].clone();
            let children: Vec<String> = with_db!(self, |pool| {
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

    pub async fn add_user(&self, new: NewUser, now: Instant) -> Result<User, StoreError> {
        let username = Username::parse(&new.username).map_err(StoreError::Invalid)?;
        if new.roles.is_empty() {
            return Err(StoreError::Invalid(
                "Người dùng cần ít nhất một vai trò: don_vi, thu_truong_don_vi, skhcn, so_tai_chinh, ubnd, admin.".into(),
            ));
        }
        let needs_unit = new.roles.iter().any(|r| r.is_unit_role());
        match &new.unit_id {
            Some(u) => {
                self.unit(u).await?;
            }
            None if needs_unit => {
                return Err(StoreError::Invalid(
                    "Vai trò don_vi và thu_truong_don_vi cần có đơn vị (--unit MÃ_ĐƠN_VỊ).".into(),
                ));
            }
            None => {}
        }
        let id = new_id();
        let now = micros(now);
        let display = if new.display_name.trim().is_empty() {
            username.as_str().to_string()
        } else {
            new.display_name.trim().to_string()
        };
        let result: Result<(), sqlx::Error> = with_db!(self, |pool| {
            async {
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "INSERT INTO users (id, username, display_name, email, unit_id, disabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&id)
                .bind(username.as_str())
                .bind(&display)
                .bind(&new.email)
                .bind(&new.unit_id)
                .bind(false)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                for r in &new.roles {
                    sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                        .bind(&id)
                        .bind(r.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            }
            .await
        });
        match result {
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Duplicate(format!("Người dùng `{username}`")))
            }
            Err(e) => Err(e.into()),
            Ok(()) => self.user(username.as_str()).await,
        }
    }

    pub async fn user(&self, username: &str) -> Result<User, StoreError> {
        let found = with_db!(self, |pool| {
            match sqlx::query("SELECT id, username, display_name, email, unit_id, disabled FROM users WHERE username = $1")
                .bind(username)
                .fetch_optional(pool)
                .await?
            {
                None => None,
                Some(r) => {
                    let id: String = r.try_get("id")?;
                    let roles: Vec<String> =
                        sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
                            .bind(&id)
                            .fetch_all(pool)
                            .await?;
                    Some(User {
                        id,
                        username: r.try_get("username")?,
                        display_name: r.try_get("display_name")?,
                        email: r.try_get("email")?,
                        unit_id: r.try_get("unit_id")?,
                        roles: roles.iter().filter_map(|r| r.parse().ok()).collect(),
                        disabled: r.try_get("disabled")?,
                    })
                }
            }
        });
        found.ok_or_else(|| StoreError::not_found("người dùng", username))
    }

    /// The engine's view of a user: roles, and the units they act for (their own and those
    /// merged into it). A disabled user cannot act.
    pub async fn actor(&self, username: &str) -> Result<Actor, StoreError> {
        let user = self.user(username).await?;
        if user.disabled {
            return Err(StoreError::Invalid(format!(
                "Tài khoản `{username}` đã bị khóa."
            )));
        }
        let units = match &user.unit_id {
            Some(u) => self.merged_units(u).await?,
            None => Vec::new(),
        };
        Ok(Actor {
            user: user.username,
            roles: user.roles,
            units,
        })
    }

    /// Users holding `role`; for unit roles, only those of `unit` (or of the unit it was merged
    /// into, who inherited its tasks).
    pub async fn users_with_role(
        &self,
        role: Role,
        unit: Option<&str>,
    ) -> Result<Vec<User>, StoreError> {
        let names: Vec<String> = with_db!(self, |pool| {
            sqlx::query_scalar(
                "SELECT u.username FROM users u JOIN user_roles r ON r.user_id = u.id WHERE r.role = $1 AND NOT u.disabled ORDER BY u.username",
            )
            .bind(role.as_str())
            .fetch_all(pool)
            .await?
        });
        let mut out = Vec::new();
        for n in names {
            let u = self.user(&n).await?;
            match (unit, role.is_unit_role(), &u.unit_id) {
                (Some(task_unit), true, Some(own)) => {
                    if self.merged_units(own).await?.iter().any(|x| x == task_unit) {
                        out.push(u);
                    }
                }
                (_, true, _) => {}
                _ => out.push(u),
            }
        }
        Ok(out)
    }

    pub async fn add_plan(
        &self,
        number: &str,
        year: i32,
        title: &str,
        issued_on: Option<NaiveDate>,
        now: Instant,
    ) -> Result<Plan, StoreError> {
        let number = number.trim();
        if number.is_empty() || title.trim().is_empty() {
            return Err(StoreError::Invalid(
                "Kế hoạch cần có số hiệu (ví dụ 215/KH-UBND) và tiêu đề.".into(),
            ));
        }
        if !(2000..=2100).contains(&year) {
            return Err(StoreError::Invalid(format!(
                "Năm kế hoạch {year} không hợp lệ (2000–2100)."
            )));
        }
        let id = new_id();
        let now = micros(now);
        let result: Result<(), sqlx::Error> = with_db!(self, |pool| {
            sqlx::query("INSERT INTO plans (id, number, year, title, issued_on, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&id)
                .bind(number)
                .bind(i64::from(year))
                .bind(title.trim())
                .bind(issued_on)
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        });
        match result {
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Duplicate(format!("Kế hoạch `{number}`")))
            }
            Err(e) => Err(e.into()),
            Ok(()) => self.plan(number).await,
        }
    }

    pub async fn plan(&self, number: &str) -> Result<Plan, StoreError> {
        let found = with_db!(self, |pool| {
            sqlx::query(
                "SELECT id, number, year, title, issued_on FROM plans WHERE number = $1 OR id = $1",
            )
            .bind(number)
            .fetch_optional(pool)
            .await?
            .map(|r| -> Result<Plan, sqlx::Error> {
                Ok(Plan {
                    id: r.try_get("id")?,
                    number: r.try_get("number")?,
                    year: i32::try_from(r.try_get::<i64, _>("year")?).unwrap_or_default(),
                    title: r.try_get("title")?,
                    issued_on: r.try_get("issued_on")?,
                })
            })
            .transpose()?
        });
        found.ok_or_else(|| StoreError::not_found("kế hoạch", number))
    }

    pub(crate) async fn check_new_task(&self, t: &NewTask) -> Result<Plan, StoreError> {
        if t.name.trim().is_empty() {
            return Err(StoreError::Invalid(
                "Tên nhiệm vụ không được để trống.".into(),
            ));
        }
        let plan = self.plan(&t.plan).await?;
        self.unit(&t.unit_id).await?;
        Ok(plan)
    }
}
