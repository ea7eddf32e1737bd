//! Applies the platform's and every module's migrations, in module order.

use sea_orm_migration::{MigrationTrait, MigratorTrait};

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = faena_platform::migrations();
        for module in crate::modules::all() {
            all.extend(module.migrations());
        }
        all
    }
}

/// Names of every migration, in order (for `faena migrate --status` and for
/// the test template database).
pub fn names() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}
