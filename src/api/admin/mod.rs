//! `/api/v1/admin/...`: the directory as HR and IT edit it. Every route needs admin rights.

pub(crate) mod access;
pub(crate) mod audit;
pub(crate) mod departments;
pub(crate) mod fields;
pub(crate) mod import;
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
        .merge(import::router())
        .merge(fields::router())
        .merge(audit::router())
        .merge(access::router())
        .merge(ldap::router())
}

/// Paging parameters shared by list endpoints.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// At most this many items (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Skip this many items.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    pub offset: Option<u32>,
}

impl Paging {
    pub fn limit(&self) -> Result<usize, crate::api::ApiError> {
        crate::api::in_range("limit", self.limit, 50, 1, 1000).map(|l| l as usize)
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
