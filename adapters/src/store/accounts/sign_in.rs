//! Signing in and out, and the identity behind a session cookie or an API token.

use std::time::Instant as Monotonic;

use chrono::TimeDelta;
use engine::Role;
use engine::access::{self, Scope};
use engine::decide::Actor;
use engine::time::Instant;

use super::super::{StoreError, User, micros, new_id, sha256_hex, with_db};
use super::{
    Accounts, AuthPolicy, Credential, Found, Identity, SignInError, SignedIn, TOKEN_PREFIX,
    TOUCH_EVERY, blocking, passwords, random_secret,
};

/// Client-supplied text recorded with a failed sign-in is cut to this many characters.
const MAX_RECORDED: usize = 64;

/// Client-supplied text as recorded: short, and without control characters (PostgreSQL
/// refuses NUL in text, and a log reader should not meet escape sequences).
fn cut(s: &str) -> String {
    s.chars()
        .take(MAX_RECORDED)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// One row of a credential lookup: the credential, its user, one of the user's roles.
#[derive(sqlx::FromRow)]
struct CredentialRow {
    credential_id: String,
    scope: String,
    expires_at: Option<Instant>,
    absolute_until: Option<Instant>,
    last_used_at: Option<Instant>,
    revoked_at: Option<Instant>,
    #[sqlx(flatten)]
    user: User,
    role: Option<String>,
    absorbed: bool,
    merged_away: bool,
}

/// A credential lookup: the credential's columns (`$cred`), its user's, one row per role
/// (`LEFT JOIN`: a user without roles still has a row), and whether any unit was merged into the
/// user's. That last case is rare and sends [`Directory::merged_units`](super::super::Directory::merged_units) down the merge tree;
/// otherwise the unit acted for is the user's own, and the lookup is one plain indexed query,
/// cheap enough to run on every request.
macro_rules! credential_lookup {
    ($cred:literal, $from:literal) => {
        concat!(
            "SELECT ",
            $cred,
            ", u.id, u.username, u.display_name, u.email, u.unit_id, u.disabled, r.role, \
             EXISTS (SELECT 1 FROM units m WHERE m.merged_into = u.unit_id) AS absorbed, \
             EXISTS (SELECT 1 FROM units a WHERE a.id = u.unit_id AND a.merged_into IS NOT NULL) AS merged_away \
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

impl Accounts<'_> {
    /// Signs a user in from `address`, or refuses. See the module documentation.
    #[tracing::instrument(skip_all, fields(user = %cut(username), address = %cut(address)))]
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
            Ok(valid) => match self.store.directory().user(valid.as_str()).await {
                Ok(u) => Some(u),
                Err(StoreError::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            },
        };
        let phc = match &user {
            Some(u) if !u.disabled => passwords::hash_of(self.store, &u.id).await?,
            _ => None,
        };
        let pw = password.to_string();
        let hashing = Monotonic::now();
        let ok = match phc {
            Some(phc) => blocking(move || passwords::verify(&pw, &phc)).await?,
            None => {
                blocking(move || passwords::verify(&pw, passwords::decoy_hash())).await?;
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
        with_db!(self.store, |pool| {
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

    /// Seconds until sign-in is allowed again for this user name from this address, if it is
    /// blocked: see [`AuthPolicy`].
    pub(super) async fn sign_in_blocked(
        &self,
        username: &str,
        address: &str,
        policy: &AuthPolicy,
        now: Instant,
    ) -> Result<Option<u64>, StoreError> {
        let since = now - policy.failure_window;
        let mut wait = TimeDelta::zero();
        // Hard limits: the pair, and the address. The limit-th most recent failure in the
        // window: when it leaves the window, the count drops below the limit again.
        let pair: Option<Instant> = with_db!(self.store, |pool| {
            sqlx::query_scalar(
                "SELECT at FROM sign_in_failures WHERE username = $1 AND address = $2 AND at > $3 ORDER BY at DESC LIMIT 1 OFFSET $4",
            )
            .bind(username)
            .bind(address)
            .bind(since)
            .bind(i64::from(policy.failures_per_user.max(1)) - 1)
            .fetch_optional(pool)
            .await?
        });
        let from_address: Option<Instant> = with_db!(self.store, |pool| {
            sqlx::query_scalar(
                "SELECT at FROM sign_in_failures WHERE address = $1 AND at > $2 ORDER BY at DESC LIMIT 1 OFFSET $3",
            )
            .bind(address)
            .bind(since)
            .bind(i64::from(policy.failures_per_address.max(1)) - 1)
            .fetch_optional(pool)
            .await?
        });
        for at in [pair, from_address].into_iter().flatten() {
            wait = wait.max(at + policy.failure_window - now);
        }
        // The account, from everywhere: a progressive delay after the last failure.
        let (count, last): (i64, Option<Instant>) = with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT COUNT(*), MAX(at) FROM sign_in_failures WHERE username = $1 AND at > $2",
            )
            .bind(username)
            .bind(since)
            .fetch_one(pool)
            .await?
        });
        if let Some(last) = last {
            let delay = policy.account_delay(u32::try_from(count).unwrap_or(u32::MAX));
            wait = wait.max(last + delay - now);
        }
        if wait <= TimeDelta::zero() {
            return Ok(None);
        }
        // Round up: a client that waits what it is told is let in.
        let secs = (wait.num_milliseconds() + 999) / 1000;
        Ok(Some(u64::try_from(secs.max(1)).unwrap_or(1)))
    }

    pub(super) async fn record_failure(
        &self,
        username: &str,
        address: &str,
        policy: &AuthPolicy,
        now: Instant,
    ) -> Result<(), StoreError> {
        // Failures older than the window count for nothing: forget them as new ones arrive.
        let forget_before = now - policy.failure_window;
        with_db!(self.store, |pool| {
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
    #[tracing::instrument(skip_all)]
    pub async fn sign_out(&self, secret: &str, now: Instant) -> Result<(), StoreError> {
        let id_hash = sha256_hex(secret.as_bytes());
        with_db!(self.store, |pool| {
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

    /// Revokes the API token a client signed out with (its own credential: no access rule
    /// beyond holding it).
    #[tracing::instrument(skip_all, fields(token = %token_id))]
    pub async fn sign_out_token(&self, token_id: &str, now: Instant) -> Result<(), StoreError> {
        with_db!(self.store, |pool| {
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(token_id)
            .bind(micros(now))
            .execute(pool)
            .await?;
        });
        self.store.identity_changed();
        Ok(())
    }

    /// The identity behind a session cookie, if the session is live; slides its expiry.
    #[tracing::instrument(skip_all)]
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
            with_db!(self.store, |pool| {
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
    #[tracing::instrument(skip_all)]
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
        let found = match self.store.identities.get(&hash) {
            Some(found) => found,
            None => {
                let generation = self.store.identities.generation();
                let Some(found) = self.credential_lookup(TOKEN_LOOKUP, &hash).await? else {
                    return Ok(None);
                };
                if let Some(g) = generation {
                    self.store.identities.put(&hash, &found, g);
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
            with_db!(self.store, |pool| {
                sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                    .bind(&found.credential_id)
                    .bind(now)
                    .execute(pool)
                    .await?;
            });
            self.store.identities.touched(&hash, now);
        }
        let id = found.credential_id.clone();
        Ok(Some(found.identity(scope, Credential::Token { id })))
    }

    /// A credential, its user, the user's roles and the units they act for (their own, then
    /// those merged into it at any depth, as [`Directory::merged_units`](super::super::Directory::merged_units) lists them): one query, and
    /// a walk of the merge tree only for a unit that has absorbed others. This runs on every
    /// request.
    async fn credential_lookup(
        &self,
        sql: &'static str,
        hash: &str,
    ) -> Result<Option<Found>, StoreError> {
        let rows: Vec<CredentialRow> = with_db!(self.store, |pool| {
            sqlx::query_as(sql).bind(hash).fetch_all(pool).await?
        });
        let absorbed = rows.first().is_some_and(|r| r.absorbed);
        let merged_away = rows.first().is_some_and(|r| r.merged_away);
        let mut found: Option<Found> = None;
        for r in rows {
            let role = r.role.as_deref().and_then(|v| v.parse::<Role>().ok());
            let f = found.get_or_insert_with(|| Found {
                credential_id: r.credential_id,
                scope: r.scope,
                expires: r.expires_at,
                absolute: r.absolute_until,
                last_used: r.last_used_at,
                revoked: r.revoked_at,
                user: r.user,
                units: Vec::new(),
                read_units: Vec::new(),
            });
            if let Some(role) = role {
                f.user.roles.push(role);
            }
        }
        let Some(mut found) = found else {
            return Ok(None);
        };
        let units = match &found.user.unit_id {
            Some(unit) if absorbed => self.store.directory().merged_units(unit).await?,
            Some(unit) => vec![unit.clone()],
            None => Vec::new(),
        };
        // A unit merged into another: its users read what they had and act on nothing.
        if merged_away {
            found.read_units = units;
        } else {
            found.units = units;
        }
        Ok(Some(found))
    }

    async fn identity_of(
        &self,
        user: User,
        scope: Scope,
        credential: Credential,
    ) -> Result<Identity, StoreError> {
        let (units, read_units) = match &user.unit_id {
            Some(u) => crate::store::directory::units_of_user(self.store, u).await?,
            None => (Vec::new(), Vec::new()),
        };
        let actor = Actor {
            user: user.username.clone(),
            roles: access::effective_roles(&user.roles, scope),
            units,
            read_units,
        };
        Ok(Identity {
            user,
            actor,
            scope,
            credential,
        })
    }
}
