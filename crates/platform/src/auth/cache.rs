//! What the auth service keeps in memory, built once at start: its keys,
//! the role cache, and when each user was last marked seen.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, EntityTrait};
use uuid::Uuid;

use super::entities::{role, user};
use super::{password, token};

/// Keys and caches of the auth service, built once at start.
pub struct AuthState {
    pub(crate) jwt_key: [u8; 32],
    csrf_key: [u8; 32],
    pub roles: RoleCache,
    /// Users behind live sign-ins, so a request with an access token costs
    /// no round trip while its user and sign-in are known unchanged.
    pub(crate) signed_in: SignInCache,
    /// When each user's `last_seen_at` was last written by this replica.
    seen: Mutex<HashMap<Uuid, Instant>>,
}

impl AuthState {
    pub fn new(data_dir: &Path) -> anyhow::Result<Self> {
        // Made in the background now, not inside the first failed sign-in,
        // and without delaying readiness.
        std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(1));
            password::dummy_hash();
        });
        Ok(Self {
            jwt_key: crate::secrets::load_or_create(data_dir, "jwt")?,
            csrf_key: crate::secrets::load_or_create(data_dir, "csrf")?,
            roles: RoleCache::default(),
            signed_in: SignInCache::default(),
            seen: Mutex::new(HashMap::new()),
        })
    }

    pub fn csrf_token(&self, seed: &str) -> String {
        token::hmac_hex(&self.csrf_key, seed.as_bytes())
    }

    /// Whether `last_seen_at` is due a write (at most once a minute).
    pub(crate) fn due_seen(&self, user: Uuid) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        let now = Instant::now();
        match seen.get(&user) {
            Some(t) if now.duration_since(*t).as_secs() < 60 => false,
            _ => {
                seen.insert(user, now);
                true
            }
        }
    }
}

const CACHE_TTL: Duration = Duration::from_secs(5);

type Patterns = Arc<Vec<String>>;

/// Role name → permission patterns, reloaded every few seconds.
#[derive(Default)]
pub struct RoleCache {
    inner: RwLock<Option<(Instant, HashMap<String, Patterns>)>>,
}

impl RoleCache {
    pub async fn patterns(
        &self,
        db: &DatabaseConnection,
        role: &str,
    ) -> Result<Arc<Vec<String>>, sea_orm::DbErr> {
        if let Ok(guard) = self.inner.read()
            && let Some((loaded, map)) = guard.as_ref()
            && loaded.elapsed() < CACHE_TTL
        {
            return Ok(map.get(role).cloned().unwrap_or_default());
        }
        let map: HashMap<String, Arc<Vec<String>>> = role::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|r| (r.name.clone(), Arc::new(parse_permissions(&r.permissions))))
            .collect();
        let patterns = map.get(role).cloned().unwrap_or_default();
        if let Ok(mut guard) = self.inner.write() {
            *guard = Some((Instant::now(), map));
        }
        Ok(patterns)
    }

    /// Forgets everything, so this replica sees a change at once.
    pub fn invalidate(&self) {
        if let Ok(mut guard) = self.inner.write() {
            *guard = None;
        }
    }
}

/// Sign-ins kept at most; past it, the expired go first, then all.
const MAX_SIGN_INS: usize = 10_000;

#[derive(Default)]
struct SignIns {
    /// (user, refresh family) → when it was read, and the user as read.
    entries: HashMap<(Uuid, Uuid), (Instant, Arc<user::Model>)>,
    /// Bumped by every forgetting: a row read across a bump is not kept.
    generation: u64,
}

/// The user behind each live sign-in (an access token's user and refresh
/// family), as the database last said: active, still signed in. Kept for
/// `CACHE_TTL` at most, and forgotten at once on this replica, and as soon
/// as the announcement arrives on the others, when the user's access
/// changes (`AccessChange::User`: role, state, password, sign-out, reuse
/// of a refresh token) or announcements may have been missed
/// (`AccessChange::All`). See docs/decisions/0030-one-round-trip-reads.md.
#[derive(Default)]
pub struct SignInCache {
    inner: Mutex<SignIns>,
}

impl SignInCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, SignIns> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The kept user, or the generation to hand to `keep` after reading.
    pub(crate) fn get(&self, user: Uuid, family: Uuid) -> Result<Arc<user::Model>, u64> {
        let inner = self.lock();
        match inner.entries.get(&(user, family)) {
            Some((at, model)) if at.elapsed() < CACHE_TTL => {
                metrics::counter!("faena_cache_hits_total", "topic" => "sign_in").increment(1);
                Ok(model.clone())
            }
            _ => {
                metrics::counter!("faena_cache_misses_total", "topic" => "sign_in").increment(1);
                Err(inner.generation)
            }
        }
    }

    /// Keeps what was read, unless something was forgotten since
    /// `generation` (the row may predate that change).
    pub(crate) fn keep(&self, family: Uuid, model: Arc<user::Model>, generation: u64) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= MAX_SIGN_INS {
            let before = inner.entries.len();
            inner.entries.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
            if inner.entries.len() >= MAX_SIGN_INS {
                inner.entries.clear();
            }
            metrics::counter!("faena_cache_evictions_total")
                .increment((before - inner.entries.len()) as u64);
        }
        inner
            .entries
            .insert((model.id, family), (Instant::now(), model));
    }

    /// Forgets `user`'s sign-ins (all users' with `None`).
    pub fn forget(&self, user: Option<Uuid>) {
        let mut inner = self.lock();
        inner.generation += 1;
        match user {
            Some(id) => inner.entries.retain(|(u, _), _| *u != id),
            None => inner.entries.clear(),
        }
    }
}

pub fn parse_permissions(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}
