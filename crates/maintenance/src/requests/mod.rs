//! Failure reports without an account: each machine's QR label leads to a
//! public page, by a secret token, where anyone on the floor reports a
//! failure with a description and a photo. Reports wait as pending
//! requests until a manager turns one into corrective work or rejects it
//! with a reason.

pub mod api;
pub mod labels;
pub mod pages;
pub mod service;
pub mod store;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Accepted,
    Rejected,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 3] = [
        RequestStatus::Pending,
        RequestStatus::Accepted,
        RequestStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Accepted => "accepted",
            RequestStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<RequestStatus> {
        RequestStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Reports one address may send in an hour, whatever the machine.
pub const PER_ADDRESS_PER_HOUR: u64 = 5;
/// Reports one machine takes in an hour, whoever sends them.
pub const PER_MACHINE_PER_HOUR: u64 = 20;
