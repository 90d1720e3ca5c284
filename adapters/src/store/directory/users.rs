//! Users as records: who they are, their roles, their unit, and the engine's actor for one.
//! Passwords, sessions, tokens and disabling are [`Accounts`](super::super::Accounts)' doors.

use engine::Role;
use engine::access::{self, Area};
use engine::decide::Actor;
use engine::domain::Username;
use engine::input::Password;
use engine::time::Instant;

use super::super::{NewUser, StoreError, User, duplicate_or, micros, new_id, with_db};
use super::Directory;
use super::units::merged_units;

/// A user's roles: at least one, and a unit for the unit roles.
fn check_roles(roles: &[Role], unit_id: Option<&str>) -> Result<(), StoreError> {
    if roles.is_empty() {
        return Err(StoreError::Invalid(
            "Người dùng cần ít nhất một vai trò: don_vi, thu_truong_don_vi, skhcn, so_tai_chinh, lanh_dao_so, ubnd, admin.".into(),
        ));
    }
    if unit_id.is_none() && roles.iter().any(|r| r.is_unit_role()) {
        return Err(StoreError::Invalid(
            "Vai trò don_vi và thu_truong_don_vi cần có đơn vị (--unit MÃ_ĐƠN_VỊ).".into(),
        ));
    }
    if unit_id.is_none() && roles.iter().any(|r| r.is_department_lead()) {
        return Err(StoreError::Invalid(
            "Vai trò lanh_dao_so cần có đơn vị: Sở mà người dùng lãnh đạo (--unit MÃ_ĐƠN_VỊ, ví dụ Sở Khoa học và Công nghệ).".into(),
        ));
    }
    Ok(())
}

