//! Bad input at the HTTP edge: every error has the JSON error shape, and nothing stops the
//! server. Also the operational endpoints and the OpenAPI document.

use crate::common;

use common::{Backend, Storage, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    malformed_requests_get_clear_errors_and_the_server_lives_on,
    password_guessing_is_throttled,
    operations_endpoints,
    demo_company_is_seeded_and_employees_can_log_in,
    responses_are_checked_against_the_served_document,
);

async fn malformed_requests_get_clear_errors_and_the_server_lives_on(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let token = app.admin_token.clone();

    let cases: Vec<(Method, &str, &str, Vec<u8>, StatusCode)> = vec![
        (
            Method::POST,
            "/api/v1/admin/departments",
            "application/json",
            b"{\"name\": ".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/admin/departments",
            "application/json",
            b"[1,2,3]".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/admin/departments",
            "application/json",
            vec![0xff, 0xfe, 0x00],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/admin/departments",
            "text/plain",
            b"{}".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/admin/departments",
            "application/json",
            br#"{"name":"x","dept_type":"t","surprise":1}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/admin/departments",
            "application/json",
            br#"{"name":"x","dept_type":"t","parent_id":"not-a-uuid"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/admin/departments/not-a-uuid",
            "application/json",
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/admin/staff?limit=minus-one",
            "application/json",
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/admin/departments",
            "application/json",
            vec![b' '; 2 * 1024 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            Method::GET,
            "/api/v1/nothing-here",
            "application/json",
            vec![],
            StatusCode::NOT_FOUND,
        ),
    ];
    for (method, path, content_type, body, expected) in cases {
        let reply = app
            .raw(method.clone(), path, Some(&token), content_type, body)
            .await;
        assert_eq!(reply.status, expected, "{method} {path}: {}", reply.body);
        assert!(
            reply.body["error"]["code"].is_string(),
            "{method} {path}: error shape: {}",
            reply.body
        );
        assert!(reply.body["error"]["message"].is_string());
    }

    // Unauthenticated and badly authenticated calls.
    for token in [None, Some("garbage"), Some("v1.e30.AAAA")] {
        let reply = app
            .call(Method::GET, "/api/v1/admin/departments", token, None)
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.error_code(), "unauthorized");
        assert_eq!(reply.headers.get("www-authenticate").unwrap(), "Bearer");
    }
    let reply = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "admin", "password": "wrong"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "nobody", "password": "wrong"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.body["error"]["message"], "invalid login or password",
        "no hint whether the login exists"
    );

    // After all that, the server still answers.
    let reply = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
}

async fn password_guessing_is_throttled(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let reply = app
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"login": "admin", "password": "guess"})),
            )
            .await;
        statuses.push(reply.status);
    }
    assert!(
        statuses[..10]
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED)
    );
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);
    // Even the right password waits now.
    let reply = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "admin", "password": common::ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
}

async fn operations_endpoints(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let reply = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("switchboard_http_requests_total{class=\"2xx\"}"),
        "{text}"
    );
    assert!(text.contains("switchboard_directory_version "), "{text}");

    let spec = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(spec.status, StatusCode::OK);
    assert!(spec.body["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/auth/login",
        "/api/v1/admin/departments/{id}",
        "/api/v1/admin/staff/{id}/disable",
    ] {
        assert!(spec.body["paths"][path].is_object(), "{path} documented");
    }
    assert!(spec.body["components"]["schemas"]["Staff"].is_object());
}

