//! What the lab hands to an auditor and to management: the calibration
//! register and the maintenance report, each as JSON, a page and a
//! document (PDF, and CSV for the report).

pub mod api;
pub mod calibrations;
pub mod dashboard;
pub mod pages;
pub mod report;
