//! The people picker: a search box that lists matching people as it is typed (htmx), for
//! "view as", role assignments and person rules. Matches as the staff API's `q` does (login,
//! name, pinyin, initials, email, phone); at most `LIMIT` answers, best first.

use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};

use crate::admin::{page, session::Staffer};
use crate::{directory::Staff, state::AppState};

const LIMIT: usize = 12;

/// One match.
pub struct Pick {
    pub id: String,
    pub login: String,
    pub name: String,
    pub title: String,
    pub department: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "admin/people_pick.html")]
struct PickList {
    tr: crate::admin::i18n::Tr,
    /// `link`: results link to `/admin/view-as?staff=…`; else radio buttons named `name`.
    mode: String,
    name: String,
    query: String,
    picks: Vec<Pick>,
}

#[derive(serde::Deserialize)]
pub struct PickQuery {
    /// The search text: `q`, or the field it was typed into (`staff`, `person_q`).
    #[serde(default)]
    q: String,
    #[serde(default)]
    staff: String,
    #[serde(default)]
    person_q: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    name: String,
}

/// People matching `query`, best first (exact login, then name and pinyin prefixes).
pub fn search(state: &AppState, query: &str, limit: usize) -> Vec<Pick> {
    let needle = query.trim().to_lowercase();
    if needle.is_empty() {
        return Vec::new();
    }
    let replica = state.directory.read();
    let mut hits: Vec<(u8, &Staff)> = replica
        .all_staff()
        .map(|s| s.as_ref())
        .filter(|s| crate::api::admin::staff::matches(s, &needle))
        .map(|s| {
            let rank = if s.login == needle {
                0
            } else if s.display_name.to_lowercase().starts_with(&needle)
                || s.pinyin_full.starts_with(&needle)
                || s.pinyin_initials == needle
            {
                1
            } else {
                2
            };
            (rank, s)
        })
        .collect();
    hits.sort_by(|(ra, a), (rb, b)| {
        (ra, &a.pinyin_full, &a.login).cmp(&(rb, &b.pinyin_full, &b.login))
    });
    hits.into_iter()
        .take(limit)
        .map(|(_, s)| Pick {
            id: s.id.to_string(),
            login: s.login.clone(),
            name: s.display_name.clone(),
            title: s.title.clone(),
            department: s
                .primary_department()
                .and_then(|d| replica.department(d))
                .map(|d| d.name.clone())
                .unwrap_or_default(),
            active: s.is_active(),
        })
        .collect()
}

/// `GET /admin/people/pick?q=…&mode=link|radio&name=…` (an htmx fragment).
pub async fn pick(
    State(state): State<AppState>,
    Staffer(visitor): Staffer,
    Query(query): Query<PickQuery>,
) -> Response {
    let text = [&query.q, &query.staff, &query.person_q]
        .into_iter()
        .find(|t| !t.trim().is_empty())
        .cloned()
        .unwrap_or_default();
    let picks = search(&state, &text, LIMIT);
    page::render(&PickList {
        tr: visitor.tr(),
        mode: query.mode,
        name: if query.name.is_empty() {
            "person".into()
        } else {
            query.name
        },
        query: text,
        picks,
    })
}
