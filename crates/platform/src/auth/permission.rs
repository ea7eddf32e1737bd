//! A permission (`module.resource.action`) as a type: each is declared once,
//! as a constant of the module that checks it (`wms::perms::ORDERS_READ`),
//! and routes, pages and checks name the constant, never the text.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission(&'static str);

impl Permission {
    /// `name` is `module.resource.action` in lowercase; checked by the
    /// module test that walks every declared permission.
    pub const fn new(name: &'static str) -> Self {
        Self(name)
    }

    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl AsRef<str> for Permission {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

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
}
