//! A person's account from their page: disable or enable, and a new local password.

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};

use super::edit::{find, render};
use crate::{
    admin::{PortalError, posted::Posted, session::HrAdmin},
    directory::{DisabledBy, StaffStatus},
    state::AppState,
};

/// `POST /admin/staff/{id}/status`: `status` = `active` or `disabled`.
pub async fn set_status(
    State(state): State<AppState>,
    hr: HrAdmin,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PortalError> {
    let visitor = hr.0;
    let person = find(&state, visitor.lang, &id)?;
    let posted = Posted::parse(&body);
    let (status, notice) = match posted.get("status") {
        "disabled" => (StaffStatus::Disabled, "disabled"),
        _ => (StaffStatus::Active, "enabled"),
    };
    state
        .directory
        .write(&visitor.actor(), |stage| {
            stage.set_status(person.id, status, DisabledBy::Admin)
        })
        .await
        .map_err(|e| PortalError::Api(visitor.lang, e.into()))?;
    Ok(Redirect::to(&format!("/admin/staff/{}?notice={notice}", person.id)).into_response())
}

/// `POST /admin/staff/{id}/password`: a new local password (ends their sessions).
pub async fn password(
    State(state): State<AppState>,
    hr: HrAdmin,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PortalError> {
    let visitor = hr.0;
    let person = find(&state, visitor.lang, &id)?;
    let posted = Posted::parse(&body);
    let set = state
        .auth
        .set_staff_password(&visitor.actor(), person.id, posted.get("password"))
        .await;
    match set {
        Ok(()) => Ok(
            Redirect::to(&format!("/admin/staff/{}?notice=password", person.id)).into_response(),
        ),
        Err(crate::auth::AuthError::Invalid(_)) => {
            let errors = HashMap::from([(
                "password".to_owned(),
                visitor.tr().t("staff.error.password").to_owned(),
            )]);
            Ok(render(
                &state,
                &visitor,
                &person,
                None,
                errors,
                None,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
        Err(e) => Err(PortalError::Api(visitor.lang, e.into())),
    }
}
