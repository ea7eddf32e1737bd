//! Warehouse orders: the domain. The status machine lives here, in one
//! `transition` function that the API, the pages and any job call.

pub mod api;
pub mod csv;
pub mod dashboard;
pub mod pages;
pub mod service;
pub mod store;

use faena_platform::types::required_text;
use faena_platform::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where an order is in the warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Received,
    Picking,
    Packing,
    Shipped,
    Delivered,
    Returned,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Received,
        Status::Picking,
        Status::Packing,
        Status::Shipped,
        Status::Delivered,
        Status::Returned,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::Picking => "picking",
            Status::Packing => "packing",
            Status::Shipped => "shipped",
            Status::Delivered => "delivered",
            Status::Returned => "returned",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The states an order may move to from this one.
    pub fn next(self) -> &'static [Status] {
        match self {
            Status::Received => &[Status::Picking, Status::Cancelled],
            Status::Picking => &[Status::Packing, Status::Cancelled],
            Status::Packing => &[Status::Shipped, Status::Cancelled],
            Status::Shipped => &[Status::Delivered],
            Status::Delivered => &[Status::Returned],
            Status::Returned | Status::Cancelled => &[],
        }
    }

    /// Lines, client and notes may change only before packing starts.
    pub fn is_editable(self) -> bool {
        matches!(self, Status::Received | Status::Picking)
    }
}

/// Why an order came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnCode {
    Damaged,
    WrongItem,
    NotOrdered,
    Late,
    Refused,
    Other,
}

impl ReturnCode {
    pub const ALL: [ReturnCode; 6] = [
        ReturnCode::Damaged,
        ReturnCode::WrongItem,
        ReturnCode::NotOrdered,
        ReturnCode::Late,
        ReturnCode::Refused,
        ReturnCode::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReturnCode::Damaged => "damaged",
            ReturnCode::WrongItem => "wrong_item",
            ReturnCode::NotOrdered => "not_ordered",
            ReturnCode::Late => "late",
            ReturnCode::Refused => "refused",
            ReturnCode::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<ReturnCode> {
        ReturnCode::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A return's reason: a free text the customer gave, and a code to count by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnReason {
    pub text: String,
    pub code: ReturnCode,
}

/// A move the rules allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: Status,
    pub to: Status,
    pub reason: Option<ReturnReason>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionError {
    /// Not a move from `from`; `allowed` are the ones that are.
    NotAllowed {
        from: Status,
        to: Status,
        allowed: &'static [Status],
    },
    /// Marking an order returned needs a reason.
    ReasonRequired,
}

/// The one rule book: API, pages and jobs all call this.
pub fn transition(
    from: Status,
    to: Status,
    reason: Option<&str>,
    code: Option<ReturnCode>,
) -> Result<Transition, TransitionError> {
    if !from.next().contains(&to) {
        return Err(TransitionError::NotAllowed {
            from,
            to,
            allowed: from.next(),
        });
    }
    let reason = if to == Status::Returned {
        let text = reason
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .ok_or(TransitionError::ReasonRequired)?;
        Some(ReturnReason {
            text: text.to_owned(),
            code: code.unwrap_or(ReturnCode::Other),
        })
    } else {
        None
    };
    Ok(Transition { from, to, reason })
}

/// An order number: given (letters, digits, `-`, `_`, up to 40) or
/// generated as `ORD-000123`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderNumber(String);

impl OrderNumber {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim().to_uppercase();
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(OrderNumber(s))
        } else {
            Err(FieldError::new("number", "invalid_order_number"))
        }
    }

