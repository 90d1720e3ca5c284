//! The API tokens recently found live, kept in memory so that an integration's requests do not
//! each pay a credential query.
//!
//! Serving a request starts by asking the store who is calling; for an API token that is one
//! query, and on PostgreSQL that round trip costs a large share of a cheap request. So while a
//! server runs on PostgreSQL, [`Accounts::identity_from_token`] keeps what a lookup found (the
//! token, its user, roles and units) here and answers repeat uses from memory, with every check
//! of a fresh lookup applied again on each use (revoked, disabled, expired, scope).
//!
//! A cached identity must never outlive a change to what it was made of. Two paths see to that:
//!
//! - **in this process**: a store method that revokes a token, disables or enables a user or
//!   merges a unit calls [`Store::identity_changed`] once it has committed, so the next request
//!   is looked up afresh;
//! - **anywhere else** (the CLI, another instance, SQL typed by an operator): triggers on
//!   `users`, `user_roles`, `units` and `api_tokens` (migration `0005`) send
//!   `NOTIFY tiendo_identity` with the transaction that commits the change, and the watcher
//!   ([`Accounts::watch_identities`]) empties the cache when it arrives, within milliseconds.
//!
//! The cache answers only while the watcher is listening: before it has subscribed, after its
//! connection is lost and until it has subscribed again, every request is looked up (a
//! notification sent meanwhile would have been missed). It empties itself on every (re)subscription.
//! A lookup that began before an invalidation may not store what it read: each entry is stored
//! only if the cache's generation has not moved since the lookup started. Entries are also
//! refreshed after [`MAX_AGE`] whatever happens, so that a fault nobody detected cannot keep a
//! stale identity for long.
//!
//! SQLite has no notifications between processes (the CLI and the server share the file), so
//! there the cache stays off and every request reads its credential: a local query, cheap there.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant as Monotonic};

use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};

use super::super::{Db, Store, sha256_hex};
use super::{Accounts, Found};

/// The channel the triggers of migration `0005` notify.
const CHANNEL: &str = "tiendo_identity";
/// An entry older than this is looked up again.
const MAX_AGE: Duration = Duration::from_secs(30);
/// At most this many tokens are remembered; past it, new ones are looked up each time until
/// old entries age out.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct IdentityCache {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The watcher is subscribed: notifications would reach us.
    live: bool,
    /// Moves on every invalidation.
    generation: u64,
    entries: HashMap<String, Entry>,
}

impl State {
    /// Forgets every entry, and makes lookups already under way unable to store theirs.
    fn forget(&mut self) {
        self.generation += 1;
        self.entries.clear();
    }
}

#[derive(Debug)]
struct Entry {
    found: Found,
    stored: Monotonic,
}

impl IdentityCache {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The lock guards a plain map; a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The generation to hand back to [`IdentityCache::put`], or `None` when the cache is off.
    pub(crate) fn generation(&self) -> Option<u64> {
        let s = self.state();
        s.live.then_some(s.generation)
    }

    /// What a lookup of the token with this hash found, if remembered and fresh.
    pub(crate) fn get(&self, hash: &str) -> Option<Found> {
        let s = self.state();
        if !s.live {
            return None;
        }
        s.entries
            .get(hash)
            .filter(|e| e.stored.elapsed() < MAX_AGE)
            .map(|e| e.found.clone())
    }

    /// Remembers a lookup that started at `generation`, unless something was invalidated since.
    pub(crate) fn put(&self, hash: &str, found: &Found, generation: u64) {
        let mut s = self.state();
        if !s.live || s.generation != generation {
            return;
        }
        if s.entries.len() >= MAX_ENTRIES && !s.entries.contains_key(hash) {
            s.entries.retain(|_, e| e.stored.elapsed() < MAX_AGE);
            if s.entries.len() >= MAX_ENTRIES {
                return;
            }
        }
        s.entries.insert(
            hash.to_string(),
            Entry {
                found: found.clone(),
                stored: Monotonic::now(),
            },
        );
    }

    /// Records a use of a remembered token (its `last_used_at` was just written), so that the
    /// next use does not write it again.
    pub(crate) fn touched(&self, hash: &str, at: engine::time::Instant) {
        if let Some(e) = self.state().entries.get_mut(hash) {
            e.found.last_used = Some(at);
        }
    }

    /// Forgets everything: the next request of every token is looked up.
    pub(crate) fn invalidate(&self) {
        self.state().forget();
    }

    /// The watcher has (re)subscribed, or stopped listening: either way, start empty.
    fn set_live(&self, live: bool) {
        let mut s = self.state();
        s.forget();
        s.live = live;
    }

    fn len(&self) -> usize {
        self.state().entries.len()
    }

    fn contains(&self, hash: &str) -> bool {
        self.state().entries.contains_key(hash)
    }
}

