//! The list kit: what every list page has, written once. A module declares
//! its columns (`ListSpec`), reads the request with `ListRequest::parse`,
//! lets `fetch` count and page its query, and renders `ListView` with the
//! `list_head`, `list_pager` and `list_keep` macros of `macros.html`:
//!
//! - a total count and "Mostrando 26–50 de 312";
//! - previous/next and page numbers (`?page=3`);
//! - sorting by the visible columns (`?sort=number&dir=desc`), headers
//!   marked with `aria-sort`;
//! - filters kept in the address, so a filtered, sorted list can be
//!   bookmarked and every link (pages, headers, CSV) carries them;
//! - the CSV export of the same filters and order.
//!
//! Pages use numbered pages (people ask for "page 3 of 12"); the API keeps
//! its cursors (`http::pagination`), which stay correct while rows move.

use sea_orm::sea_query::SimpleExpr;
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, Order, PaginatorTrait, QueryOrder,
    QuerySelect, Select,
};
use serde::Serialize;

use crate::{AppError, FieldError, FieldErrors};

/// Rows per page unless the address asks for another size.
pub const PER_PAGE: u64 = 25;
/// The largest page a list shows.
pub const MAX_PER_PAGE: u64 = 200;

/// Query parameters the kit owns; every other one is a filter.
const OWN: &[&str] = &["page", "per_page", "sort", "dir"];
/// Parameters that are never carried into links: a one-time notice, an
/// API cursor, the CSRF token.
const DROPPED: &[&str] = &["ok", "cursor", "_csrf"];

/// A column of a list.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Column {
    /// The name in `?sort=`.
    pub key: &'static str,
    /// Catalogue key of the header.
    pub label: &'static str,
    pub sortable: bool,
    /// Right-aligned figures.
    pub num: bool,
}

impl Column {
    pub const fn new(key: &'static str, label: &'static str) -> Self {
        Self {
            key,
            label,
            sortable: false,
            num: false,
        }
    }

    pub const fn sortable(mut self) -> Self {
        self.sortable = true;
        self
    }

    pub const fn num(mut self) -> Self {
        self.num = true;
        self
    }
}

/// What a list page is: its address, its columns, its default order and
/// where its CSV export lives.
#[derive(Debug, Clone, Copy)]
pub struct ListSpec {
    pub path: &'static str,
    pub columns: &'static [Column],
    /// The column sorted by when the address names none.
    pub default_sort: &'static str,
    pub default_desc: bool,
    /// The CSV export of the same list (`/api/orders/export.csv`).
    pub csv: Option<&'static str>,
}

/// A list request: the page, its size, the order and the filters as the
/// address gives them.
#[derive(Debug, Clone)]
pub struct ListRequest {
    /// 1-based; `fetch` brings a page past the end back to the last one.
    pub page: u64,
    pub per_page: u64,
    /// A sortable column's key.
    pub sort: &'static str,
    pub desc: bool,
    filters: Vec<(String, String)>,
    spec: ListSpec,
}

