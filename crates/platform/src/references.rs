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
    /// What refers, e.g. `orders`: the catalog key `references.<label>`
    /// names it on the owner's pages.
    fn label(&self) -> &'static str;
    /// The permission that reads the referring rows: only holders see
    /// the link to them.
    fn permission(&self) -> crate::auth::Permission;
    /// The page listing the rows that refer to `id`
    /// (`/orders?client_id=<id>`).
    fn link(&self, id: Uuid) -> String;
    /// The error code of a refused deletion of a referred row; its message
    /// (`error.<code>`, with `{count}`) is in the referring module's
    /// catalog, e.g. "the client has 3 orders".
    fn conflict_code(&self) -> &'static str;
    /// An expression counting, in the owner's own query, the references
    /// to the row whose id is `id` (a qualified column of the owner's
    /// table), so a read of one row and its counts is one statement.
    /// `None`: ask `count`.
    fn count_of(
        &self,
        _id: sea_orm::sea_query::SimpleExpr,
    ) -> Option<sea_orm::sea_query::SimpleExpr> {
        None
    }
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

    /// One expression adding up every reference to the row whose id is
    /// `id` in the owner's query (0 when nothing refers to `target`);
    /// `None` when some counter cannot say it in SQL.
    pub fn total_of(
        &self,
        target: &str,
        id: sea_orm::sea_query::SimpleExpr,
    ) -> Option<sea_orm::sea_query::SimpleExpr> {
        use sea_orm::sea_query::{Expr, SimpleExpr};
        let mut total: SimpleExpr = Expr::val(0i64).into();
        for counter in self.counters.iter().filter(|c| c.target() == target) {
            total = total.add(counter.count_of(id.clone())?);
        }
        Some(total)
    }

    /// References to one row, one entry per referring kind (those with
    /// none included, count 0), in registration order.
    pub async fn of(
        &self,
        db: &DatabaseConnection,
        target: &str,
        id: Uuid,
    ) -> Result<Vec<Reference>, DbErr> {
        let mut out = Vec::new();
        for counter in self.counters.iter().filter(|c| c.target() == target) {
            let count = counter
                .count(db, &[id])
                .await?
                .get(&id)
                .copied()
                .unwrap_or(0);
            out.push(Reference {
                label: counter.label(),
                count,
                permission: counter.permission(),
                link: counter.link(id),
                conflict_code: counter.conflict_code(),
            });
        }
        Ok(out)
    }
}

/// How many rows of one kind refer to a row, and where to see them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reference {
    pub label: &'static str,
    pub count: u64,
    #[serde(skip)]
    pub permission: crate::auth::Permission,
    pub link: String,
    #[serde(skip)]
    pub conflict_code: &'static str,
}
