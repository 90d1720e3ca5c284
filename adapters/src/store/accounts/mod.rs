//! Sign-in: passwords, sessions, API tokens and the rate limit on failed sign-ins.
//!
//! Passwords are stored as argon2id PHC strings (default parameters, a random salt each), hashed
//! off the async runtime. Sessions and API tokens are 256-bit random secrets handed to the client
//! once and stored only as their sha256, so a copy of the database signs nobody in. A session
//! expires when idle for longer than the policy says (each use slides `expires_at` forward, never
//! past `absolute_until`) and is revoked by signing out, by a password change and by disabling
//! the user, who also loses their tokens. Failed sign-ins are recorded in the database, so the
//! limit holds across restarts and across instances, and counted per user name and per client
//! address over a sliding window.
//!
//! Who may manage users, issue or revoke tokens is asked of [`engine::access`]; this module only
//! applies the answers.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::TimeDelta;
use engine::Role;
use engine::access::{self, Area, Scope};
use engine::decide::Actor;
use engine::time::Instant;
use serde::Serialize;
use sqlx::Row;

use super::audit::hex;
use super::directory::{micros, new_id};
use super::{NewUser, Store, StoreError, User, sha256_hex, with_db};

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    #[serde(flatten)]
    pub user: User,
    pub has_password: bool,
}

/// An API token without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// A credential lookup: the credential's columns (`$cred`), its user's, one row per role
/// (`LEFT JOIN`: a user without roles still has a row), and whether any unit was merged into the
/// user's. That last case is rare and sends [`Store::merged_units`] down the merge tree;
/// otherwise the unit acted for is the user's own, and the lookup is one plain indexed query,
/// cheap enough to run on every request.
macro_rules! credential_lookup {
    ($cred:literal, $from:literal) => {
        concat!(
            "SELECT ",
            $cred,
            ", u.id, u.username, u.display_name, u.email, u.unit_id, u.disabled, r.role, \
             EXISTS (SELECT 1 FROM units m WHERE m.merged_into = u.unit_id) AS absorbed \
             FROM ",
            $from,
            " LEFT JOIN user_roles r ON r.user_id = u.id ORDER BY r.role"
        )
    };
}

const SESSION_LOOKUP: &str = credential_lookup!(
    "s.id_hash AS credential_id, 'full' AS scope, s.expires_at, s.absolute_until, \
     s.last_seen_at AS last_used_at, s.revoked_at",
    "sessions s JOIN users u ON u.id = s.user_id AND s.id_hash = $1"
);

const TOKEN_LOOKUP: &str = credential_lookup!(
    "t.id AS credential_id, t.scope, t.expires_at, t.expires_at AS absolute_until, \
     t.last_used_at, t.revoked_at",
    "api_tokens t JOIN users u ON u.id = t.user_id AND t.token_hash = $1"
);

/// API tokens start with this, so that a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "tdo_";
/// Passwords are at least this many characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// And at most this many bytes: argon2 takes any length, but a megabyte "password" is an attack.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Uses of a session or token less than this apart do not rewrite its row: the database is not
/// written on every request, and an idle timeout of minutes loses nothing to it.
const TOUCH_EVERY: TimeDelta = TimeDelta::seconds(60);
/// Client-supplied text recorded with a failed sign-in is cut to this many characters.
const MAX_RECORDED: usize = 64;

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes[..]);
    hex(&bytes)
}

/// Client-supplied text as recorded: short, and without control characters (PostgreSQL
/// refuses NUL in text, and a log reader should not meet escape sequences).
fn cut(s: &str) -> String {
    s.chars()
        .take(MAX_RECORDED)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Characters no user-typed text needs and that can make text read as something else: control
/// characters, bidirectional overrides and isolates, zero-width marks, the byte-order mark and
/// non-characters. Names, comments, identifiers and passwords refuse them.
pub fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{FFFE}'
                | '\u{FFFF}'
        )
}

