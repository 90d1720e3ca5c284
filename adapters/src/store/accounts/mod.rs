//! Accounts: sign-in, sessions, API tokens, passwords, and the administration of users'
//! accounts.
//!
//! Passwords are stored as argon2id PHC strings (default parameters, a random salt each), hashed
//! off the async runtime; the policy they must meet is `engine::input::Password`'s. Sessions and
//! API tokens are 256-bit random secrets handed to the client once and stored only as their
//! sha256, so a copy of the database signs nobody in. A session expires when idle for longer than
//! the policy says (each use slides `expires_at` forward, never past `absolute_until`) and is
//! revoked by signing out, by a password change and by disabling the user, who also loses their
//! tokens. Failed sign-ins are recorded in the database, so the limit holds across restarts and
//! across instances, and counted per user name and per client address over a sliding window.
//!
//! Who may manage users, issue or revoke tokens is asked of [`engine::access`]; this module only
//! applies the answers.
//!
//! - [`sign_in`]: signing in and out, and the identity behind a session or a token;
//! - [`passwords`]: hashing, setting and changing passwords;
//! - [`tokens`]: issuing, listing and revoking API tokens;
//! - [`identities`]: the in-memory cache of token identities and its watcher.

mod identities;
mod passwords;
mod sign_in;
mod tokens;

use chrono::TimeDelta;
use engine::Role;
use engine::access::{self, Area, Scope};
use engine::decide::Actor;
use engine::time::Instant;
use serde::Serialize;

use super::audit::hex;
use super::sql::{Arg, Conn};
use super::{Store, StoreError, User, micros, with_db};

pub(crate) use identities::IdentityCache;

/// The accounts' doors: see [`Store::accounts`].
#[derive(Clone, Copy)]
pub struct Accounts<'a> {
    pub(super) store: &'a Store,
}

/// How long sessions live and how many failed sign-ins are tolerated.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    /// A session unused for this long has expired.
    pub session_idle: TimeDelta,
    /// No session outlives this, however busy.
    pub session_absolute: TimeDelta,
    /// Failed sign-ins for one user name within `failure_window` before sign-in is refused.
    pub failures_per_user: u32,
    /// Failed sign-ins from one address within `failure_window` (higher: offices share an
    /// address behind their gateway).
    pub failures_per_address: u32,
    pub failure_window: TimeDelta,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        AuthPolicy {
            session_idle: TimeDelta::minutes(30),
            session_absolute: TimeDelta::hours(12),
            failures_per_user: 5,
            failures_per_address: 20,
            failure_window: TimeDelta::minutes(15),
        }
    }
}

/// How an identity was proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A session cookie; `id_hash` names the session row.
    Session { id_hash: String },
    /// An API token.
    Token { id: String },
}

/// Who is asking, as established by a session or a token: the user, the engine's actor (with
/// the roles the credential's scope allows) and the scope.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: User,
    pub actor: Actor,
    pub scope: Scope,
    pub credential: Credential,
}

/// A new session: `secret` goes into the cookie and is not kept.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub secret: String,
    pub expires_at: Instant,
    pub absolute_until: Instant,
    pub identity: Identity,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown user, wrong password, no password set or a disabled account: one answer for
    /// all, so that sign-in does not reveal which user names exist.
    #[error("Tên đăng nhập hoặc mật khẩu không đúng.")]
    BadCredentials,
    #[error(
        "Đăng nhập sai quá nhiều lần; tạm khóa đăng nhập, hãy thử lại sau {} giây.",
        retry_after_secs
    )]
    RateLimited { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SignInError {
    fn from(e: sqlx::Error) -> Self {
        SignInError::Store(e.into())
    }
}

/// A user as administrators see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Account {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub user: User,
    pub has_password: bool,
}

/// An API token without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    pub id: String,
    pub username: String,
    pub name: String,
    /// The first characters of the token, to recognise it in a list.
    pub prefix: String,
    pub scope: String,
    pub created_at: Instant,
    pub expires_at: Option<Instant>,
    pub last_used_at: Option<Instant>,
    pub revoked_at: Option<Instant>,
}

/// A token just issued: `secret` is shown once and not kept.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: ApiToken,
    pub secret: String,
}

/// What one credential lookup found.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) credential_id: String,
    pub(crate) scope: String,
    pub(crate) expires: Option<Instant>,
    pub(crate) absolute: Option<Instant>,
    pub(crate) last_used: Option<Instant>,
    pub(crate) revoked: Option<Instant>,
    pub(crate) user: User,
    pub(crate) units: Vec<String>,
}

