//! Integration tests of the composed application: one binary for the crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod audit;
mod auth;
mod backup;
mod binary;
mod crashes;
mod created;
mod demo;
mod errors;
mod files;
mod idempotency;
mod jobs;
mod keys;
mod mail;
mod modules;
mod openapi;
mod outage;
mod overload;
mod pages;
mod realtime;
mod stores;
mod support;
mod system;
mod uploads;
mod webhooks;
