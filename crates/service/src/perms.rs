//! The repair shop's permissions, each declared once (decision 0031).

use faena_platform::auth::Permission;

/// Seeing service orders. Without `ORDERS_ALL`, only the caller's own
/// (assigned to them) and the unassigned ones: the technician's queue.
pub const ORDERS_READ: Permission = Permission::new("service.orders.read");
/// Every order, not only one's own or the unassigned ones (reading and
/// acting on them).
pub const ORDERS_ALL: Permission = Permission::new("service.orders.all");
/// The front desk: take a device in, edit the order, assign it, and the
/// moves made on the customer's word (awaiting approval, approved,
/// rejected, delivered, cancelled).
pub const ORDERS_WRITE: Permission = Permission::new("service.orders.write");
/// The bench: take an unassigned order, diagnose, and the workshop's moves
/// (diagnosing, awaiting parts, in repair, ready).
pub const ORDERS_WORK: Permission = Permission::new("service.orders.work");
/// Writing the estimate's lines (parts and labour).
pub const ORDERS_QUOTE: Permission = Permission::new("service.orders.quote");
/// Attaching photos and documents (the device's condition at intake, the
/// repair) to the orders the caller sees; reading them needs only
/// `ORDERS_READ` and the same sight of the order.
pub const ORDERS_ATTACH: Permission = Permission::new("service.orders.attach");
pub const TECHNICIANS_READ: Permission = Permission::new("service.technicians.read");
/// Technicians' profiles (specialties, active).
pub const TECHNICIANS_WRITE: Permission = Permission::new("service.technicians.write");

/// Seeing the configured printers (to print on one, or download labels).
pub const PRINTERS_READ: Permission = Permission::new("service.printers.read");
/// Adding, changing and removing printers.
pub const PRINTERS_WRITE: Permission = Permission::new("service.printers.write");

/// Every permission above, for `Module::permissions`.
pub const ALL: &[Permission] = &[
    ORDERS_READ,
    ORDERS_ALL,
    ORDERS_WRITE,
    ORDERS_WORK,
    ORDERS_QUOTE,
    ORDERS_ATTACH,
    TECHNICIANS_READ,
    TECHNICIANS_WRITE,
    PRINTERS_READ,
    PRINTERS_WRITE,
];
