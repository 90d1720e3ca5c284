//! API tokens: issued to a user for integrations and scrapers, listed without their secrets,
//! revoked by their owner or an administrator.

use chrono::TimeDelta;
use engine::access::{self, Lifetime, Proof, Scope};
use engine::time::Instant;

use super::super::{StoreError, User, duplicate_or, micros, new_id, sha256_hex, with_db};
use super::{Accounts, ApiToken, Credential, Identity, IssuedToken, TOKEN_PREFIX, random_secret};

impl Accounts<'_> {
    /// Issues an API token to the identity's own user. The secret is returned once.
    /// `expires_at: None` is a token without expiry. [`access::may_issue_token`] rules: the
    /// identity must be a session signed in with the password within the last minutes.
    #[tracing::instrument(skip_all, fields(actor = %identity.actor.user))]
    pub async fn create_token_as(
        &self,
        identity: &Identity,
        name: &str,
        scope: Scope,
        expires_at: Option<Instant>,
        now: Instant,
    ) -> Result<IssuedToken, StoreError> {
        let proof = match &identity.credential {
            Credential::Token { .. } => Proof::Token,
            Credential::Session { id_hash } => {
                let created: Option<Instant> = with_db!(self.store, |pool| {
                    sqlx::query_scalar("SELECT created_at FROM sessions WHERE id_hash = $1")
                        .bind(id_hash)
                        .fetch_optional(pool)
                        .await?
                });
                Proof::Session {
                    // No such session: as old as can be.
                    signed_in_ago: created.map_or(TimeDelta::MAX, |c| now - c),
                }
            }
        };
        let lifetime = match expires_at {
            Some(_) => Lifetime::Expires,
            None => Lifetime::Never,
        };
        access::may_issue_token(&identity.actor, identity.scope, proof, scope, lifetime)?;
        self.insert_token(&identity.user, name, scope, expires_at, now)
            .await
    }

    /// Issues an API token to `username`. System door, for the shell, tests and benchmarks: no
    /// access rule.
    #[tracing::instrument(skip_all, fields(user = %username))]
    pub async fn issue_token(
        &self,
        username: &str,
        name: &str,
        scope: Scope,
        expires_at: Option<Instant>,
        now: Instant,
    ) -> Result<IssuedToken, StoreError> {
        let user = self.store.directory().user(username).await?;
        self.insert_token(&user, name, scope, expires_at, now).await
    }

    async fn insert_token(
        &self,
        user: &User,
        name: &str,
        scope: Scope,
        expires_at: Option<Instant>,
        now: Instant,
    ) -> Result<IssuedToken, StoreError> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > 100
            || name.chars().any(engine::input::is_hidden_char)
        {
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
            username: user.username.clone(),
            name: name.to_string(),
            prefix: secret.chars().take(12).collect(),
            scope: scope.as_str().to_string(),
            created_at: now,
            expires_at: expires_at.map(micros),
            last_used_at: None,
            revoked_at: None,
        };
        let result: Result<(), sqlx::Error> = with_db!(self.store, |pool| {
            sqlx::query(
                "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, scope, created_at, expires_at, last_used_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL)",
            )
            .bind(&token.id)
            .bind(&user.id)
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
        result.map_err(|e| duplicate_or(e, || "Token trùng (hãy thử lại)".into()))?;
        Ok(IssuedToken { token, secret })
    }

    /// The identity's own tokens; an administrator sees everyone's.
    #[tracing::instrument(skip_all, fields(actor = %identity.actor.user))]
    pub async fn tokens_as(&self, identity: &Identity) -> Result<Vec<ApiToken>, StoreError> {
        let all = access::sees_all_tokens(&identity.actor, identity.scope);
        Ok(with_db!(self.store, |pool| {
            sqlx::query_as(
                "SELECT t.id, u.username, t.name, t.prefix, t.scope, t.created_at, t.expires_at, t.last_used_at, t.revoked_at \
                 FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE ($1 OR u.id = $2) ORDER BY t.created_at, t.id",
            )
            .bind(all)
            .bind(&identity.user.id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Revokes a token (its owner or an administrator). Revoking twice is harmless.
    #[tracing::instrument(skip_all, fields(actor = %identity.actor.user, token = %id))]
    pub async fn revoke_token_as(
        &self,
        identity: &Identity,
        id: &str,
        now: Instant,
    ) -> Result<(), StoreError> {
        let owner: Option<String> = with_db!(self.store, |pool| {
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
        with_db!(self.store, |pool| {
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(micros(now))
            .execute(pool)
            .await?;
        });
        self.store.identity_changed();
        Ok(())
    }
}
