//! The clients' directory: names and search for other modules.

use std::collections::HashMap;

use faena_platform::directory::Directory;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::clients::store::{self, Column, Entity};

pub struct ClientDirectory;

#[async_trait::async_trait]
impl Directory for ClientDirectory {
    fn entity(&self) -> &'static str {
        "client"
    }

    fn sort_key_of(
        &self,
        id: sea_orm::sea_query::SimpleExpr,
    ) -> Option<sea_orm::sea_query::SimpleExpr> {
        Some(column_of(Column::SortKey, id))
    }

    fn name_of(
        &self,
        id: sea_orm::sea_query::SimpleExpr,
    ) -> Option<sea_orm::sea_query::SimpleExpr> {
        Some(column_of(Column::Name, id))
    }

    async fn names(
        &self,
        db: &DatabaseConnection,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, String>, DbErr> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(Uuid, String)> = Entity::find()
            .select_only()
            .column(Column::Id)
            .column(Column::Name)
            .filter(Column::Id.is_in(ids.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        Ok(rows.into_iter().collect())
    }

    async fn email_of(&self, db: &DatabaseConnection, id: Uuid) -> Result<Option<String>, DbErr> {
        let email: Option<String> = Entity::find_by_id(id)
            .select_only()
            .column(Column::Email)
            .into_tuple()
            .one(db)
            .await?;
        Ok(email.filter(|e| !e.trim().is_empty()))
    }

    async fn search(
        &self,
        db: &DatabaseConnection,
        q: &str,
        limit: u64,
    ) -> Result<Vec<Uuid>, DbErr> {
        let search = store::Search {
            terms: faena_platform::text::terms(q),
            ..Default::default()
        };
        Ok(store::list(db, &search, None, None, limit)
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect())
    }

    async fn choices(
        &self,
        db: &DatabaseConnection,
        q: Option<&str>,
        limit: u64,
    ) -> Result<Vec<(Uuid, String)>, DbErr> {
        let mut query = Entity::find()
            .select_only()
            .column(Column::Id)
            .column(Column::Name)
            .order_by_asc(Column::SortKey)
            .order_by_asc(Column::Id);
        for term in faena_platform::text::terms(q.unwrap_or_default()) {
            query = query.filter(
                Column::SearchText.like(
                    sea_orm::sea_query::LikeExpr::new(faena_platform::text::like_pattern(&term))
                        .escape('\\'),
                ),
            );
        }
        query.limit(limit).into_tuple().all(db).await
    }
}

/// `(SELECT column FROM clients WHERE id = <id>)`, for another module's
/// statement.
fn column_of(column: Column, id: sea_orm::sea_query::SimpleExpr) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::{Expr, Query, SimpleExpr, SubQueryStatement};
    let select = Query::select()
        .column((Entity, column))
        .from(Entity)
        .and_where(Expr::col((Entity, Column::Id)).eq(id))
        .to_owned();
    SimpleExpr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(select)))
}
