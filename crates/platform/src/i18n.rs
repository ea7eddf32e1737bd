//! The one translation mechanism: every text a user reads (pages, mails,
//! PDFs, API error messages) is looked up here by key, Spanish (es-CL)
//! first, English second.
//!
//! Catalogs are plain `key = text` files embedded in each crate
//! (`locales/es.txt`, `locales/en.txt`); `{name}` marks a parameter. A key
//! with a `.one` / `.other` pair is chosen by the `count` parameter. See
//! docs/decisions/0005-translations.md.

use std::collections::HashMap;

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Locale {
    #[default]
    #[serde(rename = "es")]
    Es,
    #[serde(rename = "en")]
    En,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::Es, Locale::En];

    pub fn code(self) -> &'static str {
        match self {
            Locale::Es => "es",
            Locale::En => "en",
        }
    }

    /// The BCP 47 tag for `<html lang>` and `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::Es => "es-CL",
            Locale::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let primary = s.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "es" => Some(Locale::Es),
            "en" => Some(Locale::En),
            _ => None,
        }
    }

    /// Picks the best supported language of an `Accept-Language` header,
    /// honouring q-values; Spanish when nothing matches.
    pub fn from_accept_language(header: &str) -> Self {
        let mut best: Option<(f32, Locale)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let Some(tag) = pieces.next() else { continue };
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(locale) = Locale::parse(tag)
                && q > 0.0
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, locale));
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }

    /// The language of a request: the `lang` cookie set by the language
    /// switch, else `Accept-Language`, else Spanish.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let cookie = headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix("lang="))
            .and_then(Locale::parse);
        cookie.unwrap_or_else(|| {
            headers
                .get(axum::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .map(Locale::from_accept_language)
                .unwrap_or_default()
        })
    }
}

/// All catalogs of the running binary.
#[derive(Debug, Default)]
pub struct I18n {
    texts: HashMap<(Locale, String), String>,
}

/// A parameter value for a message.
pub type Params<'a> = &'a [(&'a str, String)];

impl I18n {
    /// Adds one catalog file's entries. Later additions win, so a module may
    /// override a platform text.
    pub fn add(&mut self, locale: Locale, source: &str) -> Result<(), String> {
        for (n, line) in source.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, text)) = line.split_once('=') else {
                return Err(format!("line {}: expected `key = text`", n + 1));
            };
            let text = text.trim().replace("\\n", "\n");
            // One word for one key: a second catalogue (or a second line)
            // saying the same key would silently change another page.
            if self
                .texts
                .insert((locale, key.trim().to_owned()), text)
                .is_some()
            {
                return Err(format!(
                    "line {}: `{}` is already defined",
                    n + 1,
                    key.trim()
                ));
            }
        }
        Ok(())
    }

    /// The text for `key`, falling back to Spanish, then to the key itself
    /// (so a missing text is visible, never a blank).
    pub fn t(&self, locale: Locale, key: &str, params: Params<'_>) -> String {
        let plural_key;
        let mut key = key;
        if let Some((_, count)) = params.iter().find(|(k, _)| *k == "count") {
            let form = if count == "1" { "one" } else { "other" };
            plural_key = format!("{key}.{form}");
            if self.lookup(locale, &plural_key).is_some() {
                key = &plural_key;
            }
        }
        let Some(text) = self.lookup(locale, key) else {
            return key.to_owned();
        };
        interpolate(text, params)
    }

    /// The text for `key` when the catalogue has one, else `fallback`: for
    /// words of records that may or may not be the catalogue's (a built-in
    /// role's name, an actor, a job kind).
    pub fn t_or(&self, locale: Locale, key: &str, fallback: &str) -> String {
        match self.lookup(locale, key) {
            Some(text) => text.to_owned(),
            None => fallback.to_owned(),
        }
    }

    pub fn has(&self, locale: Locale, key: &str) -> bool {
        self.texts.contains_key(&(locale, key.to_owned()))
    }

    fn lookup(&self, locale: Locale, key: &str) -> Option<&str> {
        self.texts
            .get(&(locale, key.to_owned()))
            .or_else(|| self.texts.get(&(Locale::Es, key.to_owned())))
            .map(String::as_str)
    }

    /// Keys present in one language and missing in another (for tests).
    pub fn missing(&self) -> Vec<(Locale, String)> {
        let mut missing = Vec::new();
        for (locale, key) in self.texts.keys() {
            for other in Locale::ALL {
                if other != *locale && !self.texts.contains_key(&(other, key.clone())) {
                    missing.push((other, key.clone()));
                }
            }
        }
        missing.sort_by(|a, b| a.1.cmp(&b.1));
        missing
    }
}

fn interpolate(text: &str, params: Params<'_>) -> String {
    if !text.contains('{') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match params.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The language of the terminal a command runs in (`LC_ALL`,
/// `LC_MESSAGES`, `LANG`), Spanish when it names none we speak.
pub fn terminal_locale() -> Locale {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|v| !v.is_empty() && v != "C" && v != "POSIX")
        .and_then(|v| Locale::parse(&v))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> I18n {
        let mut i18n = I18n::default();
        i18n.add(
            Locale::Es,
            "greet = Hola, {name}\norders.one = {count} orden\norders.other = {count} órdenes\nonly_es = solo",
        )
        .unwrap_or_default();
        i18n.add(Locale::En, "greet = Hello, {name}")
            .unwrap_or_default();
        i18n
    }

    #[test]
    fn a_key_is_said_once() {
        let mut i18n = I18n::default();
        assert!(i18n.add(Locale::Es, "report.title = Informe").is_ok());
        let err = i18n
            .add(Locale::Es, "x = y\nreport.title = Reportar")
            .unwrap_err();
        assert_eq!(err, "line 2: `report.title` is already defined");
        assert!(
            i18n.add(Locale::En, "report.title = Report").is_ok(),
            "per language"
        );
    }

    #[test]
    fn interpolates_and_falls_back_to_spanish() {
        let i18n = catalog();
        let name = [("name", "Ana".to_owned())];
        assert_eq!(i18n.t(Locale::Es, "greet", &name), "Hola, Ana");
        assert_eq!(i18n.t(Locale::En, "greet", &name), "Hello, Ana");
        assert_eq!(i18n.t(Locale::En, "only_es", &[]), "solo");
        assert_eq!(i18n.t(Locale::Es, "nope", &[]), "nope");
    }

    #[test]
    fn plural_follows_count() {
        let i18n = catalog();
        assert_eq!(
            i18n.t(Locale::Es, "orders", &[("count", "1".into())]),
            "1 orden"
        );
        assert_eq!(
            i18n.t(Locale::Es, "orders", &[("count", "3".into())]),
            "3 órdenes"
        );
    }

    #[test]
    fn accept_language_honours_quality() {
        assert_eq!(Locale::from_accept_language("en-US,en;q=0.9"), Locale::En);
        assert_eq!(
            Locale::from_accept_language("fr, en;q=0.5, es;q=0.8"),
            Locale::Es
        );
        assert_eq!(Locale::from_accept_language("de"), Locale::Es);
        assert_eq!(Locale::from_accept_language(""), Locale::Es);
    }
}
