//! Microsoft Graph mail: an app-only token by client credentials
//! (`POST {login}/{tenant}/oauth2/v2.0/token`, scope
//! `https://graph.microsoft.com/.default`), then
//! `POST {api}/v1.0/users/{sender}/sendMail`, which answers 202. The token
//! is kept until a minute before it expires and fetched again once if
//! Graph answers 401.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::config::GraphConfig;
use super::message::{Outgoing, SendError};

pub struct GraphClient {
    config: GraphConfig,
    http: reqwest::Client,
    token: Mutex<Option<(String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

impl GraphClient {
    pub fn new(config: &GraphConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        GraphClient {
            config: config.clone(),
            http,
            token: Mutex::new(None),
        }
    }

    /// The `sendMail` request body for `mail`.
    pub fn body(&self, mail: &Outgoing) -> Value {
        let recipients = |list: &[String]| -> Vec<Value> {
            list.iter()
                .map(|a| {
                    let (name, address) = split_mailbox(a);
                    let mut e = json!({ "address": address });
                    if let Some(n) = name {
                        e["name"] = json!(n);
                    }
                    json!({ "emailAddress": e })
                })
                .collect()
        };
        let (content_type, content) = match &mail.html {
            Some(html) => ("HTML", html.clone()),
            None => ("Text", mail.text.clone()),
        };
        let mut message = json!({
            "subject": mail.subject,
            "body": { "contentType": content_type, "content": content },
            "toRecipients": recipients(&mail.to),
        });
        if !mail.cc.is_empty() {
            message["ccRecipients"] = json!(recipients(&mail.cc));
        }
        if let Some(r) = &mail.reply_to {
            message["replyTo"] = json!(recipients(std::slice::from_ref(r)));
        }
        if !mail.attachments.is_empty() {
            message["attachments"] = mail
                .attachments
                .iter()
                .map(|a| {
                    json!({
                        "@odata.type": "#microsoft.graph.fileAttachment",
                        "name": a.name,
                        "contentType": a.content_type,
                        "contentBytes": STANDARD.encode(&a.data),
                    })
                })
                .collect();
        }
        json!({ "message": message, "saveToSentItems": self.config.save_to_sent_items })
    }

    pub async fn send(&self, sender: &str, mail: &Outgoing) -> Result<(), SendError> {
        let url = format!(
            "{}/v1.0/users/{}/sendMail",
            self.config.api_url.trim_end_matches('/'),
            urlencode(sender)
        );
        let body = self.body(mail);
        for fresh in [false, true] {
            let token = self.token(fresh).await?;
            let res = self
                .http
                .post(&url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .map_err(|e| SendError::Transient(format!("Graph sendMail: {e}")))?;
            let status = res.status();
            if status.is_success() {
                return Ok(());
            }
            let text = excerpt(res.text().await.unwrap_or_default());
            match status.as_u16() {
                401 if !fresh => continue,
                408 | 429 | 500..=599 | 401 => {
                    return Err(SendError::Transient(format!(
                        "Graph sendMail answered {status}: {text}"
                    )));
                }
                _ => {
                    return Err(SendError::Permanent(format!(
                        "Graph sendMail answered {status}: {text}"
                    )));
                }
            }
        }
        Err(SendError::Transient("Graph refused a fresh token".into()))
    }

    async fn token(&self, fresh: bool) -> Result<String, SendError> {
        let mut slot = self.token.lock().await;
        if !fresh
            && let Some((t, until)) = slot.as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let c = &self.config;
        if c.tenant_id.trim().is_empty() || c.client_id.trim().is_empty() {
            return Err(SendError::Transient(
                "mail.graph.tenant_id and mail.graph.client_id are required".into(),
            ));
        }
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            c.login_url.trim_end_matches('/'),
            urlencode(c.tenant_id.trim())
        );
        let res = self
            .http
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", c.client_id.trim()),
                ("client_secret", c.client_secret.expose_secret()),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .map_err(|e| SendError::Transient(format!("Graph token: {e}")))?;
        let status = res.status();
        if !status.is_success() {
            let text = excerpt(res.text().await.unwrap_or_default());
            // A wrong secret stays wrong, but the admin may fix it and
            // restart: retrying costs little.
            return Err(SendError::Transient(format!(
                "Graph token answered {status}: {text}"
            )));
        }
        let t: TokenResponse = res
            .json()
            .await
            .map_err(|e| SendError::Transient(format!("Graph token response: {e}")))?;
        let life = Duration::from_secs(t.expires_in.unwrap_or(3600).saturating_sub(60));
        *slot = Some((t.access_token.clone(), Instant::now() + life));
        Ok(t.access_token)
    }
}

/// `Name <a@b.cl>` → (Some("Name"), "a@b.cl"); `a@b.cl` → (None, "a@b.cl").
fn split_mailbox(s: &str) -> (Option<String>, String) {
    match s.parse::<lettre::message::Mailbox>() {
        Ok(m) => (m.name, m.email.to_string()),
        Err(_) => (None, s.trim().to_owned()),
    }
}

/// Percent-encodes a path segment (keeping `@`, as in Graph's examples).
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn excerpt(mut s: String) -> String {
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}
