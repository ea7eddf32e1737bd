//! Persistence of machines: the entity and every query on it.

use std::collections::HashMap;

use faena_platform::text;
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Select,
};
use uuid::Uuid;

pub mod machine {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mnt_machines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub code: String,
        /// Lower-cased code: the unique key.
        pub code_key: String,
        pub name: String,
        pub kind: Option<String>,
        /// Folded kind, for filtering and grouping (`platform::text::fold`).
        pub kind_key: Option<String>,
        pub lab: Option<String>,
        pub lab_key: Option<String>,
        pub brand: Option<String>,
        pub model: Option<String>,
        pub serial: Option<String>,
        pub status: String,
        pub acquired_on: Option<Date>,
        pub responsible_id: Option<Uuid>,
        pub criticality: String,
        /// JSON object of text values.
        pub attributes: String,
        pub notes: Option<String>,
        /// The secret in the machine's failure-report link (its QR label).
        pub report_token: String,
        /// Folded code, name, serial, lab, kind, brand and model.
        pub search_text: String,
        /// The name's Spanish sort key.
        pub sort_key: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use machine::{Column, Entity, Model};

pub async fn find_by_code(db: &impl ConnectionTrait, code: &str) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::CodeKey.eq(code.trim().to_lowercase()))
        .one(db)
        .await
}

/// The codes and names of `ids`, for lists of records.
pub async fn names(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, (String, String)>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(Entity::find()
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.id, (m.code, m.name)))
        .collect())
}

/// What a list of machines asks for, parsed.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Folded words that must all be in the searchable text.
    pub terms: Vec<String>,
    pub statuses: Vec<String>,
    pub kind_key: Option<String>,
    pub lab_key: Option<String>,
    /// Only these machines (a due state's).
    pub only: Option<Vec<Uuid>>,
    /// Not these machines.
    pub exclude: Option<Vec<Uuid>>,
}

impl Filter {
    fn condition(&self) -> Condition {
        let mut all = Condition::all();
        for term in &self.terms {
            all = all.add(
                Expr::col(Column::SearchText)
                    .like(LikeExpr::new(text::like_pattern(term)).escape('\\')),
            );
        }
        if !self.statuses.is_empty() {
            all = all.add(Column::Status.is_in(self.statuses.clone()));
        }
        if let Some(k) = &self.kind_key {
            all = all.add(Column::KindKey.eq(k.clone()));
        }
        if let Some(l) = &self.lab_key {
            all = all.add(Column::LabKey.eq(l.clone()));
        }
        if let Some(ids) = &self.only {
            all = all.add(Column::Id.is_in(ids.clone()));
        }
        if let Some(ids) = self.exclude.as_ref().filter(|ids| !ids.is_empty()) {
            all = all.add(Column::Id.is_not_in(ids.clone()));
        }
        all
    }
}

/// The machines matching `filter`, unordered.
pub fn select(filter: &Filter) -> Select<Entity> {
    Entity::find().filter(filter.condition())
}

/// Machines in Spanish name order after `cursor` (sort key, id).
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &Filter,
    cursor: Option<(String, Uuid)>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    use sea_orm::QueryOrder;
    let mut query = select(filter)
        .order_by_asc(Column::SortKey)
        .order_by_asc(Column::Id);
    if let Some((key, id)) = cursor {
        query = query.filter(
            Condition::any().add(Column::SortKey.gt(key.clone())).add(
                Condition::all()
                    .add(Column::SortKey.eq(key))
                    .add(Column::Id.gt(id)),
            ),
        );
    }
    query.limit(limit).all(db).await
}

/// How many machines there are in each status.
pub async fn count_by_status(db: &impl ConnectionTrait) -> Result<HashMap<String, u64>, DbErr> {
    let rows: Vec<(String, i64)> = Entity::find()
        .select_only()
        .column(Column::Status)
        .column_as(Column::Id.count(), "n")
        .group_by(Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(s, n)| (s, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// The distinct labs and kinds in use, as written, for the list's filters.
pub async fn labs_and_kinds(
    db: &impl ConnectionTrait,
) -> Result<(Vec<String>, Vec<String>), DbErr> {
    let distinct = |column: Column| async move {
        let mut values: Vec<Option<String>> = Entity::find()
            .select_only()
            .column(column)
            .distinct()
            .into_tuple()
            .all(db)
            .await?;
        values.sort_by_key(|v| v.as_deref().map(text::sort_key));
        Ok::<_, DbErr>(values.into_iter().flatten().collect::<Vec<_>>())
    };
    Ok((distinct(Column::Lab).await?, distinct(Column::Kind).await?))
}

/// Code, name and lab of the machines `ids`, for reports.
pub async fn facts(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, (String, String, Option<String>)>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut unique = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    Ok(Entity::find()
        .filter(Column::Id.is_in(unique))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.id, (m.code, m.name, m.lab)))
        .collect())
}
