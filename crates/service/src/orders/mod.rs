//! Service orders: the domain. The status machine lives here, in one
//! `transition` function that the API (and later the pages, the approval
//! link and the payment callback) calls; so do the estimate's arithmetic
//! and the rule of who may see and act on which order.

pub mod api;
pub mod approval;
pub mod csv;
pub mod detail;
pub mod documents;
pub mod labels;
pub mod notices;
pub mod pages;
pub mod payments;
pub mod public;
pub mod reminders;
pub mod search;
pub mod service;
pub mod store;
pub mod views;

use faena_platform::types::required_text;
use faena_platform::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Where a device is in the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    Received,
    Diagnosing,
    AwaitingApproval,
    Approved,
    Rejected,
    AwaitingParts,
    InRepair,
    Ready,
    Delivered,
    Cancelled,
}

/// Who makes a move: the front desk (on the customer's word) or the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Station {
    Desk,
    Bench,
}

impl ServiceStatus {
    pub const ALL: [ServiceStatus; 10] = [
        ServiceStatus::Received,
        ServiceStatus::Diagnosing,
        ServiceStatus::AwaitingApproval,
        ServiceStatus::Approved,
        ServiceStatus::Rejected,
        ServiceStatus::AwaitingParts,
        ServiceStatus::InRepair,
        ServiceStatus::Ready,
        ServiceStatus::Delivered,
        ServiceStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceStatus::Received => "received",
            ServiceStatus::Diagnosing => "diagnosing",
            ServiceStatus::AwaitingApproval => "awaiting_approval",
            ServiceStatus::Approved => "approved",
            ServiceStatus::Rejected => "rejected",
            ServiceStatus::AwaitingParts => "awaiting_parts",
            ServiceStatus::InRepair => "in_repair",
            ServiceStatus::Ready => "ready",
            ServiceStatus::Delivered => "delivered",
            ServiceStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ServiceStatus> {
        ServiceStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The states an order may move to from this one.
    pub fn next(self) -> &'static [ServiceStatus] {
        use ServiceStatus::*;
        match self {
            Received => &[Diagnosing, Cancelled],
            Diagnosing => &[AwaitingApproval, Cancelled],
            AwaitingApproval => &[Approved, Rejected, Cancelled],
            Approved => &[AwaitingParts, InRepair, Cancelled],
            // The device goes back unrepaired.
            Rejected => &[Ready, Cancelled],
            AwaitingParts => &[InRepair, Cancelled],
            InRepair => &[Ready, Cancelled],
            Ready => &[Delivered, Cancelled],
            Delivered | Cancelled => &[],
        }
    }

    /// Not yet delivered or cancelled: on someone's load.
    pub fn is_open(self) -> bool {
        !matches!(self, ServiceStatus::Delivered | ServiceStatus::Cancelled)
    }

    /// The estimate may change until the customer has answered it.
    pub fn lines_editable(self) -> bool {
        matches!(
            self,
            ServiceStatus::Received | ServiceStatus::Diagnosing | ServiceStatus::AwaitingApproval
        )
    }

    /// Who moves an order into this state: the desk records what the
    /// customer said or did; the bench records the work.
    pub fn moved_by(self) -> Station {
        match self {
            ServiceStatus::Diagnosing
            | ServiceStatus::AwaitingParts
            | ServiceStatus::InRepair
            | ServiceStatus::Ready => Station::Bench,
            ServiceStatus::Received
            | ServiceStatus::AwaitingApproval
            | ServiceStatus::Approved
            | ServiceStatus::Rejected
            | ServiceStatus::Delivered
            | ServiceStatus::Cancelled => Station::Desk,
        }
    }
}

/// A move the rules allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: ServiceStatus,
    pub to: ServiceStatus,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionError {
    /// Not a move from `from`; `allowed` are the ones that are.
    NotAllowed {
        from: ServiceStatus,
        to: ServiceStatus,
        allowed: &'static [ServiceStatus],
    },
    /// Cancelling needs a reason.
    ReasonRequired,
    /// The note is longer than `MAX_NOTE`.
    NoteTooLong,
}

pub const MAX_NOTE: usize = 2000;

/// The one rule book: every move of a service order goes through here.
pub fn transition(
    from: ServiceStatus,
    to: ServiceStatus,
    note: Option<&str>,
) -> Result<Transition, TransitionError> {
    if !from.next().contains(&to) {
        return Err(TransitionError::NotAllowed {
            from,
            to,
            allowed: from.next(),
        });
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(TransitionError::NoteTooLong);
    }
    if to == ServiceStatus::Cancelled && note.is_none() {
        return Err(TransitionError::ReasonRequired);
    }
    Ok(Transition {
        from,
        to,
        note: note.map(str::to_owned),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ServicePriority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl ServicePriority {
    pub const ALL: [ServicePriority; 4] = [
        ServicePriority::Low,
        ServicePriority::Normal,
        ServicePriority::High,
        ServicePriority::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServicePriority::Low => "low",
            ServicePriority::Normal => "normal",
            ServicePriority::High => "high",
            ServicePriority::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<ServicePriority> {
        ServicePriority::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A service order's number, `OS-2026-000123`: the year of intake and its
/// place in that year, without gaps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderNumber(String);

impl OrderNumber {
    pub fn new(year: i32, seq: i64) -> Self {
        OrderNumber(format!("OS-{year:04}-{seq:06}"))
    }

    /// The number as typed (a barcode scanner, a search box): case and
    /// surrounding spaces ignored. `None` when it cannot be one.
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim().to_uppercase();
        let rest = s.strip_prefix("OS-")?;
        let (year, seq) = rest.split_once('-')?;
        let ok = year.len() == 4
            && seq.len() >= 6
            && year.chars().all(|c| c.is_ascii_digit())
            && seq.chars().all(|c| c.is_ascii_digit());
        ok.then_some(OrderNumber(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a line of the estimate charges for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Part,
    Labour,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Part => "part",
            LineKind::Labour => "labour",
        }
    }

    pub fn parse(s: &str) -> Option<LineKind> {
        [LineKind::Part, LineKind::Labour]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A line of the estimate as the caller sends it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EstimateLineInput {
    pub kind: LineKind,
    pub description: String,
    /// Units (parts) or hours/jobs (labour), 1–10 000.
    #[schema(minimum = 1, maximum = 10_000)]
    pub quantity: i64,
    /// Price of one unit in pesos (CLP, no decimals, IVA not included).
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub unit_price_clp: i64,
    /// Discount on the line, 0–100 % (default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100)]
    pub discount_percent: i64,
}

/// A line of the estimate, with its net amount computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EstimateLine {
    pub kind: LineKind,
    pub description: String,
    pub quantity: i32,
    pub unit_price_clp: i64,
    pub discount_percent: i32,
    /// `quantity × unit_price_clp` less the discount, IVA not included.
    pub net_clp: i64,
}

/// The estimate's totals in pesos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct EstimateTotals {
    /// The sum of the lines' net amounts.
    pub net_clp: i64,
    /// IVA, 19 % of the net, rounded to the peso (half up).
    pub vat_clp: i64,
    pub total_clp: i64,
}

/// The IVA rate, in percent.
pub const VAT_PERCENT: i64 = 19;
pub const MAX_QUANTITY: i64 = 10_000;
pub const MAX_UNIT_PRICE: i64 = 1_000_000_000;
pub const MAX_LINES: usize = 200;

/// `value × percent / 100` rounded to the nearest peso, halves up (amounts
/// are never negative here).
fn percent_of(value: i64, percent: i64) -> i64 {
    (value * percent + 50) / 100
}

/// A line's net: its gross less its discount, each rounded to the peso.
pub fn line_net(quantity: i32, unit_price: i64, discount_percent: i32) -> i64 {
    let gross = i64::from(quantity) * unit_price;
    gross - percent_of(gross, i64::from(discount_percent))
}

impl EstimateTotals {
    /// IVA is computed once on the order's net (as on a Chilean tax
    /// document), not line by line, so the total never drifts by the
    /// rounding of each line.
    pub fn of(lines: &[EstimateLine]) -> EstimateTotals {
        let net_clp: i64 = lines.iter().map(|l| l.net_clp).sum();
        let vat_clp = percent_of(net_clp, VAT_PERCENT);
        EstimateTotals {
            net_clp,
            vat_clp,
            total_clp: net_clp + vat_clp,
        }
    }
}

/// Parses the estimate's lines, naming each bad field by its index.
pub fn parse_lines(input: &[EstimateLineInput], errors: &mut FieldErrors) -> Vec<EstimateLine> {
    if input.len() > MAX_LINES {
        errors.push(FieldError::new("lines", "too_many").with("max", MAX_LINES));
    }
    let mut out = Vec::new();
    for (i, l) in input.iter().enumerate() {
        let description = errors.take(required_text(
            &format!("lines[{i}].description"),
            &l.description,
            300,
        ));
        let quantity = match i32::try_from(l.quantity) {
            Ok(q) if (1..=MAX_QUANTITY).contains(&l.quantity) => Some(q),
            _ => {
                errors.push(
                    FieldError::new(format!("lines[{i}].quantity"), "out_of_range")
                        .with("min", 1)
                        .with("max", MAX_QUANTITY),
                );
                None
            }
        };
        let price = if (0..=MAX_UNIT_PRICE).contains(&l.unit_price_clp) {
            Some(l.unit_price_clp)
        } else {
            errors.push(
                FieldError::new(format!("lines[{i}].unit_price_clp"), "out_of_range")
                    .with("min", 0)
                    .with("max", MAX_UNIT_PRICE),
            );
            None
        };
        let discount = match i32::try_from(l.discount_percent) {
            Ok(d) if (0..=100).contains(&d) => Some(d),
            _ => {
                errors.push(
                    FieldError::new(format!("lines[{i}].discount_percent"), "out_of_range")
                        .with("min", 0)
                        .with("max", 100),
                );
                None
            }
        };
        if let (Some(description), Some(quantity), Some(unit_price_clp), Some(discount_percent)) =
            (description, quantity, price, discount)
        {
            out.push(EstimateLine {
                kind: l.kind,
                description,
                quantity,
                unit_price_clp,
                discount_percent,
                net_clp: line_net(quantity, unit_price_clp, discount_percent),
            });
        }
    }
    out
}

/// Pesos as Chileans write them, as the pages' `clp` filter does:
/// `$12.345` (dots between thousands, no decimals).
pub fn clp(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + 4);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}${out}")
}

/// What the caller may do with service orders, from their permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The signed-in user (none for an API key).
    pub user_id: Option<Uuid>,
    /// Sees and acts on every order; otherwise only on those assigned to
    /// them (and sees the unassigned ones, to take them).
    pub all: bool,
    /// The front desk's work (`service.orders.write`).
    pub desk: bool,
    /// The bench's work (`service.orders.work`).
    pub bench: bool,
    /// Writing the estimate (`service.orders.quote`).
    pub quote: bool,
}

/// Why a caller may not act on an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The order is not theirs to see: answered as if it did not exist.
    Hidden,
    /// They see it (unassigned) but must take it first.
    NotAssigned,
}

impl Caller {
    /// Whether the order assigned to `technician` is visible at all.
    pub fn sees(&self, technician: Option<Uuid>) -> bool {
        self.all || technician.is_none() || (self.user_id.is_some() && technician == self.user_id)
    }

    /// Whether the caller may change the order assigned to `technician`.
    pub fn acts_on(&self, technician: Option<Uuid>) -> Result<(), Refusal> {
        if self.all {
            return Ok(());
        }
        match technician {
            None => Err(Refusal::NotAssigned),
            Some(t) if Some(t) == self.user_id => Ok(()),
            Some(_) => Err(Refusal::Hidden),
        }
    }

    /// Whether the caller may make the move into `to`.
    pub fn may_move_to(&self, to: ServiceStatus) -> bool {
        match to.moved_by() {
            Station::Desk => self.desk,
            Station::Bench => self.bench,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_of_states_is_decided() {
        let allowed = [
            ("received", "diagnosing"),
            ("diagnosing", "awaiting_approval"),
            ("awaiting_approval", "approved"),
            ("awaiting_approval", "rejected"),
            ("approved", "awaiting_parts"),
            ("approved", "in_repair"),
            ("rejected", "ready"),
            ("awaiting_parts", "in_repair"),
            ("in_repair", "ready"),
            ("ready", "delivered"),
        ];
        let open = [
            "received",
            "diagnosing",
            "awaiting_approval",
            "approved",
            "rejected",
            "awaiting_parts",
            "in_repair",
            "ready",
        ];
        for from in ServiceStatus::ALL {
            for to in ServiceStatus::ALL {
                let expected = allowed.contains(&(from.as_str(), to.as_str()))
                    || (to == ServiceStatus::Cancelled && open.contains(&from.as_str()));
                let result = transition(from, to, Some("el cliente lo pidió"));
                assert_eq!(
                    result.is_ok(),
                    expected,
                    "{} → {}",
                    from.as_str(),
                    to.as_str()
                );
                match result {
                    Ok(t) => assert_eq!((t.from, t.to), (from, to)),
                    Err(TransitionError::NotAllowed { allowed, .. }) => {
                        assert_eq!(allowed, from.next())
                    }
                    Err(e) => panic!("{e:?}"),
                }
                assert_eq!(from.is_open(), open.contains(&from.as_str()));
            }
        }
    }

    #[test]
    fn cancelling_needs_a_reason() {
        assert_eq!(
            transition(ServiceStatus::Received, ServiceStatus::Cancelled, None),
            Err(TransitionError::ReasonRequired)
        );
        assert_eq!(
            transition(ServiceStatus::Ready, ServiceStatus::Cancelled, Some("   ")),
            Err(TransitionError::ReasonRequired)
        );
        let t = transition(
            ServiceStatus::Ready,
            ServiceStatus::Cancelled,
            Some(" No lo retiró "),
        )
        .unwrap();
        assert_eq!(t.note.as_deref(), Some("No lo retiró"));
        // Other moves take a note when given, and need none.
        assert_eq!(
            transition(ServiceStatus::Received, ServiceStatus::Diagnosing, None)
                .unwrap()
                .note,
            None
        );
        let long = "x".repeat(MAX_NOTE + 1);
        assert_eq!(
            transition(
                ServiceStatus::Received,
                ServiceStatus::Diagnosing,
                Some(&long)
            ),
            Err(TransitionError::NoteTooLong)
        );
    }

    #[test]
    fn desk_and_bench_moves() {
        use ServiceStatus::*;
        for s in [Diagnosing, AwaitingParts, InRepair, Ready] {
            assert_eq!(s.moved_by(), Station::Bench, "{}", s.as_str());
        }
        for s in [AwaitingApproval, Approved, Rejected, Delivered, Cancelled] {
            assert_eq!(s.moved_by(), Station::Desk, "{}", s.as_str());
        }
        let lines: Vec<&str> = ServiceStatus::ALL
            .into_iter()
            .filter(|s| s.lines_editable())
            .map(ServiceStatus::as_str)
            .collect();
        assert_eq!(lines, ["received", "diagnosing", "awaiting_approval"]);
    }

    #[test]
    fn pesos_as_chileans_write_them() {
        assert_eq!(clp(0), "$0");
        assert_eq!(clp(999), "$999");
        assert_eq!(clp(12_345), "$12.345");
        assert_eq!(clp(1_234_567), "$1.234.567");
        assert_eq!(clp(-5_000), "-$5.000");
    }

    #[test]
    fn numbers() {
        assert_eq!(OrderNumber::new(2026, 123).as_str(), "OS-2026-000123");
        assert_eq!(
            OrderNumber::new(2026, 1_234_567).as_str(),
            "OS-2026-1234567"
        );
        assert_eq!(
            OrderNumber::parse(" os-2026-000123 ").unwrap().as_str(),
            "OS-2026-000123"
        );
        for bad in [
            "",
            "OS-26-000001",
            "OS-2026-12",
            "ORD-000001",
            "OS-2026-00001a",
        ] {
            assert!(OrderNumber::parse(bad).is_none(), "{bad}");
        }
    }

    fn input(quantity: i64, price: i64, discount: i64) -> EstimateLineInput {
        EstimateLineInput {
            kind: LineKind::Part,
            description: "Pantalla".into(),
            quantity,
            unit_price_clp: price,
            discount_percent: discount,
        }
    }

    #[test]
    fn totals_round_to_the_peso() {
        let mut errors = FieldErrors::new();
        let lines = parse_lines(
            &[
                input(1, 45_990, 0),
                // 3 × 3 333 = 9 999, less 10 % (999.9 → 1 000) = 8 999.
                input(3, 3_333, 10),
                EstimateLineInput {
                    kind: LineKind::Labour,
                    description: "Mano de obra".into(),
                    quantity: 1,
                    unit_price_clp: 15_000,
                    discount_percent: 0,
                },
            ],
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            lines.iter().map(|l| l.net_clp).collect::<Vec<_>>(),
            [45_990, 8_999, 15_000]
        );
        // 69 989 × 19 % = 13 297.91 → 13 298.
        assert_eq!(
            EstimateTotals::of(&lines),
            EstimateTotals {
                net_clp: 69_989,
                vat_clp: 13_298,
                total_clp: 83_287
            }
        );
        // A half peso goes up: 50 × 19 % = 9.5 → 10.
        assert_eq!(
            EstimateTotals::of(&parse_lines(&[input(1, 50, 0)], &mut errors)).vat_clp,
            10
        );
        assert_eq!(EstimateTotals::of(&[]), EstimateTotals::default());
        assert_eq!(line_net(1, 1_000, 100), 0);
    }

    #[test]
    fn bad_lines_are_named() {
        let mut errors = FieldErrors::new();
        let lines = parse_lines(
            &[input(1, 100, 0), input(-1, -5, 101), input(0, 0, -1)],
            &mut errors,
        );
        assert_eq!(lines.len(), 1);
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "lines[1].quantity",
                "lines[1].unit_price_clp",
                "lines[1].discount_percent",
                "lines[2].quantity",
                "lines[2].discount_percent",
            ]
        );
    }

    #[test]
    fn who_sees_and_acts() {
        let me = Uuid::now_v7();
        let other = Uuid::now_v7();
        let tech = Caller {
            user_id: Some(me),
            all: false,
            desk: false,
            bench: true,
            quote: true,
        };
        assert!(tech.sees(Some(me)));
        assert!(tech.sees(None));
        assert!(!tech.sees(Some(other)));
        assert_eq!(tech.acts_on(Some(me)), Ok(()));
        assert_eq!(tech.acts_on(None), Err(Refusal::NotAssigned));
        assert_eq!(tech.acts_on(Some(other)), Err(Refusal::Hidden));
        assert!(tech.may_move_to(ServiceStatus::InRepair));
        assert!(!tech.may_move_to(ServiceStatus::Delivered));
        let desk = Caller {
            user_id: Some(other),
            all: true,
            desk: true,
            bench: false,
            quote: true,
        };
        assert!(desk.sees(Some(me)));
        assert_eq!(desk.acts_on(Some(me)), Ok(()));
        assert!(desk.may_move_to(ServiceStatus::Approved));
        assert!(!desk.may_move_to(ServiceStatus::Diagnosing));
        // A key (no user) without `all` sees only the unassigned.
        let key = Caller {
            user_id: None,
            all: false,
            desk: false,
            bench: true,
            quote: false,
        };
        assert!(key.sees(None));
        assert!(!key.sees(Some(me)));
    }
}