impl ListRequest {
    /// Reads the address's query. A page, size or order that cannot be
    /// meant is refused naming the parameter (`page`, `per_page`, `sort`,
    /// `dir`); filters are the page's to parse.
    pub fn parse(spec: &ListSpec, query: Option<&str>) -> Result<Self, AppError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |name: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, v)| k == name && !v.trim().is_empty())
                .map(|(_, v)| v.trim())
        };
        let mut errors = FieldErrors::new();
        let mut number = |name: &'static str, max: u64| -> Option<u64> {
            let raw = get(name)?;
            match raw.parse::<u64>() {
                Ok(n) if (1..=max).contains(&n) => Some(n),
                _ => {
                    errors.push(
                        FieldError::new(name, "out_of_range")
                            .with("min", "1")
                            .with("max", max.to_string()),
                    );
                    None
                }
            }
        };
        let page = number("page", u64::from(u32::MAX)).unwrap_or(1);
        let per_page = number("per_page", MAX_PER_PAGE).unwrap_or(PER_PAGE);
        let sort = match get("sort") {
            None => spec.default_sort,
            Some(key) => match spec.columns.iter().find(|c| c.sortable && c.key == key) {
                Some(c) => c.key,
                None => {
                    let allowed: Vec<&str> = spec
                        .columns
                        .iter()
                        .filter(|c| c.sortable)
                        .map(|c| c.key)
                        .collect();
                    errors.push(
                        FieldError::new("sort", "one_of").with("allowed", allowed.join(", ")),
                    );
                    spec.default_sort
                }
            },
        };
        let desc = match get("dir") {
            None if get("sort").is_none() => spec.default_desc,
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                errors.push(FieldError::new("dir", "one_of").with("allowed", "asc, desc"));
                false
            }
        };
        errors.finish()?;
        let filters = pairs
            .into_iter()
            .filter(|(k, v)| {
                !OWN.contains(&k.as_str()) && !DROPPED.contains(&k.as_str()) && !v.is_empty()
            })
            .collect();
        Ok(Self {
            page,
            per_page,
            sort,
            desc,
            filters,
            spec: *spec,
        })
    }

    /// The first row of the page, counting from 0.
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// The sort direction for a query.
    pub fn order(&self) -> Order {
        if self.desc { Order::Desc } else { Order::Asc }
    }

    /// Whether the list is narrowed by any filter.
    pub fn filtered(&self) -> bool {
        !self.filters.is_empty()
    }

    /// An address of this list with the same filters and `extra` added.
    fn href(&self, path: &str, extra: &[(&str, String)]) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.filters {
            q.append_pair(k, v);
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        let q = q.finish();
        match (q.is_empty(), path.contains('?')) {
            (true, _) => path.to_owned(),
            (false, true) => format!("{path}&{q}"),
            (false, false) => format!("{path}?{q}"),
        }
    }

    /// The order's parameters when it is not the default.
    fn order_params(&self) -> Vec<(&'static str, String)> {
        if self.sort == self.spec.default_sort && self.desc == self.spec.default_desc {
            return Vec::new();
        }
        vec![
            ("sort", self.sort.to_owned()),
            ("dir", if self.desc { "desc" } else { "asc" }.to_owned()),
        ]
    }

    fn page_href(&self, page: u64) -> String {
        let mut extra = self.order_params();
        if self.per_page != PER_PAGE {
            extra.push(("per_page", self.per_page.to_string()));
        }
        if page > 1 {
            extra.push(("page", page.to_string()));
        }
        self.href(self.spec.path, &extra)
    }

    /// What the page template shows: counts, links and headers.
    pub fn view(&self, total: u64) -> ListView {
        let pages = total.div_ceil(self.per_page).max(1);
        let page = self.page.min(pages);
        let from = if total == 0 { 0 } else { self.offset() + 1 };
        let to = (self.offset() + self.per_page).min(total);
        let columns = self
            .spec
            .columns
            .iter()
            .map(|c| {
                let current = c.sortable && c.key == self.sort;
                // A header sorts by its column; clicked again, the other way.
                let desc = current && !self.desc;
                let mut extra = vec![
                    ("sort", c.key.to_owned()),
                    ("dir", if desc { "desc" } else { "asc" }.to_owned()),
                ];
                if self.per_page != PER_PAGE {
                    extra.push(("per_page", self.per_page.to_string()));
                }
                HeaderView {
                    key: c.key,
                    label: c.label,
                    num: c.num,
                    sortable: c.sortable,
                    aria_sort: match (current, self.desc) {
                        (false, _) => "none",
                        (true, false) => "ascending",
                        (true, true) => "descending",
                    },
                    href: if c.sortable {
                        self.href(self.spec.path, &extra)
                    } else {
                        String::new()
                    },
                }
            })
            .collect();
        let links = page_numbers(page, pages)
            .into_iter()
            .map(|n| PageLink {
                number: n,
                href: n.map(|n| self.page_href(n)).unwrap_or_default(),
                current: n == Some(page),
            })
            .collect();
        ListView {
            path: self.spec.path,
            total,
            page,
            pages,
            per_page: self.per_page,
            from,
            to,
            prev: (page > 1).then(|| self.page_href(page - 1)),
            next: (page < pages).then(|| self.page_href(page + 1)),
            links,
            columns,
            csv: self.spec.csv.map(|p| self.href(p, &self.order_params())),
            keep: self.order_params(),
            filtered: self.filtered(),
        }
    }
}

