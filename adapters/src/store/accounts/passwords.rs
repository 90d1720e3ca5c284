//! Passwords: argon2id hashes, set by an administrator or the shell, changed by their owner.
//! The policy they must meet is `engine::input::Password`'s.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use engine::access::{self, Area};
use engine::decide::Actor;
use engine::input::Password;
use engine::time::Instant;

use super::super::sql::{Arg, Conn};
use super::super::{Store, StoreError, micros, with_db};
use super::{
    Accounts, AuthPolicy, Identity, PasswordChanged, SignInError, blocking, random_secret,
    revoke_sessions, revoke_tokens,
};

fn hash(password: &str) -> Result<String, StoreError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h: PasswordHash| h.to_string())
        .map_err(|e| StoreError::internal(format!("cannot hash a password: {e}")))
}

pub(super) fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of nothing anyone knows, verified against when the user does not exist, so that an
/// unknown user name takes as long to refuse as a wrong password.
pub(super) fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash(&random_secret()).unwrap_or_default())
}

/// The stored hash of a user's password, if one is set.
pub(super) async fn hash_of(store: &Store, user_id: &str) -> Result<Option<String>, StoreError> {
    Ok(with_db!(store, |pool| {
        sqlx::query_scalar("SELECT hash FROM user_passwords WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await?
    }))
}

impl Accounts<'_> {
    /// An administrator sets another user's password; their sessions and tokens are revoked.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, user = %username))]
    pub async fn set_password_as(
        &self,
        actor: &Actor,
        username: &str,
        password: &str,
        now: Instant,
    ) -> Result<PasswordChanged, StoreError> {
        access::may_manage(actor, Area::Users)?;
        self.set_password(username, password, now).await
    }

    /// Sets (or replaces) a user's password and revokes their sessions and API tokens: whoever
    /// held a credential of the old password holds nothing now. System door, for the shell's
    /// `tiendo user passwd`: no access rule, the policy still applies.
    #[tracing::instrument(skip_all, fields(user = %username))]
    pub async fn set_password(
        &self,
        username: &str,
        password: &str,
        now: Instant,
    ) -> Result<PasswordChanged, StoreError> {
        let user = self.store.directory().user(username).await?;
        let password = Password::parse_for(&user.username, &user.display_name, password)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let phc = blocking(move || hash(password.expose())).await??;
        let now = micros(now);
        let changed = with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            conn.execute(
                "INSERT INTO user_passwords (user_id, hash, changed_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, changed_at = excluded.changed_at",
                &[Arg::Str(&user.id), Arg::Str(&phc), Arg::Time(now)],
            )
            .await?;
            let revoked_sessions = revoke_sessions(&mut conn, &user.id, now).await?;
            let revoked_tokens = revoke_tokens(&mut conn, &user.id, now).await?;
            tx.commit().await?;
            PasswordChanged {
                revoked_sessions,
                revoked_tokens,
            }
        });
        self.store.identity_changed();
        Ok(changed)
    }

    /// A user changes their own password, proving the current one. A wrong current password
    /// counts as a failed sign-in of that user from `address`, under the same limit
    /// ([`AuthPolicy`]): the form is no password oracle. Their sessions and tokens are revoked
    /// (the caller signs in again).
    #[tracing::instrument(skip_all, fields(actor = %identity.actor.user))]
    pub async fn change_password_as(
        &self,
        identity: &Identity,
        current: &str,
        new: &str,
        address: &str,
        policy: &AuthPolicy,
        now: Instant,
    ) -> Result<PasswordChanged, SignInError> {
        access::may_change_own_password(identity.scope).map_err(StoreError::from)?;
        let username = identity.user.username.as_str();
        if let Some(retry_after_secs) = self.sign_in_blocked(username, address, policy, now).await?
        {
            return Err(SignInError::RateLimited { retry_after_secs });
        }
        let phc = hash_of(self.store, &identity.user.id).await?;
        let cur = current.to_string();
        let ok = match phc {
            Some(phc) => blocking(move || verify(&cur, &phc)).await?,
            None => false,
        };
        if !ok {
            self.record_failure(username, address, policy, now).await?;
            return Err(SignInError::WrongCurrentPassword);
        }
        Ok(self.set_password(username, new, now).await?)
    }
}
