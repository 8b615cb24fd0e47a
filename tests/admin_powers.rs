//! Admin powers split (docs/api.md): `directory` (HR: departments, staff, fields) and `access`
//! (IT: roles, rules, assignments, LDAP, API keys, webhooks, messaging settings). Every
//! administrator reads the admin API; writes need the power; `is_admin` roles keep both.
//! On SQLite and PostgreSQL.

use crate::common;

use common::{Backend, Storage, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Creates a role with `body`, gives it to a new person, and logs that person in.
async fn holder_of(app: &TestApp, login: &str, body: Value) -> (String, Value) {
    let role = app
        .admin(Method::POST, "/api/v1/admin/roles", Some(body))
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    let departments = app
        .admin(Method::GET, "/api/v1/admin/departments", None)
        .await;
    let department = departments.body["items"][0]["id"]
        .as_str()
        .expect("a department")
        .to_owned();
    let staff = app.create_staff(login, login, &[&department]).await;
    let assigned = app
        .admin(
            Method::POST,
            "/api/v1/admin/assignments",
            Some(json!({"role_id": role.body["id"], "subject_kind": "staff", "subject": staff})),
        )
        .await;
    assert!(assigned.status.is_success(), "{}", assigned.body);
    (app.staff_token(&staff, login).await, role.body)
}

async fn status(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> StatusCode {
    app.call(method, path, Some(token), body).await.status
}

async fn powers_split_what_administrators_may_change(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;

    let (hr, hr_role) = holder_of(
        &app,
        "hr.clerk",
        json!({"name": "HR clerks", "admin_powers": ["directory"]}),
    )
    .await;
    assert_eq!(hr_role["admin_powers"], json!(["directory"]));
    assert_eq!(hr_role["is_admin"], false);
    let (it, _) = holder_of(
        &app,
        "it.operator",
        json!({"name": "IT operators", "admin_powers": ["access"]}),
    )
    .await;
    let (both, both_role) =
        holder_of(&app, "chief", json!({"name": "Chiefs", "is_admin": true})).await;
    assert_eq!(both_role["admin_powers"], json!(["directory", "access"]));

    let me = app
        .call(Method::GET, "/api/v1/auth/me", Some(&hr), None)
        .await;
    assert_eq!(me.body["is_admin"], true, "{}", me.body);
    assert_eq!(me.body["admin_powers"], json!(["directory"]));

    let new_department =
        || Some(json!({"name": "New team", "parent_id": null, "dept_type": "team"}));
    let new_role = |name: &str| Some(json!({"name": name}));
    // Everyone with a power reads everything.
    for token in [&hr, &it, &both] {
        for path in [
            "/api/v1/admin/departments",
            "/api/v1/admin/staff",
            "/api/v1/admin/roles",
            "/api/v1/admin/rules",
            "/api/v1/admin/audit",
        ] {
            assert_eq!(
                status(&app, token, Method::GET, path, None).await,
                StatusCode::OK,
                "{path}"
            );
        }
    }
    // Directory writes need `directory`.
    assert_eq!(
        status(
            &app,
            &hr,
            Method::POST,
            "/api/v1/admin/departments",
            new_department()
        )
        .await,
        StatusCode::CREATED
    );
    assert_eq!(
        status(
            &app,
            &it,
            Method::POST,
            "/api/v1/admin/departments",
            new_department()
        )
        .await,
        StatusCode::FORBIDDEN
    );
    // Access writes need `access`.
    assert_eq!(
        status(
            &app,
            &hr,
            Method::POST,
            "/api/v1/admin/roles",
            new_role("by HR")
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            &app,
            &it,
            Method::POST,
            "/api/v1/admin/roles",
            new_role("by IT")
        )
        .await,
        StatusCode::CREATED
    );
    assert_eq!(
        status(
            &app,
            &hr,
            Method::PUT,
            "/api/v1/admin/im/settings",
            Some(json!({}))
        )
        .await,
        StatusCode::FORBIDDEN
    );
    // All powers: both.
    assert_eq!(
        status(
            &app,
            &both,
            Method::POST,
            "/api/v1/admin/departments",
            new_department()
        )
        .await,
        StatusCode::CREATED
    );
    assert_eq!(
        status(
            &app,
            &both,
            Method::POST,
            "/api/v1/admin/roles",
            new_role("by chief")
        )
        .await,
        StatusCode::CREATED
    );
    // An employee without powers reads nothing.
    let employee_login = app
        .admin(Method::GET, "/api/v1/admin/staff?limit=1000", None)
        .await
        .body["items"]
        .as_array()
        .expect("staff")
        .iter()
        .find(|s| s["staff_type"] == "intern")
        .expect("an intern")["login"]
        .as_str()
        .expect("login")
        .to_owned();
    let employee = app.login(&employee_login, "demo1234").await;
    assert_eq!(
        status(&app, &employee, Method::GET, "/api/v1/admin/staff", None).await,
        StatusCode::FORBIDDEN
    );

    // Narrowing a role's powers takes them away at once, and revokes the holders' tokens.
    let narrowed = app
        .admin(
            Method::PATCH,
            &format!(
                "/api/v1/admin/roles/{}",
                both_role["id"].as_str().expect("id")
            ),
            Some(json!({"admin_powers": ["directory"]})),
        )
        .await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.body);
    assert_eq!(narrowed.body["admin_powers"], json!(["directory"]));
    assert_eq!(narrowed.body["is_admin"], false);
    let refused = status(
        &app,
        &both,
        Method::POST,
        "/api/v1/admin/roles",
        new_role("too late"),
    )
    .await;
    assert!(
        [StatusCode::FORBIDDEN, StatusCode::UNAUTHORIZED].contains(&refused),
        "{refused}"
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while status(&app, &both, Method::GET, "/api/v1/auth/me", None).await
        != StatusCode::UNAUTHORIZED
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the narrowed admin's token still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Powers survive a restart.
    app.stop().await;
    let app = TestApp::start(&storage, true).await;
    let roles = app.admin(Method::GET, "/api/v1/admin/roles", None).await;
    let stored: Vec<(&str, &Value)> = roles
        .body
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| (r["name"].as_str().unwrap_or(""), &r["admin_powers"]))
        .collect();
    assert!(
        stored.contains(&("HR clerks", &json!(["directory"]))),
        "{stored:?}"
    );
    assert!(
        stored.contains(&("IT operators", &json!(["access"]))),
        "{stored:?}"
    );
    assert!(
        stored.contains(&("Chiefs", &json!(["directory"]))),
        "{stored:?}"
    );
    app.stop().await;
}

on_both_backends!(powers_split_what_administrators_may_change);
