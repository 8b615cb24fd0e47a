//! The OpenAPI document, generated from the handlers' annotations and served at
//! `/api/openapi.json`.

use axum::{Json, Router, extract::State, routing::get};
use serde_json::Value;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use super::{ApiError, admin, auth, contacts, error, health, im, mail, push};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        description = "Directory, contact views and messaging. Authenticate with POST /api/v1/auth/login, then send `Authorization: Bearer <token>`. Errors are `{\"error\":{\"code\",\"message\"}}`."
    ),
    paths(
        openapi_json, health::healthz, health::readyz, health::metrics,
        auth::login, auth::logout, auth::me,
        admin::departments::list, admin::departments::create, admin::departments::show,
        admin::departments::update, admin::departments::remove, admin::departments::members,
        admin::staff::list, admin::staff::create, admin::staff::show, admin::staff::update,
        admin::staff::remove, admin::staff::disable, admin::staff::enable,
        admin::staff::set_departments, admin::staff::set_password, admin::import::import,
        admin::fields::list, admin::fields::define, admin::fields::remove,
        admin::audit::list,
        contacts::snapshot, contacts::delta, contacts::version, contacts::search, contacts::staff,
        admin::access::list_roles, admin::access::create_role, admin::access::show_role,
        admin::access::update_role, admin::access::delete_role, admin::access::list_rules,
        admin::access::create_rule, admin::access::show_rule, admin::access::replace_rule,
        admin::access::delete_rule, admin::access::list_assignments, admin::access::assign,
        admin::access::unassign, admin::access::staff_roles, admin::access::preview,
        admin::ldap::settings, admin::ldap::set_settings, admin::ldap::test, admin::ldap::sync, admin::ldap::runs, admin::ldap::run, admin::ldap::approve, admin::ldap::reject,
        im::conversations, im::conversation, im::history, im::send, im::edit, im::recall,
        im::read, im::reads, im::direct, im::department_conversation, im::search,
        im::groups::create, im::groups::update, im::groups::dissolve, im::groups::invite,
        im::groups::remove, im::groups::set_member, im::groups::leave,
        im::files::upload, im::files::download,
        im::admin::settings, im::admin::set_settings, im::admin::webhooks, im::admin::add_webhook,
        im::admin::remove_webhook, im::admin::update_webhook, im::admin::webhook_deliveries, im::admin::api_keys, im::admin::create_api_key,
        im::admin::revoke_api_key, im::admin::groups, im::admin::group, im::admin::server_send, im::admin::server_create_group,
        im::admin::server_invite, im::admin::server_remove, im::admin::server_dissolve,
        im::apps::apps, im::apps::create_app, im::apps::update_app, im::apps::revoke_app,
        im::apps::callbacks, im::apps::send_card, im::apps::update_card, im::apps::person,
        im::apps::department_people,
        mail::settings, mail::set_settings, mail::send_test, mail::outbox, mail::outbox_entry,
        mail::retry, mail::preferences, mail::set_preferences, mail::request_reset,
        mail::confirm_reset,
        push::register, push::devices, push::remove, push::mutes, push::mute, push::unmute,
    ),
    components(responses(
        error::BadRequest, error::Unauthorized, error::Forbidden, error::NotFound,
        error::Conflict, error::PreconditionFailed, error::PayloadTooLarge, error::Invalid, error::TooManyRequests,
        error::Unavailable,
    )),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // The server API's keys (`sbk_...`); `Authorization: Bearer sbk_...` works too.
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi_json))
}

/// This document: the derived one, with the request constraints the server enforces and this
/// instance's custom fields (`openapi_constraints`).
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "the OpenAPI 3.1 document", body = Object)))]
pub async fn openapi_json(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let mut document =
        serde_json::to_value(ApiDoc::openapi()).map_err(|e| ApiError::Internal(e.to_string()))?;
    super::openapi_constraints::apply(&mut document, &state.directory.field_definitions())
        .map_err(ApiError::Internal)?;
    Ok(Json(document))
}
