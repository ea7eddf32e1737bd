//! Clients: the domain. Input is parsed into `ClientData`, which can only
//! hold valid values; tax ids are Chilean RUTs (check digit verified) or,
//! for other countries, free text.

pub mod api;
pub mod pages;
pub mod service;
pub mod store;

use faena_platform::types::{Email, Rut, required_text};
use faena_platform::{FieldError, FieldErrors};
use serde::Deserialize;
use utoipa::ToSchema;

/// A tax id: a valid RUT in Chile, free text elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaxId {
    Rut(Rut),
    Foreign { country: String, id: String },
}

impl TaxId {
    pub fn parse(country: Option<&str>, raw: &str) -> Result<Self, FieldError> {
        let country = country
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .unwrap_or("CL")
            .to_ascii_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(FieldError::new("tax_country", "invalid_country"));
        }
        if country == "CL" {
            return Rut::parse("tax_id", raw).map(TaxId::Rut);
        }
        let id = required_text("tax_id", raw, 40)?;
        Ok(TaxId::Foreign { country, id })
    }

    pub fn country(&self) -> &str {
        match self {
            TaxId::Rut(_) => "CL",
            TaxId::Foreign { country, .. } => country,
        }
    }

    /// The form shown to people (`76.086.428-5`).
    pub fn display(&self) -> String {
        match self {
            TaxId::Rut(r) => r.formatted(),
            TaxId::Foreign { id, .. } => id.clone(),
        }
    }

    /// The form the blind index is computed over: country and a canonical
    /// id, so `76.086.428-5` and `760864285` find the same client.
    pub fn index_input(&self) -> String {
        match self {
            TaxId::Rut(r) => format!("CL:{}", r.normalised()),
            TaxId::Foreign { country, id } => {
                let canonical: String = id
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .collect::<String>()
                    .to_uppercase();
                format!("{country}:{canonical}")
            }
        }
    }
}

/// The folded text a search looks in: name, email, comuna and city (the
/// encrypted fields are found through their blind indexes instead).
pub fn search_text(name: &str, email: &str, comuna: Option<&str>, city: Option<&str>) -> String {
    faena_platform::text::search_text([
        name,
        email,
        comuna.unwrap_or_default(),
        city.unwrap_or_default(),
    ])
}

/// The comuna's Spanish sort key; a client without one sorts after every
/// comuna (`~` follows the key's letters and digits).
pub fn comuna_key(comuna: Option<&str>) -> String {
    match comuna.map(faena_platform::text::sort_key) {
        Some(key) if !key.is_empty() => key,
        _ => "~".to_owned(),
    }
}

/// What the phone's blind index is computed over: its last eight digits,
/// so `+56 9 8765 4321`, `987654321` and `8765 4321` find the same client
/// (all of them when it has fewer).
pub fn phone_index_input(phone: &str) -> String {
    let digits = faena_platform::text::digits(phone);
    digits[digits.len().saturating_sub(8)..].to_owned()
}

/// What a client sends to create or replace a client.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientInput {
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub comuna: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    /// Country of `tax_id`, ISO 3166-1 alpha-2 (default `CL`). Ignored
    /// without a `tax_id`.
    #[serde(default)]
    pub tax_country: Option<String>,
    /// Optional: a client may be a person buying without one. When given
    /// for `CL` it must be a valid RUT (any format: `76.086.428-5`,
    /// `760864285`); it is stored encrypted and found through a blind
    /// index. Documents that need it (an electronic dispatch guide, an
    /// invoice) require it when they are issued.
    #[serde(default)]
    pub tax_id: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// A partial change (`PATCH`): absent fields stay as they are; `null` or
/// an empty string clears an optional one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    pub name: Option<String>,
    pub email: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub comuna: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub city: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub tax_country: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub tax_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub notes: Option<Option<String>>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A valid client, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientData {
    pub name: String,
    pub email: Email,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub comuna: Option<String>,
    pub city: Option<String>,
    pub tax_id: Option<TaxId>,
    pub notes: Option<String>,
}

fn optional(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>, FieldError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.chars().count() > max => {
            Err(FieldError::new(field, "too_long").with("max", max))
        }
        Some(s) => Ok(Some(s.to_owned())),
    }
}

fn phone(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(p) = optional("phone", raw, 30)? else {
        return Ok(None);
    };
    let digits = p.chars().filter(char::is_ascii_digit).count();
    let allowed = p
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if allowed && (8..=15).contains(&digits) {
        Ok(Some(p))
    } else {
        Err(FieldError::new("phone", "invalid_phone"))
    }
}

