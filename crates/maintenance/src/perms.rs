//! The maintenance module's permissions, each declared once.

use faena_platform::auth::Permission;

pub const MACHINES_READ: Permission = Permission::new("maintenance.machines.read");
pub const MACHINES_WRITE: Permission = Permission::new("maintenance.machines.write");
pub const MACHINES_DELETE: Permission = Permission::new("maintenance.machines.delete");
pub const RECORDS_READ: Permission = Permission::new("maintenance.records.read");
pub const RECORDS_WRITE: Permission = Permission::new("maintenance.records.write");
/// Signing a record off: from then on it cannot change.
pub const RECORDS_APPROVE: Permission = Permission::new("maintenance.records.approve");
pub const PLANS_READ: Permission = Permission::new("maintenance.plans.read");
pub const PLANS_WRITE: Permission = Permission::new("maintenance.plans.write");
pub const REQUESTS_READ: Permission = Permission::new("maintenance.requests.read");
/// Turning failure reports into work, or rejecting them.
pub const REQUESTS_REVIEW: Permission = Permission::new("maintenance.requests.review");

/// Every permission above, for `Module::permissions`.
pub const ALL: &[Permission] = &[
    MACHINES_READ,
    MACHINES_WRITE,
    MACHINES_DELETE,
    RECORDS_READ,
    RECORDS_WRITE,
    RECORDS_APPROVE,
    PLANS_READ,
    PLANS_WRITE,
    REQUESTS_READ,
    REQUESTS_REVIEW,
];