/// The password rules, in Vietnamese when broken.
pub fn check_password_policy(username: &str, password: &str) -> Result<(), StoreError> {
    let chars = password.chars().count();
    let invalid = |why: &str| {
        Err(StoreError::Invalid(format!(
            "Mật khẩu không hợp lệ: {why}. Mật khẩu cần từ {MIN_PASSWORD_CHARS} ký tự trở lên (tối đa {MAX_PASSWORD_BYTES} byte), không chứa tên đăng nhập và không chứa ký tự điều khiển."
        )))
    };
    if chars < MIN_PASSWORD_CHARS {
        return invalid(&format!("chỉ có {chars} ký tự"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return invalid("quá dài");
    }
    if password.chars().any(is_hidden_char) {
        return invalid("chứa ký tự điều khiển hoặc ký tự ẩn");
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return invalid("chứa tên đăng nhập");
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return invalid("chỉ lặp lại một ký tự");
    }
    Ok(())
}

fn hash_password(password: &str) -> Result<String, StoreError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h: PasswordHash| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("Không băm được mật khẩu: {e}")))
}

fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of nothing anyone knows, verified against when the user does not exist, so that an
/// unknown user name takes as long to refuse as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_secret()).unwrap_or_default())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Invalid(format!("password hashing task failed: {e}")))
}

