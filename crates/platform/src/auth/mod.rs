//! Identity and access: users, roles and permissions, sessions, tokens, API
//! keys and login throttling.
//!
//! Deny by default: every route states its access (`Access`) as part of its
//! declaration — API routes through their OpenAPI `security` requirement,
//! pages through `Pages` — and the `authorize` layer refuses any route that
//! has none. Modules declare permissions; they never check credentials.

pub mod access;
pub mod admin_pages;
pub mod api;
pub mod api_keys;
pub mod entities;
pub mod pages;
pub mod password;
pub mod permission;
pub mod perms;
pub mod principal;
pub mod roles;
pub mod service;
pub mod session;
pub mod throttle;
pub mod token;
pub mod users;
pub mod users_api;

pub use access::secured;
pub use access::{Access, AccessMap, Pages};
pub use permission::Permission;
pub use principal::{Actor, Principal};
pub use roles::check_grants;

/// A built-in role and its default permission patterns (see
/// `pattern_matches`). Admins may change the patterns, not delete the role.
pub struct BuiltinRole {
    pub name: &'static str,
    pub patterns: &'static [&'static str],
}

/// The built-in roles with what they hold of the platform. What they hold
/// of each module is that module's to say (`Module::grants`), given once
/// when the module is first installed.
pub const BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        name: "admin",
        patterns: &["*"],
    },
    BuiltinRole {
        name: "manager",
        patterns: &[
            perms::USERS_READ.as_str(),
            perms::AUDIT_READ.as_str(),
            perms::SYSTEM_READ.as_str(),
        ],
    },
    BuiltinRole {
        name: "receptionist",
        patterns: &[perms::SYSTEM_READ.as_str()],
    },
    BuiltinRole {
        name: "technician",
        patterns: &[perms::SYSTEM_READ.as_str()],
    },
    BuiltinRole {
        name: "warehouse",
        patterns: &[perms::SYSTEM_READ.as_str()],
    },
    BuiltinRole {
        name: "dispatcher",
        patterns: &[perms::SYSTEM_READ.as_str()],
    },
    BuiltinRole {
        name: "driver",
        patterns: &[perms::SYSTEM_READ.as_str()],
    },
    BuiltinRole {
        name: "viewer",
        patterns: &[perms::SYSTEM_READ.as_str()],
    },
];

/// One module's default grants: built-in role name → permission patterns.
pub type Grants = &'static [(&'static str, &'static [&'static str])];

/// Whether a role pattern grants a permission. Patterns compare segment by
/// segment; `*` matches any one segment, and a pattern of just `*` matches
/// every permission.
pub fn pattern_matches(pattern: &str, permission: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let mut p = pattern.split('.');
    let mut q = permission.split('.');
    loop {
        match (p.next(), q.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == "*" || a == b => continue,
            _ => return false,
        }
    }
}

/// A pattern is `*` or three dot-separated segments of lowercase letters,
/// digits, `_` or `*`.
pub fn is_valid_pattern(pattern: &str) -> bool {
    pattern == "*"
        || (pattern.split('.').count() == 3
            && pattern.split('.').all(|s| {
                !s.is_empty()
                    && (s == "*"
                        || s.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_by_segment() {
        assert!(pattern_matches("*", "wms.orders.read"));
        assert!(pattern_matches("wms.*.read", "wms.orders.read"));
        assert!(pattern_matches("wms.*.*", "wms.returns.write"));
        assert!(!pattern_matches("wms.*.read", "wms.orders.write"));
        assert!(!pattern_matches("wms.*.read", "clients.clients.read"));
        assert!(!pattern_matches("wms.orders", "wms.orders.read"));
        assert!(pattern_matches(
            "platform.users.read",
            "platform.users.read"
        ));
    }

    #[test]
    fn pattern_syntax() {
        assert!(is_valid_pattern("*"));
        assert!(is_valid_pattern("wms.*.read"));
        assert!(!is_valid_pattern("wms.read"));
        assert!(!is_valid_pattern("WMS.orders.read"));
        assert!(!is_valid_pattern("wms..read"));
    }

    #[test]
    fn every_builtin_pattern_is_valid() {
        for role in BUILTIN_ROLES {
            for p in role.patterns {
                assert!(is_valid_pattern(p), "{}: {p}", role.name);
            }
        }
    }
}
