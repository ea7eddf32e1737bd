//! The transports: a folder of `.eml` files (default), SMTP through
//! lettre, and Microsoft Graph (see `graph`). One `Mailer` per process,
//! built from the configuration; the SMTP connection pool and the Graph
//! token are made on first use.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment as LettreAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use tokio::sync::OnceCell;

use super::config::{MailConfig, SmtpSecurity, TransportKind};
use super::graph::GraphClient;
use super::message::{Outgoing, SendError};

pub struct Mailer {
    config: MailConfig,
    dir: PathBuf,
    smtp: OnceCell<AsyncSmtpTransport<Tokio1Executor>>,
    graph: GraphClient,
}

impl Mailer {
    pub fn new(config: &MailConfig, data_dir: &std::path::Path) -> Self {
        let dir = if config.dir.as_os_str().is_empty() {
            data_dir.join("mail")
        } else {
            config.dir.clone()
        };
        Mailer {
            config: config.clone(),
            dir,
            smtp: OnceCell::new(),
            graph: GraphClient::new(&config.graph),
        }
    }

    /// Where the file transport writes.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    pub fn transport_name(&self) -> &'static str {
        match self.config.transport {
            TransportKind::File => "file",
            TransportKind::Smtp => "smtp",
            TransportKind::Graph => "graph",
        }
    }

    /// Sends `mail`; on success, the name of the transport that took it.
    pub async fn send(&self, mail: &Outgoing) -> Result<&'static str, SendError> {
        match self.config.transport {
            TransportKind::File => {
                let message = self.message(mail)?;
                self.write_file(mail, &message.formatted()).await?;
            }
            TransportKind::Smtp => {
                let message = self.message(mail)?;
                let smtp = self
                    .smtp
                    .get_or_try_init(|| async { self.smtp_transport() })
                    .await?;
                smtp.send(message).await.map_err(|e| {
                    if e.is_permanent() {
                        SendError::Permanent(format!("the SMTP server refused the mail: {e}"))
                    } else {
                        SendError::Transient(format!("SMTP: {e}"))
                    }
                })?;
            }
            TransportKind::Graph => {
                let from = self.from()?;
                let sender = if self.config.graph.sender.trim().is_empty() {
                    from.email.to_string()
                } else {
                    self.config.graph.sender.trim().to_owned()
                };
                self.graph.send(&sender, mail).await?;
            }
        }
        Ok(self.transport_name())
    }

    fn from(&self) -> Result<Mailbox, SendError> {
        self.config.from.parse::<Mailbox>().map_err(|e| {
            SendError::Transient(format!(
                "mail.from `{}` is not an address: {e}",
                self.config.from
            ))
        })
    }

    /// The RFC 5322 message: multipart/alternative when there is HTML,
    /// multipart/mixed around it when there are attachments. Its
    /// Message-ID derives from the outbox id, so a retry after a lost
    /// acknowledgement carries the same id and mail clients show one.
    pub fn message(&self, mail: &Outgoing) -> Result<Message, SendError> {
        let from = self.from()?;
        let bad = |e: String| SendError::Permanent(e);
        let domain = from.email.domain().to_owned();
        let mut b = Message::builder()
            .from(from)
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{}@{domain}>", mail.id)))
            .date(mail.created_at.into());
        for to in &mail.to {
            b = b.to(to
                .parse()
                .map_err(|e| bad(format!("recipient `{to}`: {e}")))?);
        }
        for cc in &mail.cc {
            b = b.cc(cc.parse().map_err(|e| bad(format!("copy `{cc}`: {e}")))?);
        }
        if let Some(r) = &mail.reply_to {
            b = b.reply_to(r.parse().map_err(|e| bad(format!("reply-to `{r}`: {e}")))?);
        }
        let body = match &mail.html {
            Some(html) => MultiPart::alternative_plain_html(mail.text.clone(), html.clone()),
            None => MultiPart::mixed().singlepart(SinglePart::plain(mail.text.clone())),
        };
        let body = if mail.attachments.is_empty() {
            body
        } else {
            let mut mixed = MultiPart::mixed().multipart(body);
            for a in &mail.attachments {
                let ct = ContentType::parse(&a.content_type).unwrap_or_else(|_| {
                    ContentType::parse("application/octet-stream")
                        .unwrap_or(ContentType::TEXT_PLAIN)
                });
                mixed = mixed
                    .singlepart(LettreAttachment::new(a.name.clone()).body(a.data.clone(), ct));
            }
            mixed
        };
        b.multipart(body)
            .map_err(|e| bad(format!("the message cannot be built: {e}")))
    }

    async fn write_file(&self, mail: &Outgoing, bytes: &[u8]) -> Result<(), SendError> {
        let io = |e: std::io::Error| SendError::Transient(format!("{}: {e}", self.dir.display()));
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        // Named by the outbox id: a second run rewrites the same file.
        let path = self.dir.join(format!("{}.eml", mail.id));
        let tmp = self.dir.join(format!(".{}.eml.tmp", mail.id));
        tokio::fs::write(&tmp, bytes).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)?;
        Ok(())
    }

    fn smtp_transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let c = &self.config.smtp;
        let host = c.host.trim();
        let config_error = |e: lettre::transport::smtp::Error| {
            SendError::Transient(format!("mail.smtp.host `{host}`: {e}"))
        };
        let builder = match c.security {
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(config_error)?
            }
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(config_error)?
            }
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        let mut builder = builder
            .port(c.port)
            .timeout(Some(Duration::from_secs(c.timeout_secs.max(1))));
        if !c.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                c.username.clone(),
                c.password.expose_secret().to_owned(),
            ));
        }
        Ok(builder.build())
    }
}
