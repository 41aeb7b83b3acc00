//! GitHub's pagination: `per_page` and `page` pick a slice, and a `Link`
//! header names the first, previous, next and last pages.

use std::collections::HashMap;
use std::ops::Range;

use actix_web::HttpResponse;
use serde_json::Value;

use super::State;

/// GitHub's page size when `per_page` is not given, and its largest.
pub const DEFAULT_PER_PAGE: usize = 30;
pub const MAX_PER_PAGE: usize = 100;

impl State {
    /// `items` as GitHub serves them at `route` (under the repository) for
    /// `query`: the asked page, with the `Link` header when there are more.
    pub(super) fn paged(
        &self,
        route: &str,
        query: &HashMap<String, String>,
        items: Vec<Value>,
    ) -> HttpResponse {
        let root = format!("/repos/{}/{}/{route}", self.owner, self.name);
        self.paged_at(&root, query, items)
    }

    /// `items` at `root`, a route outside the repository (`/app/…`).
    pub(super) fn paged_at(
        &self,
        root: &str,
        query: &HashMap<String, String>,
        items: Vec<Value>,
    ) -> HttpResponse {
        let (range, link) = self.page(root, query, items.len());
        let mut answer = HttpResponse::Ok();
        if let Some(link) = link {
            answer.insert_header(("link", link));
        }
        answer.json(&items[range])
    }

    /// The slice of `total` items `query` asks for at `root` (a path from
    /// the API root), and the `Link` header naming the other pages.
    pub(super) fn page(
        &self,
        root: &str,
        query: &HashMap<String, String>,
        total: usize,
    ) -> (Range<usize>, Option<String>) {
        let per_page = query
            .get("per_page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(DEFAULT_PER_PAGE)
            .clamp(1, MAX_PER_PAGE);
        let page: usize = query
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .max(1);
        let last = total.div_ceil(per_page).max(1);
        let start = ((page - 1) * per_page).min(total);
        let end = (start + per_page).min(total);
        let url = |n: usize| {
            let mut q = query.clone();
            q.insert("page".to_owned(), n.to_string());
            let mut pairs: Vec<_> = q.into_iter().collect();
            pairs.sort();
            let q = serde_urlencoded::to_string(pairs).unwrap_or_default();
            format!("<{}{root}?{q}>", self.base_url)
        };
        let mut rels = Vec::new();
        if page > 1 {
            rels.push(format!("{}; rel=\"prev\"", url(page - 1)));
        }
        if page < last {
            rels.push(format!("{}; rel=\"next\"", url(page + 1)));
            rels.push(format!("{}; rel=\"last\"", url(last)));
        }
        if page > 1 {
            rels.push(format!("{}; rel=\"first\"", url(1)));
        }
        (start..end, (!rels.is_empty()).then(|| rels.join(", ")))
    }
}