impl Directory<'_> {
    /// One user's record, for the user themself or an administrator.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, user = %username))]
    pub async fn user_as(&self, actor: &Actor, username: &str) -> Result<User, StoreError> {
        access::may_read_user(actor, username)?;
        self.user(username).await
    }

    /// Adds a user, optionally with a first password, for an administrator. A password that
    /// breaks the policy is refused before anything is written.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, user = %new.username))]
    pub async fn add_user_as(
        &self,
        actor: &Actor,
        new: NewUser,
        password: Option<&str>,
        now: Instant,
    ) -> Result<User, StoreError> {
        access::may_manage(actor, Area::Users)?;
        self.add_user_with_password(new, password, now).await
    }

    /// Adds a user, optionally with a first password checked before anything is written.
    /// System door: no access rule.
    #[tracing::instrument(skip_all, fields(user = %new.username))]
    pub async fn add_user_with_password(
        &self,
        new: NewUser,
        password: Option<&str>,
        now: Instant,
    ) -> Result<User, StoreError> {
        let password = password
            .map(|p| Password::parse_for(&new.username, &new.display_name, p))
            .transpose()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let user = self.add_user(new, now).await?;
        if let Some(p) = password {
            self.store
                .accounts()
                .set_password(&user.username, p.expose(), now)
                .await?;
        }
        Ok(user)
    }

    /// Replaces a user's roles, unit and display name, for an administrator. The same rules as
    /// adding a user: at least one role, and a unit for the unit roles; an administrator cannot
    /// take the administrator role from themself ([`access::may_change_roles`]). The user's
    /// sessions stay valid and act with the new roles from their next request.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, user = %username))]
    pub async fn change_user_as(
        &self,
        actor: &Actor,
        username: &str,
        roles: &[Role],
        unit_id: Option<&str>,
        display_name: Option<&str>,
    ) -> Result<User, StoreError> {
        access::may_manage(actor, Area::Users)?;
        let user = self.user(username).await?;
        check_roles(roles, unit_id)?;
        access::may_change_roles(actor, username, roles)
            .map_err(|refused| StoreError::Invalid(refused.to_string()))?;
        if let Some(u) = unit_id {
            self.unit(u).await?;
        }
        let display = display_name
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .unwrap_or(&user.display_name)
            .to_string();
        with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE users SET unit_id = $2, display_name = $3 WHERE id = $1")
                .bind(&user.id)
                .bind(unit_id)
                .bind(&display)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
                .bind(&user.id)
                .execute(&mut *tx)
                .await?;
            for r in roles {
                sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                    .bind(&user.id)
                    .bind(r.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        self.store.identity_changed();
        self.user(username).await
    }

    /// Adds a user without a password. System door: no access rule.
    #[tracing::instrument(skip_all, fields(user = %new.username))]
    pub async fn add_user(&self, new: NewUser, now: Instant) -> Result<User, StoreError> {
        let username = Username::parse(&new.username).map_err(StoreError::Invalid)?;
        check_roles(&new.roles, new.unit_id.as_deref())?;
        if let Some(u) = &new.unit_id {
            self.unit(u).await?;
        }
        let id = new_id();
        let now = micros(now);
        let display = if new.display_name.trim().is_empty() {
            username.as_str().to_string()
        } else {
            new.display_name.trim().to_string()
        };
        let result: Result<(), sqlx::Error> = with_db!(self.store, |pool| {
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
        result.map_err(|e| duplicate_or(e, || format!("Người dùng `{username}`")))?;
        self.user(username.as_str()).await
    }

    /// A user by name, with their roles. System door: no access rule.
    #[tracing::instrument(skip_all, fields(user = %username))]
    pub async fn user(&self, username: &str) -> Result<User, StoreError> {
        let found = with_db!(self.store, |pool| {
            let user: Option<User> = sqlx::query_as(
                "SELECT id, username, display_name, email, unit_id, disabled FROM users WHERE username = $1",
            )
            .bind(username)
            .fetch_optional(pool)
            .await?;
            match user {
                None => None,
                Some(mut u) => {
                    let roles: Vec<String> = sqlx::query_scalar(
                        "SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role",
                    )
                    .bind(&u.id)
                    .fetch_all(pool)
                    .await?;
                    u.roles = roles.iter().filter_map(|r| r.parse().ok()).collect();
                    Some(u)
                }
            }
        });
        found.ok_or_else(|| StoreError::not_found("người dùng", username))
    }

    /// The engine's view of a user: roles, and the units they act for (their own and those
    /// merged into it). A disabled user cannot act. System door: what the command line's
    /// `--as USER` names.
    #[tracing::instrument(skip_all, fields(user = %username))]
    pub async fn actor(&self, username: &str) -> Result<Actor, StoreError> {
        let user = self.user(username).await?;
        if user.disabled {
            return Err(StoreError::Invalid(format!(
                "Tài khoản `{username}` đã bị khóa."
            )));
        }
        let (units, read_units) = match &user.unit_id {
            Some(u) => super::units::units_of_user(self.store, u).await?,
            None => (Vec::new(), Vec::new()),
        };
        Ok(Actor {
            user: user.username,
            roles: user.roles,
            units,
            read_units,
        })
    }

    /// Users holding `role`; for unit roles, only those of `unit` (or of the unit it was merged
    /// into, who inherited its tasks). System door, for the email relay.
    #[tracing::instrument(skip_all, fields(role = %role.as_str()))]
    pub async fn users_with_role(
        &self,
        role: Role,
        unit: Option<&str>,
    ) -> Result<Vec<User>, StoreError> {
        let names: Vec<String> = with_db!(self.store, |pool| {
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
                    if merged_units(self.store, own)
                        .await?
                        .iter()
                        .any(|x| x == task_unit)
                    {
                        out.push(u);
                    }
                }
                (_, true, _) => {}
                _ => out.push(u),
            }
        }
        Ok(out)
    }

    /// The leadership (`lanh_dao_so`) of the departments whose reviewers hold one of
    /// `departments` (`skhcn`, `so_tai_chinh`): the leaders whose unit is the unit of such a
    /// reviewer. With no department named, every department's leadership. System door, for the
    /// email relay: a late appraiser's own director hears first, not every director.
    #[tracing::instrument(skip_all)]
    pub async fn department_leads(&self, departments: &[Role]) -> Result<Vec<User>, StoreError> {
        let leads = self.users_with_role(Role::LanhDaoSo, None).await?;
        if departments.is_empty() {
            return Ok(leads);
        }
        let mut units: Vec<String> = Vec::new();
        for d in departments {
            let found: Vec<String> = with_db!(self.store, |pool| {
                sqlx::query_scalar(
                    "SELECT DISTINCT u.unit_id FROM users u JOIN user_roles r ON r.user_id = u.id WHERE r.role = $1 AND u.unit_id IS NOT NULL",
                )
                .bind(d.as_str())
                .fetch_all(pool)
                .await?
            });
            units.extend(found);
        }
        Ok(leads
            .into_iter()
            .filter(|u| u.unit_id.as_ref().is_some_and(|own| units.contains(own)))
            .collect())
    }
}
