//! Persistence of clients: the entity and its queries, nothing else.

use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
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

/// A page of clients ordered by name then id, after `cursor` (name, id),
/// optionally matching `q` in name or email.
pub async fn list(
    db: &impl ConnectionTrait,
    q: Option<&str>,
    tax_id_index: Option<&str>,
    cursor: Option<(String, Uuid)>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut query = Entity::find()
        .order_by_asc(Column::Name)
        .order_by_asc(Column::Id);
    if let Some(text) = q.map(str::trim).filter(|s| !s.is_empty()) {
        let like = format!("%{}%", text.to_lowercase());
        query = query.filter(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(Column::Name))).like(like.clone()))
                .add(Column::EmailKey.like(like)),
        );
    }
    if let Some(index) = tax_id_index {
        query = query.filter(Column::TaxIdIndex.eq(index));
    }
    if let Some((name, id)) = cursor {
        query = query.filter(
            Condition::any().add(Column::Name.gt(name.clone())).add(
                Condition::all()
                    .add(Column::Name.eq(name))
                    .add(Column::Id.gt(id)),
            ),
        );
    }
    query.limit(limit).all(db).await
}