impl Found {
    fn identity(self, scope: Scope, credential: Credential) -> Identity {
        let actor = Actor {
            user: self.user.username.clone(),
            roles: access::effective_roles(&self.user.roles, scope),
            units: self.units,
        };
        Identity {
            user: self.user,
            actor,
            scope,
            credential,
        }
    }
}

/// API tokens start with this, so that a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "tdo_";
/// Uses of a session or token less than this apart do not rewrite its row: the database is not
/// written on every request, and an idle timeout of minutes loses nothing to it.
const TOUCH_EVERY: TimeDelta = TimeDelta::seconds(60);

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes[..]);
    hex(&bytes)
}

/// Revokes every live session of a user (a password change, a disabled account).
async fn revoke_sessions(
    conn: &mut Conn<'_>,
    user_id: &str,
    now: Instant,
) -> Result<(), sqlx::Error> {
    conn.execute(
        "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        &[Arg::Str(user_id), Arg::Time(now)],
    )
    .await?;
    Ok(())
}

/// Runs CPU-heavy work (password hashing) off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::internal(format!("password hashing task failed: {e}")))
}

impl Accounts<'_> {
    /// Disables a user, for an administrator who is not that user ([`access::may_disable_user`]).
    #[tracing::instrument(skip_all, fields(actor = %actor.user, user = %username))]
    pub async fn disable_user_as(
        &self,
        actor: &Actor,
        username: &str,
        now: Instant,
    ) -> Result<User, StoreError> {
        access::may_manage(actor, Area::Users)?;
        access::may_disable_user(actor, username)
            .map_err(|refused| StoreError::Invalid(refused.to_string()))?;
        self.disable_user(username, now).await
    }

    /// Disables a user: they can no longer sign in or act, and their sessions and tokens are
    /// revoked. Their history stays. System door: no access rule.
    #[tracing::instrument(skip_all, fields(user = %username))]
    pub async fn disable_user(&self, username: &str, now: Instant) -> Result<User, StoreError> {
        let directory = self.store.directory();
        let user = directory.user(username).await?;
        let now = micros(now);
        with_db!(self.store, |pool| {
            let mut tx = pool.begin().await?;
            let mut conn = Conn::from(&mut *tx);
            conn.execute(
                "UPDATE users SET disabled = $2 WHERE id = $1",
                &[Arg::Str(&user.id), Arg::Bool(true)],
            )
            .await?;
            revoke_sessions(&mut conn, &user.id, now).await?;
            conn.execute(
                "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                &[Arg::Str(&user.id), Arg::Time(now)],
            )
            .await?;
            tx.commit().await?;
        });
        self.store.identity_changed();
        directory.user(username).await
    }

    /// Enables a disabled user again, for an administrator.
    #[tracing::instrument(skip_all, fields(actor = %actor.user, user = %username))]
    pub async fn enable_user_as(&self, actor: &Actor, username: &str) -> Result<User, StoreError> {
        access::may_manage(actor, Area::Users)?;
        self.enable_user(username).await
    }

    /// Re-enables a disabled user. Revoked sessions and tokens stay revoked. System door: no
    /// access rule.
    #[tracing::instrument(skip_all, fields(user = %username))]
    pub async fn enable_user(&self, username: &str) -> Result<User, StoreError> {
        let directory = self.store.directory();
        let user = directory.user(username).await?;
        with_db!(self.store, |pool| {
            sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
                .bind(&user.id)
                .bind(false)
                .execute(pool)
                .await?;
        });
        self.store.identity_changed();
        directory.user(username).await
    }

    /// Every user with their roles and whether a password is set, for administrators.
    #[tracing::instrument(skip_all, fields(actor = %actor.user))]
    pub async fn accounts_as(&self, actor: &Actor) -> Result<Vec<Account>, StoreError> {
        access::may_manage(actor, Area::Users)?;
        let (accounts, roles): (Vec<Account>, Vec<(String, String)>) =
            with_db!(self.store, |pool| {
                let accounts = sqlx::query_as(
                    "SELECT u.id, u.username, u.display_name, u.email, u.unit_id, u.disabled, \
                 (p.user_id IS NOT NULL) AS has_password \
                 FROM users u LEFT JOIN user_passwords p ON p.user_id = u.id ORDER BY u.username",
                )
                .fetch_all(pool)
                .await?;
                let roles =
                    sqlx::query_as("SELECT user_id, role FROM user_roles ORDER BY user_id, role")
                        .fetch_all(pool)
                        .await?;
                (accounts, roles)
            });
        Ok(accounts
            .into_iter()
            .map(|mut a| {
                a.user.roles = roles
                    .iter()
                    .filter(|(u, _)| *u == a.user.id)
                    .filter_map(|(_, r)| r.parse::<Role>().ok())
                    .collect();
                a
            })
            .collect())
    }
}
