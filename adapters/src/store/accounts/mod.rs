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
//! across instances, and counted per (address, user name), per address and per user name over a
//! sliding window (see [`AuthPolicy`]).
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

use super::sql::{Arg, Conn};
use super::{Store, StoreError, User, micros, with_db};

pub(crate) use identities::IdentityCache;

/// The accounts' doors: see [`Store::accounts`].
#[derive(Clone, Copy)]
pub struct Accounts<'a> {
    pub(super) store: &'a Store,
}

/// How long sessions live and how many failed sign-ins are tolerated.
///
/// Failed sign-ins (and wrong current passwords on a password change) are counted three ways
/// over a sliding `failure_window`, so that the limit protects accounts without becoming a
/// weapon against them:
///
/// - per **(address, user name)**: `failures_per_user` failures lock that user name *from that
///   address* until the oldest leaves the window; whoever else shares the address (an office
///   behind its gateway, every user behind the TLS proxy) is not concerned;
/// - per **address**, whatever the user names: `failures_per_address`, a much higher ceiling
///   against one address trying many names;
/// - per **user name**, from every address: past `failures_per_user` failures, each further try
///   must wait a delay that doubles from one second with each failure, up to `max_delay`: a
///   distributed guesser is slowed to a crawl, and the account's owner, from their own address,
///   waits seconds rather than being locked out for a quarter of an hour.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    /// A session unused for this long has expired.
    pub session_idle: TimeDelta,
    /// No session outlives this, however busy.
    pub session_absolute: TimeDelta,
    /// Failed sign-ins for one user name from one address within `failure_window` before that
    /// pair is refused; also where the account's progressive delay starts.
    pub failures_per_user: u32,
    /// Failed sign-ins from one address within `failure_window`, whatever the user names.
    pub failures_per_address: u32,
    pub failure_window: TimeDelta,
    /// The longest progressive delay of an account tried from many addresses.
    pub max_delay: TimeDelta,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        AuthPolicy {
            session_idle: TimeDelta::minutes(30),
            session_absolute: TimeDelta::hours(12),
            failures_per_user: 5,
            failures_per_address: 100,
            failure_window: TimeDelta::minutes(15),
            max_delay: TimeDelta::minutes(1),
        }
    }
}

impl AuthPolicy {
    /// The wait an account owes after `failures` failed sign-ins from all addresses within the
    /// window: none up to `failures_per_user`, then 1 s, 2 s, 4 s… up to `max_delay`.
    pub fn account_delay(&self, failures: u32) -> TimeDelta {
        let Some(over) = failures.checked_sub(self.failures_per_user.max(1)) else {
            return TimeDelta::zero();
        };
        let secs = 1i64.checked_shl(over.min(40)).unwrap_or(i64::MAX);
        TimeDelta::seconds(secs).min(self.max_delay)
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
    /// A password change whose current password is wrong (counted as a failed sign-in).
    #[error("Mật khẩu hiện tại không đúng.")]
    WrongCurrentPassword,
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
    /// Units only read (the user's unit was merged into another).
    pub(crate) read_units: Vec<String>,
}

impl Found {
    fn identity(self, scope: Scope, credential: Credential) -> Identity {
        let actor = Actor {
            user: self.user.username.clone(),
            roles: access::effective_roles(&self.user.roles, scope),
            units: self.units,
            read_units: self.read_units,
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
    hex::encode(bytes)
}

/// Revokes every live session of a user (a password change, a disabled account); returns how
/// many.
async fn revoke_sessions(
    conn: &mut Conn<'_>,
    user_id: &str,
    now: Instant,
) -> Result<u64, sqlx::Error> {
    conn.execute(
        "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        &[Arg::Str(user_id), Arg::Time(now)],
    )
    .await
}

/// Revokes every live API token of a user (a password change, a disabled account); returns how
/// many. The caller calls [`Store::identity_changed`] once committed.
async fn revoke_tokens(
    conn: &mut Conn<'_>,
    user_id: &str,
    now: Instant,
) -> Result<u64, sqlx::Error> {
    conn.execute(
        "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        &[Arg::Str(user_id), Arg::Time(now)],
    )
    .await
}

/// What a password change revoked: every session and every API token of the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PasswordChanged {
    pub revoked_sessions: u64,
    pub revoked_tokens: u64,
}

impl PasswordChanged {
    /// The Vietnamese sentence telling the user what was revoked.
    pub fn message(&self) -> String {
        format!(
            "Đã đổi mật khẩu; đã thu hồi {} phiên đăng nhập và {} token API của người dùng này (cần đăng nhập lại, tạo token mới cho các hệ thống tích hợp).",
            self.revoked_sessions, self.revoked_tokens
        )
    }
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
            revoke_tokens(&mut conn, &user.id, now).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_delay_doubles_from_the_limit_up_to_its_ceiling() {
        let p = AuthPolicy::default();
        let secs = |n| p.account_delay(n).num_seconds();
        assert_eq!((secs(0), secs(4)), (0, 0));
        assert_eq!((secs(5), secs(6), secs(7), secs(10)), (1, 2, 4, 32));
        assert_eq!((secs(11), secs(1000), secs(u32::MAX)), (60, 60, 60));
    }
}
