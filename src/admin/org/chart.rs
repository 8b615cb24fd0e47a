//! The drawn chart of a subtree (`/admin/org/chart?dept=…`): boxes joined by lines (CSS, no
//! script), a few levels deep and a bounded number of boxes per level, so a 5,000-department
//! company draws one readable page; every box opens the chart below it.

use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};
use serde::Deserialize;

use super::{Crumb, parse_id};
use crate::{
    admin::{
        i18n::Tr,
        page::{self, Chrome},
        session::HrAdmin,
    },
    directory::{DepartmentId, Replica, query::sorted_children},
    state::AppState,
};

/// Levels below the chart's root.
const DEPTH: usize = 2;
/// Boxes per parent before "+N more".
const PER_PARENT: usize = 8;

pub struct BoxView {
    pub id: DepartmentId,
    pub name: String,
    pub dept_type: String,
    /// People in the department and below.
    pub people: usize,
    pub sub: usize,
}

/// One step of the drawing: a box (opening its row of children when it has some drawn), the
/// end of such a row, or a box standing for the children not drawn.
pub enum ChartItem {
    Open(BoxView),
    Leaf(BoxView),
    More { count: usize, parent: DepartmentId },
    Close,
}

fn box_view(replica: &Replica, id: DepartmentId) -> Option<BoxView> {
    let department = replica.department(id)?;
    let mut people = std::collections::HashSet::new();
    for d in replica.subtree(id) {
        people.extend(replica.members(d));
    }
    Some(BoxView {
        id,
        name: department.name.clone(),
        dept_type: department.dept_type.clone(),
        people: people.len(),
        sub: replica.children(Some(id)).count(),
    })
}

fn draw(replica: &Replica, id: DepartmentId, depth: usize, out: &mut Vec<ChartItem>) {
    let Some(view) = box_view(replica, id) else {
        return;
    };
    let children = sorted_children(replica, Some(id));
    if depth >= DEPTH || children.is_empty() {
        out.push(ChartItem::Leaf(view));
        return;
    }
    out.push(ChartItem::Open(view));
    for child in children.iter().take(PER_PARENT) {
        draw(replica, child.id, depth + 1, out);
    }
    if children.len() > PER_PARENT {
        out.push(ChartItem::More {
            count: children.len() - PER_PARENT,
            parent: id,
        });
    }
    out.push(ChartItem::Close);
}

#[derive(Template)]
#[template(path = "admin/org_chart.html")]
struct ChartPage {
    c: Chrome,
    tr: Tr,
    root: Option<DepartmentId>,
    path: Vec<Crumb>,
    /// One drawing per top-level box (several when the chart starts at the top).
    items: Vec<ChartItem>,
    top_more: usize,
}

#[derive(Deserialize)]
pub struct ChartParams {
    dept: Option<String>,
}

/// `GET /admin/org/chart?dept=…` (no `dept`: the top of the company).
pub async fn show(
    State(state): State<AppState>,
    hr: HrAdmin,
    Query(params): Query<ChartParams>,
) -> Response {
    let visitor = hr.0;
    let replica = state.directory.read();
    let root = parse_id(params.dept.as_deref()).filter(|id| replica.department(*id).is_some());
    let mut items = Vec::new();
    let mut top_more = 0;
    match root {
        Some(id) => draw(&replica, id, 0, &mut items),
        None => {
            let top = sorted_children(&replica, None);
            for department in top.iter().take(PER_PARENT) {
                draw(&replica, department.id, 1, &mut items);
            }
            top_more = top.len().saturating_sub(PER_PARENT);
        }
    }
    let path = root
        .map(|id| {
            replica
                .ancestors_and_self(id)
                .into_iter()
                .rev()
                .filter_map(|a| replica.department(a))
                .map(|d| Crumb {
                    id: d.id,
                    name: d.name.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    drop(replica);
    page::render(&ChartPage {
        c: Chrome::new(&state, &visitor, "org", "org.chart.title"),
        tr: visitor.tr(),
        root,
        path,
        items,
        top_more,
    })
}
