//! What the auth service keeps in memory, built once at start: its keys,
//! the role cache, and when each user was last marked seen.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, EntityTrait};
use uuid::Uuid;

use super::entities::role;
use super::{password, token};

/// Keys and caches of the auth service, built once at start.
pub struct AuthState {
    pub(crate) jwt_key: [u8; 32],
    csrf_key: [u8; 32],
    pub roles: RoleCache,
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

pub fn parse_permissions(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}
