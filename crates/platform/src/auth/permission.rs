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
