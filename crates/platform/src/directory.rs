//! Names of other modules' records without depending on those modules: the
//! owner of an entity (clients) registers a `Directory`; others (warehouse
//! orders) ask it for names, existence, search and choices.

use std::collections::HashMap;

use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

#[async_trait::async_trait]
pub trait Directory: Send + Sync {
    /// The entity it answers for, e.g. `client`.
    fn entity(&self) -> &'static str;
    /// Display names of the given ids (unknown ids are left out).
    async fn names(
        &self,
        db: &DatabaseConnection,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, String>, DbErr>;
    /// Ids whose name or other public handle matches `q`.
    async fn search(
        &self,
        db: &DatabaseConnection,
        q: &str,
        limit: u64,
    ) -> Result<Vec<Uuid>, DbErr>;
    /// An expression giving, in the asking module's own query, the Spanish
    /// sort key of the record whose id is `id` (a qualified column of the
    /// asker's table), so a list can be ordered by this entity's name in
    /// one statement. `None`: the entity cannot be sorted by.
    fn sort_key_of(
        &self,
        _id: sea_orm::sea_query::SimpleExpr,
    ) -> Option<sea_orm::sea_query::SimpleExpr> {
        None
    }
    /// An expression giving, in the asking module's own query, the display
    /// name of the record whose id is `id` (as `sort_key_of`), so a read of
    /// one record and the names it shows is one statement. `None`: ask
    /// `names`.
    fn name_of(
        &self,
        _id: sea_orm::sea_query::SimpleExpr,
    ) -> Option<sea_orm::sea_query::SimpleExpr> {
        None
    }
    /// The address to write to about the record (a client's email), for a
    /// module that mails someone on the record's behalf. `None`: unknown
    /// id, or the entity keeps no address.
    async fn email_of(&self, _db: &DatabaseConnection, _id: Uuid) -> Result<Option<String>, DbErr> {
        Ok(None)
    }
    /// Choices for a selector, by name.
    async fn choices(
        &self,
        db: &DatabaseConnection,
        q: Option<&str>,
        limit: u64,
    ) -> Result<Vec<(Uuid, String)>, DbErr>;
}

#[derive(Default)]
pub struct Directories {
    entries: Vec<Box<dyn Directory>>,
}

impl Directories {
    pub fn new(entries: Vec<Box<dyn Directory>>) -> Self {
        Self { entries }
    }

    pub fn get(&self, entity: &str) -> Option<&dyn Directory> {
        self.entries
            .iter()
            .find(|d| d.entity() == entity)
            .map(|d| d.as_ref())
    }
}
