//! Outgoing mail. A module writes a mail into the outbox *inside the
//! transaction of the change that calls for it* ([`queue`]), so the mail
//! exists exactly when the change does; the `platform.mail.send` job then
//! delivers it through the configured transport (a folder of `.eml` files
//! by default, SMTP, or Microsoft Graph), retrying with backoff until a
//! final failed state that an admin can resend from.
//!
//! Bodies come from templates (`mail/<name>.subject.txt`, `.txt` and
//! optionally `.html`) rendered in the recipient's language with the same
//! `t()` function as the pages; `.html` templates escape what they print.
//! See docs/decisions/0014-mail.md.

pub mod api;
pub mod config;
pub mod entity;
pub mod graph;
mod message;
pub mod pages;
pub mod transport;

use std::time::Duration;

use chrono::Utc;
use lettre::message::Mailbox;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AppResult, FieldError, FieldErrors};
use crate::i18n::Locale;
use crate::jobs::{self, Enqueue, Job, JobContext, JobType, Permanent, RetryPolicy};
use crate::state::AppState;
pub use config::MailConfig;
use entity::mail;
pub use message::{Attachment, Outgoing, SendError};
pub use transport::Mailer;

/// Where a mail is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailState {
    /// Waiting for the transport (first try or a retry).
    Queued,
    Sent,
    /// Out of attempts or refused for good: waits for an admin to resend.
    Failed,
}

impl MailState {
    pub const ALL: [MailState; 3] = [MailState::Queued, MailState::Sent, MailState::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            MailState::Queued => "queued",
            MailState::Sent => "sent",
            MailState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        MailState::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A mail to queue. Build the bodies with [`render`].
#[derive(Clone, Debug, Default)]
pub struct Mail {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// The template it came from, shown to admins.
    pub template: Option<String>,
    pub locale: Locale,
    /// The record this mail is about (`("service_order", "OS-000123")`), so
    /// that record's page can list its mail.
    pub related: Option<(String, String)>,
}

/// Subject and bodies rendered from a template.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

impl Mail {
    /// A mail to `to` with the rendered template `name`.
    pub fn from_template(
        to: impl Into<String>,
        name: &str,
        locale: Locale,
        rendered: Rendered,
    ) -> Self {
        Mail {
            to: vec![to.into()],
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            template: Some(name.to_owned()),
            locale,
            ..Mail::default()
        }
    }
}

/// The largest mail, attachments included (what most servers accept, and
/// Graph's limit without an upload session).
pub const MAX_ATTACHMENTS_BYTES: usize = 3 * 1024 * 1024;

/// Renders the template `name` (`mail/<name>.subject.txt`, `.txt`, and
/// `.html` when it exists) in `locale`.
pub fn render(
    state: &AppState,
    name: &str,
    locale: Locale,
    ctx: minijinja::Value,
) -> Result<Rendered, minijinja::Error> {
    let (subject, text, html) = state.ui().render_mail(name, locale, ctx)?;
    Ok(Rendered {
        subject,
        text,
        html,
    })
}

/// Checks an address as the transports will read it.
pub fn parse_address(field: &str, value: &str) -> Result<Mailbox, FieldError> {
    value
        .trim()
        .parse::<Mailbox>()
        .map_err(|_| FieldError::new(field, "invalid_email"))
}

fn validate(mail: &Mail) -> AppResult<()> {
    let mut errors = FieldErrors::new();
    if mail.to.is_empty() {
        errors.push(FieldError::new("to", "required"));
    }
    for (i, a) in mail.to.iter().enumerate() {
        errors.take(parse_address(&format!("to[{i}]"), a));
    }
    for (i, a) in mail.cc.iter().enumerate() {
        errors.take(parse_address(&format!("cc[{i}]"), a));
    }
    if let Some(r) = &mail.reply_to {
        errors.take(parse_address("reply_to", r));
    }
    if mail.subject.trim().is_empty() {
        errors.push(FieldError::new("subject", "required"));
    }
    let size: usize = mail.attachments.iter().map(|a| a.data.len()).sum();
    if size > MAX_ATTACHMENTS_BYTES {
        errors.push(FieldError::new("attachments", "too_large").with(
            "max",
            format!("{} MB", MAX_ATTACHMENTS_BYTES / (1024 * 1024)),
        ));
    }
    errors.finish()
}

/// Writes `mail` to the outbox through `db` (pass the transaction of the
/// business change) and enqueues its delivery in the same transaction.
/// Call `state.jobs().wake()` after the commit to send it at once.
pub async fn queue(db: &impl ConnectionTrait, mail: Mail) -> AppResult<Uuid> {
    validate(&mail)?;
    let id = Uuid::now_v7();
    let now = Utc::now();
    let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
    let attachments = if mail.attachments.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&mail.attachments).map_err(anyhow::Error::from)?)
    };
    let (related_entity, related_id) = mail.related.unzip();
    mail::ActiveModel {
        id: Set(id),
        to_addrs: Set(json(&mail.to)),
        cc_addrs: Set(json(&mail.cc)),
        reply_to: Set(mail.reply_to),
        // A subject is one line: no header can be smuggled in.
        subject: Set(crate::text::one_line(&mail.subject)),
        text_body: Set(mail.text),
        html_body: Set(mail.html),
        attachments: Set(attachments),
        template: Set(mail.template),
        locale: Set(mail.locale.code().to_owned()),
        related_entity: Set(related_entity),
        related_id: Set(related_id),
        state: Set(MailState::Queued.as_str().to_owned()),
        attempts: Set(0),
        last_error: Set(None),
        transport: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        sent_at: Set(None),
    }
    .insert(db)
    .await?;
    enqueue_send(db, id).await?;
    Ok(id)
}

