//! The one list of business modules compiled into the binary. Adding a
//! module means adding it here and nowhere else in the server.

use faena_platform::{Config, Module};

/// Every module, enabled or not (migrations always run for all of them, so
/// switching a module on later finds its schema ready).
pub fn all() -> Vec<Box<dyn Module>> {
    vec![
        Box::new(faena_clients::ClientsModule),
        Box::new(faena_wms::WmsModule),
        Box::new(faena_maintenance::MaintenanceModule),
        Box::new(faena_service::ServiceModule),
    ]
}

/// The modules the configuration leaves switched on.
pub fn enabled(config: &Config) -> Vec<Box<dyn Module>> {
    all()
        .into_iter()
        .filter(|m| config.is_module_enabled(m.name()))
        .collect()
}
