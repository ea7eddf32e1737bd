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
pub mod builtin;
pub mod cache;
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

pub use builtin::{BUILTIN_ROLES, BuiltinRole};
pub use permission::{Grants, is_valid_pattern, pattern_matches};
