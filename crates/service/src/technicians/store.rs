//! Persistence of technicians' profiles.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

pub mod profile {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_technicians")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        /// A JSON array of strings.
        pub specialties: String,
        pub active: bool,
        pub updated_at: DateTimeUtc,
        pub version: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub async fn find(db: &impl ConnectionTrait, user: Uuid) -> Result<Option<profile::Model>, DbErr> {
    profile::Entity::find_by_id(user).one(db).await
}

pub async fn all(db: &impl ConnectionTrait) -> Result<HashMap<Uuid, profile::Model>, DbErr> {
    Ok(profile::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.user_id, p))
        .collect())
}

/// Whether the user may be given work: no profile yet, or an active one.
pub async fn is_active(db: &impl ConnectionTrait, user: Uuid) -> Result<bool, DbErr> {
    Ok(profile::Entity::find()
        .filter(profile::Column::UserId.eq(user))
        .filter(profile::Column::Active.eq(false))
        .one(db)
        .await?
        .is_none())
}

pub fn specialties_of(p: &profile::Model) -> Vec<String> {
    serde_json::from_str(&p.specialties).unwrap_or_default()
}
