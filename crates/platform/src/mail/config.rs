//! Mail settings: the transport, the sender and each transport's own.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// How mail leaves Faena. `file` is the default, so a fresh install never
/// sends anything by surprise: every message lands as an `.eml` file in
/// `mail.dir` (default `<data_dir>/mail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    File,
    Smtp,
    Graph,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    pub transport: TransportKind,
    /// The sender of every mail: `Name <address>`.
    pub from: String,
    /// Where the file transport writes; empty means `<data_dir>/mail`.
    pub dir: PathBuf,
    /// Sent mail (bodies included) is deleted after this many days by the
    /// nightly housekeeping; failed mail stays until an admin acts. 0 keeps
    /// everything.
    pub keep_sent_days: u32,
    pub smtp: SmtpConfig,
    pub graph: GraphConfig,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            transport: TransportKind::File,
            from: "Faena <no-reply@faena.localhost>".into(),
            dir: PathBuf::new(),
            keep_sent_days: 90,
            smtp: SmtpConfig::default(),
            graph: GraphConfig::default(),
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or network.
    None,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Empty: no authentication.
    pub username: String,
    #[serde(serialize_with = "crate::secrets::serialize_secret")]
    pub password: SecretString,
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 587,
            security: SmtpSecurity::Starttls,
            username: String::new(),
            password: SecretString::from(String::new()),
            timeout_secs: 30,
        }
    }
}

/// Microsoft Graph with an app registration (client credentials) holding
/// the `Mail.Send` application permission.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphConfig {
    pub tenant_id: String,
    pub client_id: String,
    #[serde(serialize_with = "crate::secrets::serialize_secret")]
    pub client_secret: SecretString,
    /// The mailbox that sends (`/users/{sender}/sendMail`); defaults to the
    /// address of `mail.from`.
    pub sender: String,
    /// Keep a copy in the sender's Sent Items.
    pub save_to_sent_items: bool,
    /// Base URLs (changed only for national clouds and tests).
    pub login_url: String,
    pub api_url: String,
    pub timeout_secs: u64,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            tenant_id: String::new(),
            client_id: String::new(),
            client_secret: SecretString::from(String::new()),
            sender: String::new(),
            save_to_sent_items: true,
            login_url: "https://login.microsoftonline.com".into(),
            api_url: "https://graph.microsoft.com".into(),
            timeout_secs: 30,
        }
    }
}