/// Page numbers to offer: the first, the last and two either side of the
/// current one; `None` where numbers are left out.
fn page_numbers(page: u64, pages: u64) -> Vec<Option<u64>> {
    let mut out = Vec::new();
    let mut last = 0;
    for n in 1..=pages {
        let near = n.abs_diff(page) <= 2;
        if n == 1 || n == pages || near {
            if n > last + 1 {
                out.push(None);
            }
            out.push(Some(n));
            last = n;
        }
    }
    out
}

/// One header of a list's table.
#[derive(Debug, Clone, Serialize)]
pub struct HeaderView {
    pub key: &'static str,
    pub label: &'static str,
    pub num: bool,
    pub sortable: bool,
    /// `ascending`, `descending` or `none` (the `aria-sort` value).
    pub aria_sort: &'static str,
    /// Sorts by this column (the other way when it is the current one).
    pub href: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageLink {
    /// `None` marks numbers left out ("…").
    pub number: Option<u64>,
    pub href: String,
    pub current: bool,
}

/// A list page's counts and links, for the `list_*` macros.
#[derive(Debug, Clone, Serialize)]
pub struct ListView {
    /// The list page's own address (the filter form's action).
    pub path: &'static str,
    pub total: u64,
    pub page: u64,
    pub pages: u64,
    pub per_page: u64,
    /// The first and last rows shown, counting from 1 (0 when empty).
    pub from: u64,
    pub to: u64,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub links: Vec<PageLink>,
    pub columns: Vec<HeaderView>,
    /// The CSV export with the same filters and order.
    pub csv: Option<String>,
    /// The order's parameters, for the filter form to keep (`list_keep`).
    pub keep: Vec<(&'static str, String)>,
    pub filtered: bool,
}

/// Rows a CSV export reads at a time.
pub const EXPORT_PAGE: u64 = 500;

/// Every row of a list in `request`'s order and filters, for its CSV
/// export: `fetch_page` reads one numbered page (`EXPORT_PAGE` rows) and
/// its total, as the list page does.
pub async fn all_rows<T, F, Fut>(
    request: &ListRequest,
    mut fetch_page: F,
) -> crate::AppResult<Vec<T>>
where
    F: FnMut(ListRequest) -> Fut,
    Fut: std::future::Future<Output = crate::AppResult<(Vec<T>, u64)>>,
{
    let mut page = request.clone();
    page.per_page = EXPORT_PAGE;
    page.page = 1;
    let mut out = Vec::new();
    loop {
        let (rows, total) = fetch_page(page.clone()).await?;
        out.extend(rows);
        if page.page.saturating_mul(page.per_page) >= total {
            return Ok(out);
        }
        page.page += 1;
    }
}

/// Counts `select`'s rows, then reads the request's page of them in
/// `order` (the list's order expressions, columns or `CASE`s, the id last
/// so that the order is total). A page past the end shows the last one.
pub async fn fetch<E, C>(
    db: &C,
    select: Select<E>,
    order: impl IntoIterator<Item = (SimpleExpr, Order)>,
    request: &mut ListRequest,
) -> Result<(Vec<E::Model>, u64), DbErr>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Sized + Send + Sync,
    C: ConnectionTrait,
{
    let total = select.clone().count(db).await?;
    let pages = total.div_ceil(request.per_page).max(1);
    request.page = request.page.min(pages);
    let mut query = select;
    for (column, dir) in order {
        query = query.order_by(column, dir);
    }
    let rows = query
        .offset(request.offset())
        .limit(request.per_page)
        .all(db)
        .await?;
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[Column] = &[
        Column::new("number", "orders.number").sortable(),
        Column::new("client", "orders.client"),
        Column::new("created_at", "orders.created_at").sortable(),
    ];
    const SPEC: ListSpec = ListSpec {
        path: "/orders",
        columns: COLUMNS,
        default_sort: "created_at",
        default_desc: true,
        csv: Some("/api/orders/export.csv"),
    };

    #[test]
    fn links_keep_the_filters_and_the_order() {
        let r = ListRequest::parse(
            &SPEC,
            Some("status=picking&q=p%C3%A9rez&sort=number&page=2&ok=order_saved&cursor=x"),
        )
        .unwrap();
        assert_eq!((r.page, r.sort, r.desc), (2, "number", false));
        let v = r.view(60);
        assert_eq!((v.pages, v.from, v.to), (3, 26, 50));
        assert_eq!(
            v.next.as_deref(),
            Some("/orders?status=picking&q=p%C3%A9rez&sort=number&dir=asc&page=3")
        );
        assert_eq!(
            v.prev.as_deref(),
            Some("/orders?status=picking&q=p%C3%A9rez&sort=number&dir=asc")
        );
        assert_eq!(
            v.csv.as_deref(),
            Some("/api/orders/export.csv?status=picking&q=p%C3%A9rez&sort=number&dir=asc")
        );
        // The current column sorts the other way; another one ascending.
        assert_eq!(v.columns[0].aria_sort, "ascending");
        assert!(v.columns[0].href.ends_with("sort=number&dir=desc"));
        assert_eq!(v.columns[2].aria_sort, "none");
        assert!(v.columns[2].href.ends_with("sort=created_at&dir=asc"));
        assert!(!v.columns[1].sortable);
    }

    #[test]
    fn the_default_order_stays_out_of_the_address() {
        let r = ListRequest::parse(&SPEC, None).unwrap();
        assert_eq!(
            (r.page, r.per_page, r.sort, r.desc),
            (1, 25, "created_at", true)
        );
        let v = r.view(0);
        assert_eq!((v.total, v.pages, v.from, v.to), (0, 1, 0, 0));
        assert_eq!(v.prev, None);
        assert_eq!(v.next, None);
        assert_eq!(v.csv.as_deref(), Some("/api/orders/export.csv"));
        assert_eq!(v.columns[2].aria_sort, "descending");
        assert!(v.columns[2].href.ends_with("sort=created_at&dir=asc"));
    }

    #[test]
    fn what_cannot_be_meant_is_refused_by_name() {
        for (query, field) in [
            ("page=0", "page"),
            ("page=x", "page"),
            ("per_page=1000", "per_page"),
            ("sort=client", "sort"),
            ("sort=password", "sort"),
            ("dir=up", "dir"),
        ] {
            match ListRequest::parse(&SPEC, Some(query)) {
                Err(AppError::Validation(errors)) => {
                    assert_eq!(errors.0[0].field, field, "{query}")
                }
                other => panic!("{query}: {other:?}"),
            }
        }
    }

    #[test]
    fn page_numbers_leave_out_the_middle() {
        let n = |v: Vec<Option<u64>>| {
            v.into_iter()
                .map(|n| n.map_or("…".to_owned(), |n| n.to_string()))
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(n(page_numbers(1, 1)), "1");
        assert_eq!(n(page_numbers(1, 4)), "1 2 3 4");
        assert_eq!(n(page_numbers(6, 12)), "1 … 4 5 6 7 8 … 12");
        assert_eq!(n(page_numbers(12, 12)), "1 … 10 11 12");
    }
}