async fn demo_company_is_seeded_and_employees_can_log_in(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let departments = app
        .admin(Method::GET, "/api/v1/admin/departments", None)
        .await;
    let items = departments.body["items"].as_array().unwrap();
    assert!((28..=40).contains(&items.len()), "{}", items.len());
    let types: std::collections::HashSet<&str> = items
        .iter()
        .map(|d| d["dept_type"].as_str().unwrap())
        .collect();
    assert!(types.len() >= 4, "{types:?}");
    let staff = app
        .admin(Method::GET, "/api/v1/admin/staff?limit=1000", None)
        .await;
    let total = staff.body["total"].as_u64().unwrap();
    assert!((250..=350).contains(&total), "{total}");
    let people = staff.body["items"].as_array().unwrap();
    assert!(
        people
            .iter()
            .any(|p| p["display_name"].as_str().unwrap().is_ascii()),
        "English names"
    );
    assert!(
        people
            .iter()
            .any(|p| !p["display_name"].as_str().unwrap().is_ascii()),
        "Chinese names"
    );
    let login = people[0]["login"].as_str().unwrap();
    let token = app.login(login, switchboard::demo::DEMO_PASSWORD).await;
    let me = app
        .call(Method::GET, "/api/v1/auth/me", Some(&token), None)
        .await;
    assert_eq!(me.body["staff_id"], people[0]["id"]);
    app.stop().await;

    // A second start does not seed again.
    let app = TestApp::start(&storage, true).await;
    let again = app
        .admin(Method::GET, "/api/v1/admin/staff?limit=1", None)
        .await;
    assert_eq!(again.body["total"].as_u64().unwrap(), total);
}

/// The contract check every test relies on (tests/common/openapi.rs) refuses what the document
/// does not describe: an undocumented status, a field the schema does not name, a wrong type,
/// a body on a no-content answer. And the document describes what the server really sends for
/// the shapes that were once wrong: admin roles, rules with their id.
async fn responses_are_checked_against_the_served_document(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let document = app.call(Method::GET, "/api/openapi.json", None, None).await;
    let contract = common::openapi::Contract::for_document(document.body.to_string().as_bytes());
    let json = {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers
    };
    let role = json!({"id": "01a227f2-e4d3-7446-a55e-e4bc3b8f9397", "name": "r",
                      "description": "", "is_admin": false, "admin_powers": []});
    let check = |method: Method, path: &str, status: u16, body: serde_json::Value| {
        contract.check(
            &method,
            path,
            StatusCode::from_u16(status).unwrap(),
            &json,
            body.to_string().as_bytes(),
        )
    };
    assert!(check(Method::GET, "/api/v1/admin/roles", 200, json!([role])).is_ok());
    let mut extra = role.clone();
    extra["surprise"] = json!(1);
    assert!(check(Method::GET, "/api/v1/admin/roles", 200, json!([extra])).is_err());
    assert!(check(Method::GET, "/api/v1/admin/roles", 200, json!(["member"])).is_err());
    assert!(check(Method::GET, "/api/v1/admin/roles", 418, json!([])).is_err());
    assert!(
        check(
            Method::GET,
            "/api/v1/admin/roles/x",
            404,
            json!({"error": {"code": "nope", "message": ""}})
        )
        .is_err(),
        "error codes are an enum"
    );
    assert!(check(Method::POST, "/api/v1/auth/logout", 204, json!({})).is_err());
    assert!(check(Method::GET, "/api/v1/no-such-thing", 200, json!({})).is_err());

    // The real answers pass (TestApp checks every reply; these are the ones once documented
    // wrongly: a role is {id, name, description, is_admin}, a rule carries its id).
    let roles = app.admin(Method::GET, "/api/v1/admin/roles", None).await;
    assert_eq!(roles.status, StatusCode::OK);
    assert!(roles.body[0]["is_admin"].is_boolean(), "{}", roles.body);
    let rules = app.admin(Method::GET, "/api/v1/admin/rules", None).await;
    assert!(rules.body[0]["id"].is_string(), "{}", rules.body);
    // Query parameters are query parameters.
    let parameters = &document.body["paths"]["/api/v1/admin/staff"]["get"]["parameters"];
    for parameter in parameters.as_array().unwrap() {
        assert_eq!(parameter["in"], "query", "{parameter}");
    }
}
