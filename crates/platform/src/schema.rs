//! What a migration writes with: sea-orm's column helpers (`pk_uuid`,
//! `string_len`, `text_null`, `timestamp_with_time_zone`…, NOT NULL unless
//! the name ends in `_null`), an index and a foreign key in one call.
//! A module's migrations start with `use faena_platform::schema::*;`.

use sea_orm_migration::prelude::{
    ForeignKey, ForeignKeyCreateStatement, Index, IndexCreateStatement, IntoIden, IntoIndexColumn,
    IntoTableRef,
};
pub use sea_orm_migration::schema::*;

/// `CREATE INDEX name ON table (columns…)`; `.unique()` for a unique one.
pub fn index<C: IntoIndexColumn>(
    name: &str,
    table: impl IntoTableRef,
    columns: impl IntoIterator<Item = C>,
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column);
    }
    index
}

/// A foreign key from `table.column` to `to_table.to_column`; add
/// `.on_delete(…)` where a delete must cascade or be refused.
pub fn references(
    table: impl IntoIden + 'static,
    column: impl IntoIden,
    to_table: impl IntoIden + 'static,
    to_column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(to_table, to_column)
        .to_owned()
}