/// Turns the cache off when the watcher stops, however it stops (an error, or its task aborted
/// with the server).
struct Off<'a>(&'a IdentityCache);

impl Drop for Off<'_> {
    fn drop(&mut self) {
        self.0.set_live(false);
    }
}

impl Store {
    /// Forgets every remembered identity. Store methods that change what identities are made of
    /// call it after committing; see the module documentation.
    pub(crate) fn identity_changed(&self) {
        self.identities.invalidate();
    }
}

impl Accounts<'_> {
    /// On PostgreSQL, listens for identity changes from any process and keeps the token cache
    /// on while subscribed; returns at once on SQLite, where the cache stays off. Runs until the
    /// store is closed or the future is dropped (the server runs it beside itself and drops it
    /// when it stops); a lost connection is re-established with back-off, the cache off meanwhile.
    #[tracing::instrument(skip_all)]
    pub async fn watch_identities(&self) {
        let Db::Postgres(main) = &self.store.db else {
            return;
        };
        let cache = &*self.store.identities;
        let _off = Off(cache);
        // A one-connection pool of its own, so that the `LISTEN` never holds a connection the
        // requests need.
        let own = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with((*main.connect_options()).clone());
        // `Err(PoolClosed)` is the store closing: the end of the watch.
        let _ = main
            .close_event()
            .do_until(keep_subscribed(&own, cache))
            .await;
        own.close().await;
    }

    /// How many token identities are remembered now.
    pub fn cached_identities(&self) -> usize {
        self.store.identities.len()
    }

    /// Whether the identity behind this API token secret is remembered now (tests use it to
    /// know that a change must be seen through the cache).
    pub fn is_token_cached(&self, secret: &str) -> bool {
        self.store
            .identities
            .contains(&sha256_hex(secret.as_bytes()))
    }
}

/// Subscribes, turns the cache on, empties it on every notification; when the subscription is
/// lost, turns the cache off and subscribes again after a pause that grows to 5 s. Never returns.
async fn keep_subscribed(pool: &PgPool, cache: &IdentityCache) {
    let mut pause = Duration::from_millis(100);
    loop {
        match subscribe(pool).await {
            Ok(mut listener) => {
                // Subscribed: whatever changed before now is in the database, so start empty.
                cache.set_live(true);
                pause = Duration::from_millis(100);
                let why = loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => cache.invalidate(),
                        Ok(None) => break "the connection was lost".to_string(),
                        Err(e) => break e.to_string(),
                    }
                };
                cache.set_live(false);
                tracing::warn!(reason = %why, "identity watcher stopped listening; token cache off until it subscribes again");
            }
            Err(e) => {
                tracing::warn!(error = %e, "identity watcher cannot subscribe; token cache off");
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // Reconnection is ours to do, so that the cache is off until the subscription is back.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::User;

    fn found(user: &str) -> Found {
        Found {
            credential_id: format!("tok-{user}"),
            scope: "full".into(),
            expires: None,
            absolute: None,
            last_used: None,
            revoked: None,
            user: User {
                id: format!("id-{user}"),
                username: user.into(),
                display_name: user.into(),
                email: None,
                unit_id: None,
                roles: Vec::new(),
                disabled: false,
            },
            units: Vec::new(),
            read_units: Vec::new(),
        }
    }

    #[test]
    fn off_until_live_and_empty_after_each_change_of_liveness() {
        let c = IdentityCache::default();
        assert_eq!(c.generation(), None);
        c.put("h", &found("a"), 0);
        assert!(c.get("h").is_none(), "off: nothing is remembered");

        c.set_live(true);
        let g = c.generation().expect("live");
        c.put("h", &found("a"), g);
        assert_eq!(c.get("h").map(|f| f.user.username), Some("a".into()));

        c.set_live(false);
        assert!(c.get("h").is_none());
        c.set_live(true);
        assert!(c.get("h").is_none(), "a new subscription starts empty");
    }

    #[test]
    fn a_lookup_that_began_before_an_invalidation_is_not_stored() {
        let c = IdentityCache::default();
        c.set_live(true);
        let before = c.generation().unwrap();
        c.invalidate();
        c.put("h", &found("a"), before);
        assert_eq!(c.len(), 0);
        let now = c.generation().unwrap();
        c.put("h", &found("a"), now);
        assert_eq!(c.len(), 1);
        c.invalidate();
        assert!(c.get("h").is_none());
    }

    #[test]
    fn dropping_the_watcher_guard_turns_the_cache_off() {
        let c = IdentityCache::default();
        c.set_live(true);
        c.put("h", &found("a"), c.generation().unwrap());
        drop(Off(&c));
        assert_eq!(c.generation(), None);
        assert!(c.get("h").is_none());
    }
}
