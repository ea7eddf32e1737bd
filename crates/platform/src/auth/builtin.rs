//! The built-in roles: the company's staff, with what each holds of the
//! platform. What they hold of each module is that module's to say
//! (`Module::grants`).

use super::perms;

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

#[cfg(test)]
mod tests {
    use super::super::permission::is_valid_pattern;
    use super::*;

    #[test]
    fn every_builtin_pattern_is_valid() {
        for role in BUILTIN_ROLES {
            for p in role.patterns {
                assert!(is_valid_pattern(p), "{}: {p}", role.name);
            }
        }
    }
}
