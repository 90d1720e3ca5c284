//! Changing who a user is: their roles, unit and display name (administrators; issue 12's
//! user administration page). Adding, disabling and passwords are in `auth`.

use engine::Role;
use engine::access::{self, Area};
use engine::decide::Actor;

use super::{Store, StoreError, User, with_db};

impl Store {
    /// Replaces a user's roles, unit and display name, as an administrator. The same rules as
    /// adding a user: at least one role, and a unit for the unit roles. An administrator cannot
    /// take the administrator role from themself (someone must be left to give it back). The
    /// user's sessions stay valid and act with the new roles from their next request.
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
        if roles.is_empty() {
            return Err(StoreError::Invalid(
                "Người dùng cần ít nhất một vai trò: don_vi, thu_truong_don_vi, skhcn, so_tai_chinh, ubnd, admin.".into(),
            ));
        }
        if actor.user == username && !roles.contains(&Role::Admin) {
            return Err(StoreError::Invalid(
                "Không thể tự bỏ vai trò quản trị của chính mình; hãy nhờ một quản trị viên khác."
                    .into(),
            ));
        }
        match unit_id {
            Some(u) => {
                self.unit(u).await?;
            }
            None if roles.iter().any(|r| r.is_unit_role()) => {
                return Err(StoreError::Invalid(
                    "Vai trò cán bộ đơn vị (don_vi) và thủ trưởng đơn vị (thu_truong_don_vi) cần có đơn vị.".into(),
                ));
            }
            None => {}
        }
        let display = display_name
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .unwrap_or(&user.display_name)
            .to_string();
        with_db!(self, |pool| {
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
        self.identity_changed();
        self.user(username).await
    }
}