/// The user columns of a row (roles are read separately).
fn user_from_row<R: Row>(r: &R) -> Result<User, sqlx::Error>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    String: for<'d> sqlx::Decode<'d, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'d> sqlx::Decode<'d, R::Database> + sqlx::Type<R::Database>,
    bool: for<'d> sqlx::Decode<'d, R::Database> + sqlx::Type<R::Database>,
{
    Ok(User {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        email: r.try_get("email")?,
        unit_id: r.try_get("unit_id")?,
        roles: Vec::new(),
        disabled: r.try_get("disabled")?,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Store {
    /// Sets (or replaces) a user's password and revokes their sessions. Administrators and the
    /// CLI call this; users changing their own go through [`Store::change_own_password`].
    pub async fn set_password(
        &self,
        username: &str,
        password: &str,
        now: Instant,
    ) -> Result<(), StoreError> {
        let user = self.user(username).await?;
        check_password_policy(&user.username, password)?;
        let pw = password.to_string();
        let phc = blocking(move || hash_password(&pw)).await??;
        let now = micros(now);
        with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO user_passwords (user_id, hash, changed_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, changed_at = excluded.changed_at",
            )
            .bind(&user.id)
            .bind(&phc)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            )
            .bind(&user.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// An administrator sets another user's password.
    pub async fn set_password_as(
        &self,
        actor: &Actor,
        username: &str,
        password: &str,
        now: Instant,
    ) -> Result<(), StoreError> {
        access::may_manage(actor, Area::Users)?;
        self.set_password(username, password, now).await
    }

    /// A user changes their own password, proving the current one. Their other sessions are
    /// revoked (the caller signs in again).
    pub async fn change_own_password(
        &self,
        identity: &Identity,
        current: &str,
        new: &str,
        now: Instant,
    ) -> Result<(), StoreError> {
        access::may_change_own_password(identity.scope)?;
        let phc = self.password_hash(&identity.user.id).await?;
        let cur = current.to_string();
        let ok = match phc {
            Some(phc) => blocking(move || verify_password(&cur, &phc)).await?,
            None => false,
        };
        if !ok {
            return Err(StoreError::Invalid("Mật khẩu hiện tại không đúng.".into()));
        }
        self.set_password(&identity.user.username, new, now).await
    }

    async fn password_hash(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        Ok(with_db!(self, |pool| {
            sqlx::query_scalar("SELECT hash FROM user_passwords WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Disables a user: they can no longer sign in or act, and their sessions and tokens are
    /// revoked. Their history stays.
    pub async fn disable_user(&self, username: &str, now: Instant) -> Result<User, StoreError> {
        let user = self.user(username).await?;
        let now = micros(now);
        with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
                .bind(&user.id)
                .bind(true)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            )
            .bind(&user.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            )
            .bind(&user.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        self.identity_changed();
        self.user(username).await
    }

    pub async fn disable_user_as(
        &self,
        actor: &Actor,
        username: &str,
        now: Instant,
    ) -> Result<User, StoreError> {
        access::may_manage(actor, Area::Users)?;
        if actor.user == username {
            return Err(StoreError::Invalid(
                "Không thể tự khóa tài khoản của chính mình; hãy nhờ một quản trị viên khác."
                    .into(),
            ));
        }
        self.disable_user(username, now).await
    }

    /// Re-enables a disabled user. Revoked sessions and tokens stay revoked.
    pub async fn enable_user(&self, username: &str) -> Result<User, StoreError> {
        let user = self.user(username).await?;
        with_db!(self, |pool| {
            sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
                .bind(&user.id)
                .bind(false)
                .execute(pool)
                .await?;
        });
        self.identity_changed();
        self.user(username).await
    }

    pub async fn enable_user_as(&self, actor: &Actor, username: &str) -> Result<User, StoreError> {
        access::may_manage(actor, Area::Users)?;
        self.enable_user(username).await
    }

    /// An administrator adds a user, optionally with a first password.
    pub async fn add_user_as(
        &self,
        actor: &Actor,
        new: NewUser,
        password: Option<&str>,
        now: Instant,
    ) -> Result<User, StoreError> {
        access::may_manage(actor, Area::Users)?;
        if let Some(p) = password {
            check_password_policy(&new.username, p)?;
        }
        let user = self.add_user(new, now).await?;
        if let Some(p) = password {
            self.set_password(&user.username, p, now).await?;
        }
        Ok(user)
    }

    /// Every user, for administrators.
    pub async fn accounts_as(&self, actor: &Actor) -> Result<Vec<Account>, StoreError> {
        access::may_manage(actor, Area::Users)?;
        let accounts: Vec<Account> = with_db!(self, |pool| {
            let rows = sqlx::query(
                "SELECT u.id, u.username, u.display_name, u.email, u.unit_id, u.disabled, \
                 (p.user_id IS NOT NULL) AS has_password \
                 FROM users u LEFT JOIN user_passwords p ON p.user_id = u.id ORDER BY u.username",
            )
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(Account {
                    user: user_from_row(r)?,
                    has_password: r.try_get("has_password")?,
                });
            }
            out
        });
        let roles: Vec<(String, String)> = with_db!(self, |pool| {
            sqlx::query_as("SELECT user_id, role FROM user_roles ORDER BY user_id, role")
                .fetch_all(pool)
                .await?
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

    /// One user's record: the user themself or an administrator.
    pub async fn user_as(&self, actor: &Actor, username: &str) -> Result<User, StoreError> {
        access::may_read_user(actor, username)?;
        self.user(username).await
    }

    /// Signs a user in from `address`, or refuses. See the module documentation.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        address: &str,
        policy: &AuthPolicy,
        now: Instant,
    ) -> Result<SignedIn, SignInError> {
        let now = micros(now);
        let name = cut(username);
        let address = cut(address);
        if let Some(retry_after_secs) = self.sign_in_blocked(&name, &address, policy, now).await? {
            return Err(SignInError::RateLimited { retry_after_secs });
        }
        // A name that cannot be a user name names nobody; it is not looked up.
        let user = match engine::domain::Username::parse(username) {
            Err(_) => None,
            Ok(valid) => match self.user(valid.as_str()).await {
                Ok(u) => Some(u),
                Err(StoreError::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            },
        };
        let phc = match &user {
            Some(u) if !u.disabled => self.password_hash(&u.id).await?,
            _ => None,
        };
        let pw = password.to_string();
        let hashing = std::time::Instant::now();
        let ok = match phc {
            Some(phc) => blocking(move || verify_password(&pw, &phc)).await?,
            None => {
                blocking(move || verify_password(&pw, decoy_hash())).await?;
                false
            }
        };
        // The session starts when it is granted, not when the (slow) hashing began.
        let now = micros(now + TimeDelta::from_std(hashing.elapsed()).unwrap_or_default());
        let Some(user) = user.filter(|_| ok) else {
            self.record_failure(&name, &address, policy, now).await?;
            return Err(SignInError::BadCredentials);
        };
        let secret = random_secret();
        let id_hash = sha256_hex(secret.as_bytes());
        let absolute_until = now + policy.session_absolute;
        let expires_at = (now + policy.session_idle).min(absolute_until);
        with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM sign_in_failures WHERE username = $1")
                .bind(&name)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, absolute_until, revoked_at, address) \
                 VALUES ($1, $2, $3, $3, $4, $5, NULL, $6)",
            )
            .bind(&id_hash)
            .bind(&user.id)
            .bind(now)
            .bind(expires_at)
            .bind(absolute_until)
            .bind(&address)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        let identity = self
            .identity_of(user, Scope::Full, Credential::Session { id_hash })
            .await?;
        Ok(SignedIn {
            secret,
            expires_at,
            absolute_until,
            identity,
        })
    }

    /// Seconds until sign-in is allowed again for this user name or address, if it is blocked.
    async fn sign_in_blocked(
        &self,
        username: &str,
        address: &str,
        policy: &AuthPolicy,
        now: Instant,
    ) -> Result<Option<u64>, StoreError> {
        let since = now - policy.failure_window;
        let mut wait: Option<i64> = None;
        for (column, value, limit) in [
            ("username", username, policy.failures_per_user),
            ("address", address, policy.failures_per_address),
        ] {
            let limit = i64::from(limit.max(1));
            // The limit-th most recent failure in the window: when it leaves the window, the
            // count drops below the limit again.
            let sql = format!(
                "SELECT at FROM sign_in_failures WHERE {column} = $1 AND at > $2 ORDER BY at DESC LIMIT 1 OFFSET $3"
            );
            let at: Option<Instant> = with_db!(self, |pool| {
                // `column` is one of the two constant names above.
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(value)
                    .bind(since)
                    .bind(limit - 1)
                    .fetch_optional(pool)
                    .await?
            });
            if let Some(at) = at {
                let secs = (at + policy.failure_window - now).num_seconds().max(1);
                wait = Some(wait.map_or(secs, |w| w.max(secs)));
            }
        }
        Ok(wait.map(|w| u64::try_from(w).unwrap_or(1)))
    }

    async fn record_failure(
        &self,
        username: &str,
        address: &str,
        policy: &AuthPolicy,
        now: Instant,
    ) -> Result<(), StoreError> {
        // Failures older than the window count for nothing: forget them as new ones arrive.
        let forget_before = now - policy.failure_window;
        with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM sign_in_failures WHERE at <= $1")
                .bind(forget_before)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO sign_in_failures (id, username, address, at) VALUES ($1, $2, $3, $4)",
            )
            .bind(new_id())
            .bind(username)
            .bind(address)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Revokes the session whose cookie carries `secret`; an unknown one is already gone.
    pub async fn sign_out(&self, secret: &str, now: Instant) -> Result<(), StoreError> {
        let id_hash = sha256_hex(secret.as_bytes());
        with_db!(self, |pool| {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $2 WHERE id_hash = $1 AND revoked_at IS NULL",
            )
            .bind(&id_hash)
            .bind(micros(now))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The identity behind a session cookie, if the session is live; slides its expiry.
    pub async fn identity_from_session(
        &self,
        secret: &str,
        policy: &AuthPolicy,
        now: Instant,
    ) -> Result<Option<Identity>, StoreError> {
        let now = micros(now);
        let id_hash = sha256_hex(secret.as_bytes());
        let Some(found) = self.credential_lookup(SESSION_LOOKUP, &id_hash).await? else {
            return Ok(None);
        };
        let last_seen = found.last_used.unwrap_or(now);
        if found.revoked.is_some() || found.user.disabled || found.expires.is_none_or(|e| e <= now)
        {
            return Ok(None);
        }
        // Touch often enough that a short idle limit still slides.
        if now - last_seen >= TOUCH_EVERY.min(policy.session_idle / 4) {
            let absolute = found.absolute.unwrap_or(now);
            let expires = (now + policy.session_idle).min(absolute);
            with_db!(self, |pool| {
                sqlx::query(
                    "UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id_hash = $1",
                )
                .bind(&id_hash)
                .bind(now)
                .bind(expires)
                .execute(pool)
                .await?;
            });
        }
        Ok(Some(
            found.identity(Scope::Full, Credential::Session { id_hash }),
        ))
    }

    /// The identity behind an API token, if the token is live. While a server watches for
    /// identity changes (PostgreSQL), repeat uses are answered from memory: see
    /// [`super::identities`].
    pub async fn identity_from_token(
        &self,
        secret: &str,
        now: Instant,
    ) -> Result<Option<Identity>, StoreError> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let now = micros(now);
        let hash = sha256_hex(secret.as_bytes());
        let found = match self.identities.get(&hash) {
            Some(found) => found,
            None => {
                let generation = self.identities.generation();
                let Some(found) = self.credential_lookup(TOKEN_LOOKUP, &hash).await? else {
                    return Ok(None);
                };
                if let Some(g) = generation {
                    self.identities.put(&hash, &found, g);
                }
                found
            }
        };
        if found.revoked.is_some() || found.user.disabled || found.expires.is_some_and(|e| e <= now)
        {
            return Ok(None);
        }
        let Ok(scope) = Scope::parse(&found.scope) else {
            return Ok(None);
        };
        if found.last_used.is_none_or(|l| now - l >= TOUCH_EVERY) {
            // Only `last_used_at`: the identity triggers leave this column out, so a touch does
            // not empty the cache.
            with_db!(self, |pool| {
                sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                    .bind(&found.credential_id)
                    .bind(now)
                    .execute(pool)
                    .await?;
            });
            self.identities.touched(&hash, now);
        }
        let id = found.credential_id.clone();
        Ok(Some(found.identity(scope, Credential::Token { id })))
    }

    /// A credential, its user, the user's roles and the units they act for (their own, then
    /// those merged into it at any depth, as [`Store::merged_units`] lists them): one query, and
    /// a walk of the merge tree only for a unit that has absorbed others. This runs on every
    /// request.
    async fn credential_lookup(
        &self,
        sql: &'static str,
        hash: &str,
    ) -> Result<Option<Found>, StoreError> {
        let (found, absorbed) = with_db!(self, |pool| {
            let rows = sqlx::query(sql).bind(hash).fetch_all(pool).await?;
            let mut out: Option<Found> = None;
            let mut absorbed = false;
            for r in &rows {
                let found = match &mut out {
                    Some(f) => f,
                    None => {
                        absorbed = r.try_get("absorbed")?;
                        out.insert(Found {
                            credential_id: r.try_get("credential_id")?,
                            scope: r.try_get("scope")?,
                            expires: r.try_get("expires_at")?,
                            absolute: r.try_get("absolute_until")?,
                            last_used: r.try_get("last_used_at")?,
                            revoked: r.try_get("revoked_at")?,
                            user: user_from_row(r)?,
                            units: Vec::new(),
                        })
                    }
                };
                let role: Option<String> = r.try_get("role")?;
                if let Some(role) = role.and_then(|v| v.parse::<Role>().ok()) {
                    found.user.roles.push(role);
                }
            }
            (out, absorbed)
        });
        let Some(mut found) = found else {
            return Ok(None);
        };
        found.units = match &found.user.unit_id {
            Some(unit) if absorbed => self.merged_units(unit).await?,
            Some(unit) => vec![unit.clone()],
            None => Vec::new(),
        };
        Ok(Some(found))
    }

    async fn identity_of(
        &self,
        user: User,
        scope: Scope,
        credential: Credential,
    ) -> Result<Identity, StoreError> {
        let units = match &user.unit_id {
            Some(u) => self.merged_units(u).await?,
            None => Vec::new(),
        };
        let actor = Actor {
            user: user.username.clone(),
            roles: access::effective_roles(&user.roles, scope),
            units,
        };
        Ok(Identity {
            user,
            actor,
            scope,
            credential,
        })
    }

    /// Issues an API token to the identity's own user. The secret is returned once.
    pub async fn create_token(
        &self,
        identity: &Identity,
        name: &str,
        scope: Scope,
        expires_at: Option<Instant>,
        now: Instant,
    ) -> Result<IssuedToken, StoreError> {
        access::may_issue_token(&identity.actor, identity.scope, scope)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(StoreError::Invalid(
                "Tên token cần từ 1 đến 100 ký tự, không chứa ký tự điều khiển.".into(),
            ));
        }
        let now = micros(now);
        if let Some(e) = expires_at
            && e <= now
        {
            return Err(StoreError::Invalid(
                "Thời điểm hết hạn của token phải ở tương lai.".into(),
            ));
        }
        let secret = format!("{TOKEN_PREFIX}{}", random_secret());
        let token = ApiToken {
            id: new_id(),
            username: identity.user.username.clone(),
            name: name.to_string(),
            prefix: secret.chars().take(12).collect(),
            scope: scope.as_str().to_string(),
            created_at: now,
            expires_at: expires_at.map(micros),
            last_used_at: None,
            revoked_at: None,
        };
        let result: Result<(), sqlx::Error> = with_db!(self, |pool| {
            sqlx::query(
                "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, scope, created_at, expires_at, last_used_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL)",
            )
            .bind(&token.id)
            .bind(&identity.user.id)
            .bind(&token.name)
            .bind(sha256_hex(secret.as_bytes()))
            .bind(&token.prefix)
            .bind(&token.scope)
            .bind(now)
            .bind(token.expires_at)
            .execute(pool)
            .await
            .map(|_| ())
        });
        match result {
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Duplicate("Token trùng (hãy thử lại)".into()))
            }
            Err(e) => Err(e.into()),
            Ok(()) => Ok(IssuedToken { token, secret }),
        }
    }

    /// The identity's own tokens; an administrator sees everyone's.
    pub async fn tokens(&self, identity: &Identity) -> Result<Vec<ApiToken>, StoreError> {
        let all = identity.scope == Scope::Full && identity.actor.roles.contains(&Role::Admin);
        let rows = with_db!(self, |pool| {
            let rows = sqlx::query(
                "SELECT t.id, u.username, t.name, t.prefix, t.scope, t.created_at, t.expires_at, t.last_used_at, t.revoked_at \
                 FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE ($1 OR u.id = $2) ORDER BY t.created_at, t.id",
            )
            .bind(all)
            .bind(&identity.user.id)
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(ApiToken {
                    id: r.try_get("id")?,
                    username: r.try_get("username")?,
                    name: r.try_get("name")?,
                    prefix: r.try_get("prefix")?,
                    scope: r.try_get("scope")?,
                    created_at: r.try_get("created_at")?,
                    expires_at: r.try_get("expires_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                });
            }
            out
        });
        Ok(rows)
    }

    /// Revokes a token (its owner or an administrator). Revoking twice is harmless.
    pub async fn revoke_token(
        &self,
        identity: &Identity,
        id: &str,
        now: Instant,
    ) -> Result<(), StoreError> {
        let owner: Option<String> = with_db!(self, |pool| {
            sqlx::query_scalar(
                "SELECT u.username FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        let Some(owner) = owner else {
            return Err(StoreError::NotFound {
                what: "token",
                id: id.to_string(),
            });
        };
        if access::may_revoke_token(&identity.actor, identity.scope, &owner).is_err()
            && owner != identity.user.username
        {
            // Someone else's token: as if it did not exist, so that ids do not leak.
            return Err(StoreError::NotFound {
                what: "token",
                id: id.to_string(),
            });
        }
        access::may_revoke_token(&identity.actor, identity.scope, &owner)?;
        with_db!(self, |pool| {
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(micros(now))
            .execute(pool)
            .await?;
        });
        self.identity_changed();
        Ok(())
    }
}
