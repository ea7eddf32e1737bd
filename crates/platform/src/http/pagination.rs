//! Lists, one way everywhere: `limit` (default 50, at most 500) and an
//! opaque `cursor`, answered as `{items, next_cursor, next}`.
//!
//! A cursor is typed and bound to its list: each list declares one
//! `List<K>` constant naming it and the type `K` of its position (the
//! sort key of the last row shown). The cursor carries a format version,
//! the list's name and the key, so a cursor taken from one list is refused
//! by another instead of being read as a different key, and the format can
//! change without misreading cursors already handed out. It is not a
//! secret: it names a position in a list its holder may read anyway
//! (decision 0019).

use std::marker::PhantomData;

use axum::http::Uri;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{FieldError, FieldErrors};

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 500;

/// The cursor format this build writes and reads.
const CURSOR_VERSION: &str = "1";

/// The paging half of a list's query string; handlers take it next to
/// their filter (`Query<Filter>`, `Query<PageQuery>`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The first page of `limit` items.
    pub fn first(limit: u64) -> Self {
        Self {
            limit: Some(limit),
            cursor: None,
        }
    }

    pub fn limit(&self) -> Result<u64, FieldError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(FieldError::new("limit", "out_of_range")
                .with("min", 1)
                .with("max", MAX_LIMIT)),
        }
    }
}

/// One list's cursor type: its name and the type of its position.
pub struct List<K> {
    name: &'static str,
    key: PhantomData<fn() -> K>,
}

impl<K: Serialize + DeserializeOwned> List<K> {
    /// `name` is unique per list (`wms.orders`, `platform.jobs`).
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            key: PhantomData,
        }
    }

    /// The page size and the position to continue after, each problem
    /// collected into `errors` (the caller reports them with its filter's).
    pub fn read(&self, page: &PageQuery, errors: &mut FieldErrors) -> (u64, Option<K>) {
        let limit = errors.take(page.limit()).unwrap_or(DEFAULT_LIMIT);
        let after = errors.take(self.after(page)).flatten();
        (limit, after)
    }

    /// The position in `page.cursor`, if any.
    pub fn after(&self, page: &PageQuery) -> Result<Option<K>, FieldError> {
        match page.cursor.as_deref() {
            None | Some("") => Ok(None),
            Some(text) => self
                .decode(text)
                .map(Some)
                .ok_or_else(|| FieldError::new("cursor", "invalid")),
        }
    }

    fn decode(&self, text: &str) -> Option<K> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let (version, rest) = text.split_once('|')?;
        let (list, key) = rest.split_once('|')?;
        if version != CURSOR_VERSION || list != self.name {
            return None;
        }
        serde_json::from_str(key).ok()
    }

    pub fn encode(&self, key: &K) -> String {
        let key = serde_json::to_string(key).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{CURSOR_VERSION}|{}|{key}", self.name))
    }

    /// A page from `limit + 1` fetched rows: the extra row only says that
    /// there is more, and the last row shown gives the next cursor.
    pub fn page<T>(&self, mut rows: Vec<T>, limit: u64, key: impl Fn(&T) -> K) -> Page<T> {
        let more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_cursor = if more {
            rows.last().map(|r| self.encode(&key(r)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
            next: None,
        }
    }
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// The next page's address (this request's, with `cursor` set);
    /// absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// Sets `next` from the request's address: the same path and filters,
    /// the cursor replaced.
    pub fn linked(mut self, uri: &Uri) -> Self {
        self.next = self.next_cursor.as_deref().map(|cursor| {
            let kept = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .filter(|(k, _)| k != "cursor");
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.extend_pairs(kept);
            query.append_pair("cursor", cursor);
            format!("{}?{}", uri.path(), query.finish())
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: List<(String, u32)> = List::new("test.orders");
    const CLIENTS: List<(String, u32)> = List::new("test.clients");

    fn query(cursor: &str) -> PageQuery {
        PageQuery {
            limit: None,
            cursor: Some(cursor.to_owned()),
        }
    }

    #[test]
    fn a_cursor_reads_back_in_its_own_list_only() {
        let key = ("2026-12-01".to_owned(), 7);
        let cursor = ORDERS.encode(&key);
        assert_eq!(ORDERS.after(&query(&cursor)).unwrap(), Some(key));
        let other = CLIENTS.after(&query(&cursor)).unwrap_err();
        assert_eq!((other.field.as_str(), &*other.code), ("cursor", "invalid"));
        // Empty (the first page), not base64, "nope", another format
        // version, a key of the wrong shape.
        for junk in [
            "",
            "%%%",
            "bm9wZQ",
            "Mnx0ZXN0Lm9yZGVyc3xbImEiLDFd",
            "MXx0ZXN0Lm9yZGVyc3xbMSwiYSJd",
        ] {
            let r = ORDERS.after(&query(junk));
            assert!(junk.is_empty() == r.is_ok(), "{junk}: {r:?}");
        }
    }

    #[test]
    fn a_page_says_whether_there_is_more_and_links_it() {
        let page = ORDERS.page(vec![1, 2, 3], 2, |n| (String::new(), *n));
        assert_eq!(page.items, [1, 2]);
        let cursor = page.next_cursor.clone().unwrap();
        assert_eq!(
            ORDERS.after(&query(&cursor)).unwrap(),
            Some((String::new(), 2))
        );
        let uri: Uri = "/api/orders?status=picking&cursor=old&limit=2"
            .parse()
            .unwrap();
        let page = page.linked(&uri);
        assert_eq!(
            page.next.as_deref(),
            Some(format!("/api/orders?status=picking&limit=2&cursor={cursor}").as_str())
        );
        let last = ORDERS
            .page(vec![1], 2, |n| (String::new(), *n))
            .linked(&uri);
        assert_eq!((last.next_cursor, last.next), (None, None));
    }

    #[test]
    fn the_limit_is_bounded() {
        let with = |n| PageQuery {
            limit: Some(n),
            cursor: None,
        };
        assert_eq!(PageQuery::default().limit().unwrap(), DEFAULT_LIMIT);
        assert_eq!(with(500).limit().unwrap(), 500);
        assert!(with(0).limit().is_err() && with(501).limit().is_err());
    }
}
