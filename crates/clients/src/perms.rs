//! The customer directory's permissions, each declared once.

use faena_platform::auth::Permission;

pub const CLIENTS_READ: Permission = Permission::new("clients.clients.read");
pub const CLIENTS_WRITE: Permission = Permission::new("clients.clients.write");
pub const CLIENTS_DELETE: Permission = Permission::new("clients.clients.delete");

/// Every permission above, for `Module::permissions`.
pub const ALL: &[Permission] = &[CLIENTS_READ, CLIENTS_WRITE, CLIENTS_DELETE];
