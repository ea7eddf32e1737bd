//! The template environment: the platform's and the modules' templates
//! (minijinja, autoescaped), their filters and functions, the embedded
//! static assets, and rendering of pages and mails.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, State};
use serde::Serialize;

use super::PageContext;
use crate::i18n::{I18n, Locale};

/// A file served under `/assets/`.
pub struct Asset {
    pub bytes: &'static [u8],
    pub content_type: &'static str,
    /// Short content hash, appended as `?v=` so browsers may cache forever.
    pub version: String,
}

pub const PLATFORM_ASSETS: &[(&str, &[u8], &str)] = &[
    (
        "app.css",
        include_bytes!("../../assets/app.css"),
        "text/css; charset=utf-8",
    ),
    (
        "app.js",
        include_bytes!("../../assets/app.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "htmx.min.js",
        include_bytes!("../../assets/vendor/htmx.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "rapidoc-min.js",
        include_bytes!("../../assets/vendor/rapidoc-min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "favicon.svg",
        include_bytes!("../../assets/favicon.svg"),
        "image/svg+xml",
    ),
];

pub const PLATFORM_TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/layout.html")),
    ("home.html", include_str!("../../templates/home.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("confirm.html", include_str!("../../templates/confirm.html")),
    (
        "api_docs.html",
        include_str!("../../templates/api_docs.html"),
    ),
    (
        "auth/login.html",
        include_str!("../../templates/auth/login.html"),
    ),
    (
        "auth/profile.html",
        include_str!("../../templates/auth/profile.html"),
    ),
    (
        "admin/users.html",
        include_str!("../../templates/admin/users.html"),
    ),
    (
        "admin/user_form.html",
        include_str!("../../templates/admin/user_form.html"),
    ),
    (
        "admin/roles.html",
        include_str!("../../templates/admin/roles.html"),
    ),
    (
        "admin/role_form.html",
        include_str!("../../templates/admin/role_form.html"),
    ),
    (
        "admin/api_keys.html",
        include_str!("../../templates/admin/api_keys.html"),
    ),
    (
        "admin/audit.html",
        include_str!("../../templates/admin/audit.html"),
    ),
    (
        "admin/jobs.html",
        include_str!("../../templates/admin/jobs.html"),
    ),
    (
        "admin/job.html",
        include_str!("../../templates/admin/job.html"),
    ),
    (
        "admin/backups.html",
        include_str!("../../templates/admin/backups.html"),
    ),
    (
        "admin/mail.html",
        include_str!("../../templates/admin/mail.html"),
    ),
    (
        "admin/mail_detail.html",
        include_str!("../../templates/admin/mail_detail.html"),
    ),
    (
        "mail/test.subject.txt",
        include_str!("../../templates/mail/test.subject.txt"),
    ),
    (
        "mail/test.txt",
        include_str!("../../templates/mail/test.txt"),
    ),
    (
        "mail/test.html",
        include_str!("../../templates/mail/test.html"),
    ),
    (
        "admin/webhooks.html",
        include_str!("../../templates/admin/webhooks.html"),
    ),
    (
        "files/attachments.html",
        include_str!("../../templates/files/attachments.html"),
    ),
    ("macros.html", include_str!("../../templates/macros.html")),
];

/// An entry of the navigation and of the home page: one per enabled module.
#[derive(Debug, Clone, Serialize)]
pub struct NavEntry {
    pub module: &'static str,
    /// Catalog key of the title; the description is `<key>.description`.
    pub title_key: &'static str,
    pub href: &'static str,
}

/// A time as pages show it: in `zone`, formatted with `format`; a day
/// (`AAAA-MM-DD`) as `dd-mm-aaaa`; other text as it is.
pub(crate) fn local_time(value: &Value, zone: chrono_tz::Tz, format: &str) -> String {
    let Some(text) = value.as_str() else {
        return if value.is_none() || value.is_undefined() {
            String::new()
        } else {
            value.to_string()
        };
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return t.with_timezone(&zone).format(format).to_string();
    }
    // A calendar day (`2026-12-07`) has no zone: it shows as it is.
    match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) => day.format("%d-%m-%Y").to_string(),
        Err(_) => text.to_owned(),
    }
}

/// An integer with `.` between thousands, as Chile writes it
/// (`-1.234.567`).
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

pub struct Ui {
    env: Environment<'static>,
    assets: HashMap<&'static str, Asset>,
}

impl Ui {
    pub fn new(
        i18n: Arc<I18n>,
        templates: &[(&'static str, &'static str)],
        assets: &[(&'static str, &'static [u8], &'static str)],
        nav: &[NavEntry],
        version: &'static str,
        time_zone: chrono_tz::Tz,
    ) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in templates {
            env.add_template(name, source)
                .map_err(|e| anyhow::anyhow!("template {name}: {e}"))?;
        }

        let assets: HashMap<&'static str, Asset> = assets
            .iter()
            .map(|(name, bytes, content_type)| {
                let mut h = DefaultHasher::new();
                bytes.hash(&mut h);
                let version = format!("{:08x}", h.finish() as u32);
                (
                    *name,
                    Asset {
                        bytes,
                        content_type,
                        version,
                    },
                )
            })
            .collect();
        let versions: HashMap<String, String> = assets
            .iter()
            .map(|(k, a)| ((*k).to_owned(), a.version.clone()))
            .collect();
        // The URL is built from our own names: safe to print unescaped.
        env.add_function(
            "asset",
            move |name: &str| -> Result<Value, minijinja::Error> {
                let v = versions.get(name).ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("unknown asset {name}"),
                    )
                })?;
                Ok(Value::from_safe_string(format!("/assets/{name}?v={v}")))
            },
        );
        fn locale_of(state: &State) -> Locale {
            state
                .lookup("locale")
                .and_then(|v| v.as_str().and_then(Locale::parse))
                .unwrap_or_default()
        }
        // `{{ role_label(u.role) }}`: a role's name in the page's language
        // (`role.<name>`), or the name itself for a role an admin made.
        let roles = i18n.clone();
        env.add_function("role_label", move |state: &State, name: &str| -> String {
            roles.t_or(locale_of(state), &format!("role.{name}"), name)
        });
        // `{{ label("job_kind." ~ j.kind, j.kind) }}`: the catalogue's
        // words for a key, or `fallback` where it has none.
        let labels = i18n.clone();
        env.add_function(
            "label",
            move |state: &State, key: &str, fallback: &str| -> String {
                labels.t_or(locale_of(state), key, fallback)
            },
        );
        // `{{ field_id("lines[1].quantity") }}` is `quantity_1`: the id of
        // the input an error names, for the summary's links.
        env.add_filter("field_id", |field: &str| -> String {
            match field.split_once('[') {
                Some((_, rest)) => {
                    let (index, tail) = rest.split_once(']').unwrap_or((rest, ""));
                    let name = tail.trim_start_matches('.');
                    if name.is_empty() {
                        field.to_owned()
                    } else {
                        format!("{name}_{index}")
                    }
                }
                None => field.to_owned(),
            }
        });
        env.add_function(
            "t",
            move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, minijinja::Error> {
                let locale = state
                    .lookup("locale")
                    .and_then(|v| v.as_str().and_then(Locale::parse))
                    .unwrap_or_default();
                let mut params: Vec<(&str, String)> = Vec::new();
                let keys: Vec<String> = kwargs.args().map(str::to_owned).collect();
                for k in &keys {
                    let v: Value = kwargs.get(k)?;
                    params.push((k.as_str(), v.to_string()));
                }
                kwargs.assert_all_used()?;
                Ok(i18n.t(locale, key, &params))
            },
        );
        // `{{ order.created_at | datetime }}`: an RFC 3339 time in the
        // configured zone, `dd-mm-aaaa HH:MM`; `| date` without the time.
        // Nothing (none, undefined, "") shows as nothing.
        // The reader's zone (`zone` in the render context, from their
        // profile), else the configured one.
        fn zone_of(state: &State, default: chrono_tz::Tz) -> chrono_tz::Tz {
            state
                .lookup("zone")
                .and_then(|v| v.as_str().and_then(|z| z.parse().ok()))
                .unwrap_or(default)
        }
        env.add_filter("datetime", move |state: &State, value: Value| {
            local_time(&value, zone_of(state, time_zone), "%d-%m-%Y %H:%M")
        });
        env.add_filter("date", move |state: &State, value: Value| {
            local_time(&value, zone_of(state, time_zone), "%d-%m-%Y")
        });
        // `{{ total | clp }}`: pesos as Chileans write them, `$1.234.567`.
        env.add_filter("clp", |value: i64| -> String {
            format!("${}", thousands(value))
        });
        // `{{ reading | decimal }}`: a number as the reader writes it, with
        // a decimal comma in Spanish (`100,01`), a point in English; whole
        // numbers without decimals.
        env.add_filter("decimal", |state: &State, value: f64| -> String {
            let text = if value.fract() == 0.0 && value.abs() < 1e15 {
                format!("{value:.0}")
            } else {
                value.to_string()
            };
            match state
                .lookup("locale")
                .as_ref()
                .and_then(|l| l.as_str().map(str::to_owned))
            {
                Some(l) if l == "en" => text,
                _ => text.replace('.', ","),
            }
        });
        env.add_global("nav", Value::from_serialize(nav));
        env.add_global("app_version", version);
        env.add_global("time_zone", time_zone.name());
        Ok(Self { env, assets })
    }

    /// Renders a template with the page context and the handler's values.
    pub fn render(
        &self,
        template: &str,
        page: &PageContext,
        ctx: Value,
    ) -> Result<String, minijinja::Error> {
        let tmpl = self.env.get_template(template)?;
        tmpl.render(minijinja::context! {
            locale => page.locale.code(),
            lang_tag => page.locale.tag(),
            other_locale => match page.locale { Locale::Es => "en", Locale::En => "es" },
            path => &page.path,
            request_id => &page.request_id,
            user => &page.user,
            csrf => &page.csrf,
            show_admin => page.show_admin,
            zone => page.principal.as_ref().and_then(|p| p.time_zone).map(|z| z.name()),
            ..ctx
        })
    }

    /// Renders the mail template `mail/<name>`: its subject (one line), its
    /// text body and, when `mail/<name>.html` exists, its HTML body.
    pub fn render_mail(
        &self,
        name: &str,
        locale: Locale,
        ctx: Value,
    ) -> Result<(String, String, Option<String>), minijinja::Error> {
        let ctx = minijinja::context! {
            locale => locale.code(),
            lang_tag => locale.tag(),
            ..ctx
        };
        let subject = self
            .env
            .get_template(&format!("mail/{name}.subject.txt"))?
            .render(&ctx)?;
        let text = self
            .env
            .get_template(&format!("mail/{name}.txt"))?
            .render(&ctx)?;
        let html = match self.env.get_template(&format!("mail/{name}.html")) {
            Ok(t) => Some(t.render(&ctx)?),
            Err(e) if e.kind() == minijinja::ErrorKind::TemplateNotFound => None,
            Err(e) => return Err(e),
        };
        Ok((crate::text::one_line(&subject), text, html))
    }

    pub fn asset(&self, name: &str) -> Option<&Asset> {
        self.assets.get(name)
    }

    pub fn template_names(&self) -> Vec<String> {
        self.env.templates().map(|(n, _)| n.to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_dotted() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1.000");
        assert_eq!(super::thousands(-1234567), "-1.234.567");
    }
}
