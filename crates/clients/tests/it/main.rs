//! Integration tests of the customer directory, on the real application.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod pages;
