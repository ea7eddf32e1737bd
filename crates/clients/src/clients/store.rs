//! Persistence of clients: the entity and its queries, nothing else.

use faena_platform::text;
use sea_orm::sea_query::LikeExpr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select,
};
use uuid::Uuid;

pub mod client {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clients")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub email: String,
        /// Lower-cased email, unique.
        pub email_key: String,
        /// Ciphertext.
        pub phone: Option<String>,
        /// Ciphertext.
        pub address: Option<String>,
        pub comuna: Option<String>,
        pub city: Option<String>,
        pub tax_country: Option<String>,
        /// Ciphertext.
        pub tax_id: Option<String>,
        /// Blind index of the tax id.
        pub tax_id_index: Option<String>,
        pub notes: Option<String>,
        /// Folded name, email, comuna and city (`platform::text`).
        pub search_text: String,
        /// The name's Spanish sort key.
        pub sort_key: String,
        /// Blind index of the phone's last eight digits.
        pub phone_index: Option<String>,
        /// The comuna's Spanish sort key (empty without a comuna).
        pub comuna_key: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use client::{Column, Entity, Model};

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(db).await
}

/// One client and, when `references` gives the expression
/// (`References::total_of`), how many rows of other modules refer to it:
/// one statement.
pub async fn find_counted(
    db: &impl ConnectionTrait,
    id: Uuid,
    references: Option<sea_orm::sea_query::SimpleExpr>,
) -> Result<Option<(Model, Option<u64>)>, DbErr> {
    let Some(count) = references else {
        return Ok(find(db, id).await?.map(|m| (m, None)));
    };
    let select = Entity::find_by_id(id).expr_as(count, "reference_count");
    let Some(row) = db
        .query_one(select.build(db.get_database_backend()))
        .await?
    else {
        return Ok(None);
    };
    let n: i64 = row.try_get("", "reference_count")?;
    Ok(Some((
        Model::from_query_result(&row, "")?,
        Some(u64::try_from(n).unwrap_or(0)),
    )))
}

pub async fn email_taken(
    db: &impl ConnectionTrait,
    email_key: &str,
    except: Option<Uuid>,
) -> Result<bool, DbErr> {
    let mut q = Entity::find().filter(Column::EmailKey.eq(email_key));
    if let Some(id) = except {
        q = q.filter(Column::Id.ne(id));
    }
    Ok(q.one(db).await?.is_some())
}

/// What a search matches: every term in the folded text, or one of the
/// blind indexes the search text could be (a RUT, a phone).
#[derive(Debug, Default, Clone)]
pub struct Search {
    pub terms: Vec<String>,
    pub tax_id_index: Option<String>,
    pub phone_index: Option<String>,
}

impl Search {
    fn condition(&self) -> Option<Condition> {
        if self.terms.is_empty() {
            return None;
        }
        let mut words = Condition::all();
        for term in &self.terms {
            words = words
                .add(Column::SearchText.like(LikeExpr::new(text::like_pattern(term)).escape('\\')));
        }
        let mut any = Condition::any().add(words);
        if let Some(index) = &self.tax_id_index {
            any = any.add(Column::TaxIdIndex.eq(index.clone()));
        }
        if let Some(index) = &self.phone_index {
            any = any.add(Column::PhoneIndex.eq(index.clone()));
        }
        Some(any)
    }
}

/// The clients matching `search` and, when given, exactly
/// `tax_id_index`, unordered.
pub fn select(search: &Search, tax_id_index: Option<&str>) -> Select<Entity> {
    let mut query = Entity::find();
    if let Some(condition) = search.condition() {
        query = query.filter(condition);
    }
    if let Some(index) = tax_id_index {
        query = query.filter(Column::TaxIdIndex.eq(index));
    }
    query
}

/// A page of clients in Spanish name order (sort key, then id), after
/// `cursor`, matching `search` and, when given, exactly `tax_id_index`.
pub async fn list(
    db: &impl ConnectionTrait,
    search: &Search,
    tax_id_index: Option<&str>,
    cursor: Option<(String, Uuid)>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut query = select(search, tax_id_index)
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

/// Clients with a phone but no phone index (written before it existed).
pub async fn missing_phone_index(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::Phone.is_not_null())
        .filter(Column::PhoneIndex.is_null())
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await
}
