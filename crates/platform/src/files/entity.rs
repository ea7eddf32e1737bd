//! SeaORM entities of attached files and their versions.

pub mod file {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "faena_files")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// Declared by the owning module (`wms.order`).
        pub owner_kind: String,
        /// The owner's id as its module names it (`P-000123`, a UUID …).
        pub owner_id: String,
        /// The current version's (sanitised) name.
        pub name: String,
        pub current_version: i32,
        pub created_by: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        /// Set by a deletion; the purge job then removes objects and rows.
        pub deleted_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod version {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "faena_file_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub file_id: Uuid,
        /// 1, 2, 3 … per file.
        pub version: i32,
        pub name: String,
        /// Sniffed from the content, never taken from the client.
        pub content_type: String,
        pub size: i64,
        /// Lowercase hex SHA-256 of the content.
        pub sha256: String,
        /// Object key: `<file id>/<version id>`, from server ids only.
        pub storage_key: String,
        /// `pending`, `ready`, `none` (not an image) or `failed`.
        pub thumbnail: String,
        pub thumbnail_key: Option<String>,
        pub created_by: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
