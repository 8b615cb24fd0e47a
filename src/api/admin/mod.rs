//! `/api/v1/admin/...`: the directory as HR and IT edit it. Every route needs admin rights.

pub(crate) mod access;
pub(crate) mod audit;
pub(crate) mod departments;
pub(crate) mod fields;
pub(crate) mod ldap;
pub(crate) mod staff;

use axum::Router;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

pub use departments::DepartmentList;
pub use staff::StaffPage;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(departments::router())
        .merge(staff::router())
        .merge(fields::router())
        .merge(audit::router())
        .merge(access::router())
        .merge(ldap::router())
}

/// Paging parameters shared by list endpoints.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// At most this many items (1-1000, default 50).
    pub limit: Option<u32>,
    /// Skip this many items.
    pub offset: Option<u32>,
}

impl Paging {
    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(50).clamp(1, 1000) as usize
    }
    pub fn offset(&self) -> usize {
        self.offset.unwrap_or(0) as usize
    }
}

/// An acknowledgement with the version a write committed under.
#[derive(Debug, Serialize, ToSchema)]
pub struct Committed {
    pub version: i64,
}