pub(crate) async fn enqueue_send(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    jobs::enqueue(
        db,
        &SendMail { id },
        Enqueue {
            dedup_key: Some(format!("mail:{id}")),
            run_at: None,
        },
    )
    .await?;
    Ok(())
}

/// Delivers one outbox mail. Idempotent: a mail already sent is not sent
/// again, whichever worker runs the job.
#[derive(Debug, Serialize, Deserialize)]
pub struct SendMail {
    pub id: Uuid,
}

impl SendMail {
    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 10,
        base: Duration::from_secs(30),
        max_delay: Duration::from_secs(3600),
    };
}

#[async_trait::async_trait]
impl Job for SendMail {
    const NAME: &'static str = "platform.mail.send";

    /// 10 attempts over about 4 hours: 30 s, 1 min, 2 min … then hourly.
    fn retry() -> RetryPolicy {
        Self::POLICY
    }

    fn timeout() -> Duration {
        Duration::from_secs(120)
    }

    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        let state = &ctx.state;
        let Some(row) = mail::Entity::find_by_id(self.id).one(state.db()).await? else {
            return Err(Permanent(format!("mail {} no longer exists", self.id)).into());
        };
        if row.state != MailState::Queued.as_str() {
            // Sent already (a second run after a lost worker), or failed and
            // not resent: nothing to do.
            return Ok(());
        }
        let outgoing = match Outgoing::try_from(&row) {
            Ok(o) => o,
            Err(e) => {
                let e = format!("the stored mail does not parse: {e}");
                mark_failed(state, self.id, &e).await?;
                return Err(Permanent(e).into());
            }
        };
        match state.mailer().send(&outgoing).await {
            Ok(transport) => {
                mark_sent(state, self.id, transport).await?;
                metrics::counter!("faena_mail_sent_total", "transport" => transport).increment(1);
                tracing::info!(mail = %self.id, transport, "mail sent");
                Ok(())
            }
            Err(SendError::Permanent(e)) => {
                mark_failed(state, self.id, &e).await?;
                metrics::counter!("faena_mail_failed_total").increment(1);
                Err(Permanent(e).into())
            }
            Err(SendError::Transient(e)) => {
                if ctx.attempt >= Self::POLICY.max_attempts {
                    mark_failed(state, self.id, &e).await?;
                    metrics::counter!("faena_mail_failed_total").increment(1);
                } else {
                    note_attempt(state, self.id, &e).await?;
                }
                Err(anyhow::anyhow!(e))
            }
        }
    }
}

async fn mark_sent(state: &AppState, id: Uuid, transport: &str) -> Result<(), DbErr> {
    use mail::Column as C;
    let now = Utc::now();
    mail::Entity::update_many()
        .col_expr(C::State, Expr::value(MailState::Sent.as_str()))
        .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
        .col_expr(C::LastError, Expr::value(Option::<String>::None))
        .col_expr(C::Transport, Expr::value(transport))
        .col_expr(C::SentAt, Expr::value(now))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .filter(C::Id.eq(id))
        .exec(state.db())
        .await?;
    Ok(())
}

async fn mark_failed(state: &AppState, id: Uuid, error: &str) -> Result<(), DbErr> {
    use mail::Column as C;
    mail::Entity::update_many()
        .col_expr(C::State, Expr::value(MailState::Failed.as_str()))
        .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
        .col_expr(C::LastError, Expr::value(error))
        .col_expr(C::UpdatedAt, Expr::value(Utc::now()))
        .filter(C::Id.eq(id))
        .filter(C::State.eq(MailState::Queued.as_str()))
        .exec(state.db())
        .await?;
    Ok(())
}

async fn note_attempt(state: &AppState, id: Uuid, error: &str) -> Result<(), DbErr> {
    use mail::Column as C;
    mail::Entity::update_many()
        .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
        .col_expr(C::LastError, Expr::value(error))
        .col_expr(C::UpdatedAt, Expr::value(Utc::now()))
        .filter(C::Id.eq(id))
        .exec(state.db())
        .await?;
    Ok(())
}

/// Deletes sent mail older than `mail.keep_sent_days` (housekeeping).
pub async fn prune(state: &AppState) -> Result<u64, DbErr> {
    let days = state.config().mail.keep_sent_days;
    if days == 0 {
        return Ok(0);
    }
    let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
    let r = mail::Entity::delete_many()
        .filter(mail::Column::State.eq(MailState::Sent.as_str()))
        .filter(mail::Column::SentAt.lt(cutoff))
        .exec(state.db())
        .await?;
    Ok(r.rows_affected)
}

/// The platform's mail job types.
pub fn job_types() -> Vec<JobType> {
    vec![JobType::of::<SendMail>()]
}
