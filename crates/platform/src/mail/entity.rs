//! SeaORM entity of the mail outbox.

pub mod mail {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "faena_mail")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// JSON array of addresses (`Name <a@b.cl>` or `a@b.cl`).
        pub to_addrs: String,
        /// JSON array, may be empty.
        pub cc_addrs: String,
        pub reply_to: Option<String>,
        pub subject: String,
        pub text_body: String,
        pub html_body: Option<String>,
        /// JSON array of `{name, content_type, data}` (data in base64).
        pub attachments: Option<String>,
        pub template: Option<String>,
        pub locale: String,
        pub related_entity: Option<String>,
        pub related_id: Option<String>,
        pub state: String,
        pub attempts: i32,
        pub last_error: Option<String>,
        /// The transport that delivered it.
        pub transport: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub sent_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
