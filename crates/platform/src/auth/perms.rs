//! The platform's own permissions, each declared once.

use super::permission::Permission;

pub const USERS_READ: Permission = Permission::new("platform.users.read");
pub const USERS_MANAGE: Permission = Permission::new("platform.users.manage");
pub const ROLES_MANAGE: Permission = Permission::new("platform.roles.manage");
pub const API_KEYS_MANAGE: Permission = Permission::new("platform.api_keys.manage");
pub const AUDIT_READ: Permission = Permission::new("platform.audit.read");
pub const SYSTEM_READ: Permission = Permission::new("platform.system.read");
pub const METRICS_READ: Permission = Permission::new("platform.metrics.read");
pub const JOBS_READ: Permission = Permission::new("platform.jobs.read");
pub const JOBS_MANAGE: Permission = Permission::new("platform.jobs.manage");
pub const MAIL_READ: Permission = Permission::new("platform.mail.read");
pub const MAIL_MANAGE: Permission = Permission::new("platform.mail.manage");
pub const WEBHOOKS_READ: Permission = Permission::new("platform.webhooks.read");
pub const WEBHOOKS_MANAGE: Permission = Permission::new("platform.webhooks.manage");
pub const BACKUPS_MANAGE: Permission = Permission::new("platform.backups.manage");

/// Every permission above, for `Module::permissions`.
pub const ALL: &[Permission] = &[
    USERS_READ,
    USERS_MANAGE,
    ROLES_MANAGE,
    API_KEYS_MANAGE,
    AUDIT_READ,
    SYSTEM_READ,
    METRICS_READ,
    JOBS_READ,
    JOBS_MANAGE,
    MAIL_READ,
    MAIL_MANAGE,
    WEBHOOKS_READ,
    WEBHOOKS_MANAGE,
    BACKUPS_MANAGE,
];