impl ClientData {
    /// Parses every field, reporting all errors at once.
    pub fn parse(input: &ClientInput) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = errors.take(required_text("name", &input.name, 200));
        let email = errors.take(Email::parse("email", &input.email));
        let phone = errors.take(phone(input.phone.as_deref()));
        let address = errors.take(optional("address", input.address.as_deref(), 300));
        let comuna = errors.take(optional("comuna", input.comuna.as_deref(), 100));
        let city = errors.take(optional("city", input.city.as_deref(), 100));
        let notes = errors.take(optional("notes", input.notes.as_deref(), 4000));
        let tax_id = match input
            .tax_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Some(None),
            Some(raw) => errors
                .take(TaxId::parse(input.tax_country.as_deref(), raw))
                .map(Some),
        };
        match (name, email, phone, address, comuna, city, notes, tax_id) {
            (
                Some(name),
                Some(email),
                Some(phone),
                Some(address),
                Some(comuna),
                Some(city),
                Some(notes),
                Some(tax_id),
            ) if errors.is_empty() => Ok(ClientData {
                name,
                email,
                phone,
                address,
                comuna,
                city,
                tax_id,
                notes,
            }),
            _ => Err(errors),
        }
    }

    /// The input this data came from (to apply a patch over it).
    pub fn to_input(&self) -> ClientInput {
        ClientInput {
            name: self.name.clone(),
            email: self.email.as_str().to_owned(),
            phone: self.phone.clone(),
            address: self.address.clone(),
            comuna: self.comuna.clone(),
            city: self.city.clone(),
            tax_country: self.tax_id.as_ref().map(|t| t.country().to_owned()),
            tax_id: self.tax_id.as_ref().map(TaxId::display),
            notes: self.notes.clone(),
        }
    }
}

impl ClientPatch {
    pub fn apply(self, mut input: ClientInput) -> ClientInput {
        if let Some(v) = self.name {
            input.name = v;
        }
        if let Some(v) = self.email {
            input.email = v;
        }
        let set = |slot: &mut Option<String>, v: Option<Option<String>>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(&mut input.phone, self.phone);
        set(&mut input.address, self.address);
        set(&mut input.comuna, self.comuna);
        set(&mut input.city, self.city);
        set(&mut input.tax_country, self.tax_country);
        set(&mut input.tax_id, self.tax_id);
        set(&mut input.notes, self.notes);
        input
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ClientInput {
        ClientInput {
            name: "Ferretería Los Andes".into(),
            email: "compras@losandes.cl".into(),
            ..ClientInput::default()
        }
    }

    #[test]
    fn parses_a_minimal_client() {
        let c = ClientData::parse(&input()).unwrap();
        assert_eq!(c.name, "Ferretería Los Andes");
        assert_eq!(c.tax_id, None);
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = ClientInput {
            name: " ".into(),
            email: "no".into(),
            phone: Some("abc".into()),
            tax_id: Some("76.086.428-4".into()),
            ..ClientInput::default()
        };
        let fields: Vec<(String, String)> = ClientData::parse(&bad)
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| (e.field, e.code.into_owned()))
            .collect();
        assert_eq!(
            fields,
            [
                ("name".into(), "required".into()),
                ("email".into(), "invalid_email".into()),
                ("phone".into(), "invalid_phone".into()),
                ("tax_id".into(), "invalid_rut_check_digit".into()),
            ]
        );
    }

    #[test]
    fn tax_ids_chilean_and_foreign() {
        let rut = TaxId::parse(None, "760864285").unwrap();
        assert_eq!(rut.display(), "76.086.428-5");
        assert_eq!(
            rut.index_input(),
            TaxId::parse(Some("cl"), "76.086.428-5")
                .unwrap()
                .index_input()
        );
        let ar = TaxId::parse(Some("AR"), "30-71234567-1").unwrap();
        assert_eq!(ar.country(), "AR");
        assert_eq!(ar.index_input(), "AR:30712345671");
        assert_eq!(
            TaxId::parse(Some("Chile"), "1").unwrap_err().code,
            "invalid_country"
        );
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let base = ClientData::parse(&ClientInput {
            phone: Some("+56 9 1234 5678".into()),
            ..input()
        })
        .unwrap();
        let patch: ClientPatch =
            serde_json::from_str(r#"{"name": "Nuevo", "phone": null}"#).unwrap();
        let patched = patch.apply(base.to_input());
        assert_eq!(patched.name, "Nuevo");
        assert_eq!(patched.phone, None);
        assert_eq!(patched.email, "compras@losandes.cl");
    }
}
