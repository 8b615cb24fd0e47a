//! LDAP settings over the JSON API (`GET`/`PUT /api/v1/admin/ldap/settings`) against a real
//! slapd: errors name their field, a save applies to the next run without a restart and
//! survives one, the password is kept, replaced or given back to the file's and never
//! returned; reading runs needs any admin power, approving, rejecting and saving the `access`
//! power; HR cannot reach the portal's LDAP pages. On SQLite and PostgreSQL.

use crate::common;

use common::{Backend, Storage, TestApp, ldap_api, slapd::Slapd};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::portal_it::Portal;
use crate::portal_ldap::{FILE_PASSWORD, Seen, as_token, file_settings, person_with_powers};

async fn settings_api_powers_and_restart(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let secret = slapd.get("LDAP_BIND_PASSWORD");
    let storage = Storage::new(backend).await;
    let app = TestApp::start_config(storage.config_with(false, Some(file_settings(&slapd)))).await;
    let hr = person_with_powers(&app, "hr.wang", &["directory"]).await;
    let it = person_with_powers(&app, "it.zhou", &["access"]).await;
    let mut seen = Seen::default();

    let first = app
        .admin(Method::GET, "/api/v1/admin/ldap/settings", None)
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["source"], "file");
    assert_eq!(first.body["bind_password_stored"], false);
    seen.add(first.body.to_string());

    // Errors name their field; nothing is saved.
    let body = first.body["settings"].clone();
    let mut wrong = body.clone();
    wrong["staff"]["filter"] = json!("(objectClass=inetOrgPerson");
    let refused = as_token(
        &app,
        &it,
        Method::PUT,
        "/api/v1/admin/ldap/settings",
        Some(wrong),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["error"]["field"], "staff.filter");

    // HR may read, not change; IT may change.
    let mut fixed = body.clone();
    fixed["url"] = json!(slapd.url());
    fixed["bind_password"] = json!(secret);
    let by_hr = as_token(
        &app,
        &hr,
        Method::PUT,
        "/api/v1/admin/ldap/settings",
        Some(fixed.clone()),
    )
    .await;
    assert_eq!(by_hr.status, StatusCode::FORBIDDEN, "{}", by_hr.body);
    assert_eq!(
        as_token(&app, &hr, Method::GET, "/api/v1/admin/ldap/settings", None)
            .await
            .status,
        StatusCode::OK
    );
    let saved = as_token(
        &app,
        &it,
        Method::PUT,
        "/api/v1/admin/ldap/settings",
        Some(fixed.clone()),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(saved.body["source"], "portal");
    assert_eq!(saved.body["bind_password_stored"], true);
    assert_eq!(saved.body["settings"]["url"], slapd.url());
    seen.add(saved.body.to_string());

    // The next run uses them, no restart.
    let run = ldap_api::sync(&app, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");

    // A staff base without people: the next full run is blocked.
    let mut empty = fixed.clone();
    empty
        .as_object_mut()
        .expect("object")
        .remove("bind_password");
    empty["staff"]["base_dn"] = json!("ou=Groups,dc=example,dc=com");
    let saved = as_token(
        &app,
        &it,
        Method::PUT,
        "/api/v1/admin/ldap/settings",
        Some(empty),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(
        saved.body["bind_password_stored"], true,
        "an absent password is kept"
    );
    let blocked = ldap_api::sync(&app, "full").await;
    assert_eq!(blocked["status"], "blocked", "{blocked}");
    let id = blocked["id"].as_str().expect("id");

    // Reading a run and the history need the same: any admin power.
    for path in [
        format!("/api/v1/admin/ldap/runs/{id}"),
        "/api/v1/admin/ldap/runs".to_owned(),
    ] {
        let read = as_token(&app, &hr, Method::GET, &path, None).await;
        assert_eq!(read.status, StatusCode::OK, "{path}: {}", read.body);
    }
    // Approving and rejecting need the access power (docs/api.md).
    for action in ["approve", "reject"] {
        let by_hr = as_token(
            &app,
            &hr,
            Method::POST,
            &format!("/api/v1/admin/ldap/runs/{id}/{action}"),
            None,
        )
        .await;
        assert_eq!(
            by_hr.status,
            StatusCode::FORBIDDEN,
            "{action}: {}",
            by_hr.body
        );
    }
    assert_eq!(
        ldap_api::wait_run(&app, id).await["status"],
        "blocked",
        "HR changed nothing"
    );
    let rejected = as_token(
        &app,
        &it,
        Method::POST,
        &format!("/api/v1/admin/ldap/runs/{id}/reject"),
        None,
    )
    .await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.body);
    assert_eq!(rejected.body["status"], "rejected");
    let late = as_token(
        &app,
        &it,
        Method::POST,
        &format!("/api/v1/admin/ldap/runs/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(
        late.status,
        StatusCode::CONFLICT,
        "a rejected run stays rejected: {}",
        late.body
    );
    assert_eq!(
        ldap_api::person(&app, "zhangwei").await.expect("person")["status"],
        "active"
    );

    // HR cannot reach the pages, nor see them in the navigation.
    let hr_portal = Portal::open(&app, &hr).await;
    assert!(!hr_portal.get("/admin").await.html.contains("/admin/ldap"));
    for path in [
        "/admin/ldap",
        "/admin/ldap/runs",
        &format!("/admin/ldap/runs/{id}"),
    ] {
        assert_eq!(
            hr_portal.get(path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(
        hr_portal.post("/admin/ldap/sync", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        hr_portal
            .post(&format!("/admin/ldap/runs/{id}/approve"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let it_portal = Portal::open(&app, &it).await;
    let page = it_portal.get("/admin/ldap").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("ou=Groups,dc=example,dc=com"));
    seen.add(page.html);
    let run_page = it_portal.get(&format!("/admin/ldap/runs/{id}")).await;
    assert!(
        run_page.html.contains("data-status=\"rejected\""),
        "{}",
        run_page.html
    );
    app.stop().await;

    // After a restart the saved settings still hold (the file's still point nowhere).
    let app = TestApp::start_config(storage.config_with(false, Some(file_settings(&slapd)))).await;
    let after = app
        .admin(Method::GET, "/api/v1/admin/ldap/settings", None)
        .await;
    assert_eq!(after.body["source"], "portal", "{}", after.body);
    assert_eq!(after.body["updated_by"], "it.zhou");
    seen.add(after.body.to_string());
    // Sealed at rest; the test below still binds with it.
    let stored = storage
        .stored_text("SELECT bind_password FROM ldap_settings")
        .await;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(secret.as_str()), "{stored:?}");
    let report = app
        .admin(Method::POST, "/api/v1/admin/ldap/test", None)
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    seen.add(
        app.admin(
            Method::GET,
            "/api/v1/admin/audit?entity_kind=setting&actor=it.zhou",
            None,
        )
        .await
        .body
        .to_string(),
    );

    // "" goes back to the file's password (which is wrong here): the test then fails to bind.
    let mut back = fixed.clone();
    back["bind_password"] = json!("");
    let saved = app
        .admin(Method::PUT, "/api/v1/admin/ldap/settings", Some(back))
        .await;
    assert_eq!(saved.body["bind_password_stored"], false, "{}", saved.body);
    let report = app
        .admin(Method::POST, "/api/v1/admin/ldap/test", None)
        .await;
    assert_eq!(
        report.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        report.body
    );
    seen.add(report.body.to_string());
    seen.assert_no(&secret);
    seen.assert_no(FILE_PASSWORD);
    app.stop().await;
}

crate::on_both_backends!(settings_api_powers_and_restart);