    pub fn generated(n: i64) -> Self {
        OrderNumber(format!("ORD-{n:06}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    pub sku: String,
    #[serde(default)]
    pub description: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Line {
    pub sku: String,
    pub description: String,
    pub quantity: i32,
    /// Units that came back in the order's return (0 if none).
    #[serde(default)]
    pub returned: i32,
}

/// A line of a return: which SKU, and how many of its units came back.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLine {
    pub sku: String,
    pub quantity: i64,
}

/// How many units of each of `lines` a return covers: all of them when
/// the return names no lines, else those named, each SKU once, between 1
/// and the line's quantity. Every bad entry is named.
pub fn returned_quantities(
    lines: &[Line],
    given: Option<&[ReturnLine]>,
    errors: &mut FieldErrors,
) -> Vec<i32> {
    let Some(given) = given else {
        return lines.iter().map(|l| l.quantity).collect();
    };
    let mut out = vec![0; lines.len()];
    if given.is_empty() {
        errors.push(FieldError::new("return_lines", "return_lines_required"));
    }
    for (i, r) in given.iter().enumerate() {
        let sku = r.sku.trim();
        let Some(at) = lines.iter().position(|l| l.sku.eq_ignore_ascii_case(sku)) else {
            errors.push(
                FieldError::new(format!("return_lines[{i}].sku"), "unknown_sku").with("value", sku),
            );
            continue;
        };
        if out[at] > 0 {
            errors.push(
                FieldError::new(format!("return_lines[{i}].sku"), "duplicate_sku")
                    .with("value", sku),
            );
            continue;
        }
        match i32::try_from(r.quantity) {
            Ok(q) if (1..=lines[at].quantity).contains(&q) => out[at] = q,
            _ => errors.push(
                FieldError::new(format!("return_lines[{i}].quantity"), "out_of_range")
                    .with("min", 1)
                    .with("max", lines[at].quantity),
            ),
        }
    }
    out
}

pub const MAX_LINES: usize = 500;

/// Parses order lines, naming each bad field by its index.
pub fn parse_lines(input: &[LineInput], errors: &mut FieldErrors) -> Vec<Line> {
    if input.is_empty() {
        errors.push(FieldError::new("lines", "lines_required"));
    }
    if input.len() > MAX_LINES {
        errors.push(FieldError::new("lines", "too_many_lines").with("max", MAX_LINES));
    }
    let mut out = Vec::new();
    for (i, l) in input.iter().enumerate() {
        let sku = errors.take(required_text(&format!("lines[{i}].sku"), &l.sku, 64));
        let description = l.description.trim();
        if description.chars().count() > 300 {
            errors.push(
                FieldError::new(format!("lines[{i}].description"), "too_long").with("max", 300),
            );
        }
        let quantity = match i32::try_from(l.quantity) {
            Ok(q) if (1..=1_000_000).contains(&q) => Some(q),
            _ => {
                errors.push(
                    FieldError::new(format!("lines[{i}].quantity"), "out_of_range")
                        .with("min", 1)
                        .with("max", 1_000_000),
                );
                None
            }
        };
        if let (Some(sku), Some(quantity)) = (sku, quantity) {
            out.push(Line {
                sku,
                description: description.to_owned(),
                quantity,
                returned: 0,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_of_states_is_decided() {
        let allowed = [
            ("received", "picking"),
            ("received", "cancelled"),
            ("picking", "packing"),
            ("picking", "cancelled"),
            ("packing", "shipped"),
            ("packing", "cancelled"),
            ("shipped", "delivered"),
            ("delivered", "returned"),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                let expected = allowed.contains(&(from.as_str(), to.as_str()));
                let result = transition(from, to, Some("dañado"), Some(ReturnCode::Damaged));
                assert_eq!(
                    result.is_ok(),
                    expected,
                    "{} → {}",
                    from.as_str(),
                    to.as_str()
                );
                if let Err(TransitionError::NotAllowed { allowed, .. }) = result {
                    assert_eq!(allowed, from.next());
                }
            }
        }
    }

    #[test]
    fn a_return_needs_a_reason() {
        assert_eq!(
            transition(Status::Delivered, Status::Returned, None, None),
            Err(TransitionError::ReasonRequired)
        );
        assert_eq!(
            transition(Status::Delivered, Status::Returned, Some("  "), None),
            Err(TransitionError::ReasonRequired)
        );
        let t = transition(
            Status::Delivered,
            Status::Returned,
            Some(" Caja rota "),
            None,
        )
        .unwrap();
        assert_eq!(
            t.reason,
            Some(ReturnReason {
                text: "Caja rota".into(),
                code: ReturnCode::Other
            })
        );
    }

    #[test]
    fn numbers_and_lines() {
        assert_eq!(OrderNumber::generated(123).as_str(), "ORD-000123");
        assert_eq!(OrderNumber::parse(" po-77 ").unwrap().as_str(), "PO-77");
        assert!(OrderNumber::parse("a b").is_err());
        let mut errors = FieldErrors::new();
        let lines = parse_lines(
            &[
                LineInput {
                    sku: "SKU-1".into(),
                    description: "Tornillos".into(),
                    quantity: 10,
                },
                LineInput {
                    sku: "".into(),
                    description: String::new(),
                    quantity: 0,
                },
            ],
            &mut errors,
        );
        assert_eq!(lines.len(), 1);
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["lines[1].sku", "lines[1].quantity"]);
    }
}
