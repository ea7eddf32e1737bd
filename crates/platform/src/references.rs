//! Cross-module references without cross-module dependencies: a module
//! whose rows point at another module's rows (warehouse orders at clients)
//! registers a counter here; the owner asks "who still refers to these?"
//! to show counts and to refuse a deletion with a clear 409.

use std::collections::HashMap;

use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

#[async_trait::async_trait]
pub trait ReferenceCounter: Send + Sync {
    /// The entity referred to, e.g. `client`.
    fn target(&self) -> &'static str;
    /// What refers, e.g. `orders` (also the catalog key `references.<label>`).
    fn label(&self) -> &'static str;
    /// References to each of `ids` (ids without any may be left out).
    async fn count(
        &self,
        db: &DatabaseConnection,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, u64>, DbErr>;
}

#[derive(Default)]
pub struct References {
    counters: Vec<Box<dyn ReferenceCounter>>,
}

impl References {
    pub fn new(counters: Vec<Box<dyn ReferenceCounter>>) -> Self {
        Self { counters }
    }

    /// For each id, the references by label (`{"orders": 3}`).
    pub async fn count(
        &self,
        db: &DatabaseConnection,
        target: &str,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, HashMap<&'static str, u64>>, DbErr> {
        let mut out: HashMap<Uuid, HashMap<&'static str, u64>> = HashMap::new();
        for counter in self.counters.iter().filter(|c| c.target() == target) {
            for (id, n) in counter.count(db, ids).await? {
                if n > 0 {
                    out.entry(id).or_default().insert(counter.label(), n);
                }
            }
        }
        Ok(out)
    }

    /// References to one row, by label.
    pub async fn of(
        &self,
        db: &DatabaseConnection,
        target: &str,
        id: Uuid,
    ) -> Result<HashMap<&'static str, u64>, DbErr> {
        Ok(self
            .count(db, target, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default())
    }
}
