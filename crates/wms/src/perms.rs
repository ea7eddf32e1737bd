//! The warehouse's permissions, each declared once.

use faena_platform::auth::Permission;

pub const ORDERS_READ: Permission = Permission::new("wms.orders.read");
pub const ORDERS_WRITE: Permission = Permission::new("wms.orders.write");
pub const ORDERS_DELETE: Permission = Permission::new("wms.orders.delete");

/// Every permission above, for `Module::permissions`.
pub const ALL: &[Permission] = &[ORDERS_READ, ORDERS_WRITE, ORDERS_DELETE];
