//! Driving the LDAP connector through the admin API: start a sync (a background job) and wait
//! for its end, find people and departments.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::TestApp;

/// Starts a sync (`202` with the run) and waits until the run has ended.
pub async fn sync(app: &TestApp, kind: &str) -> Value {
    let started = start_sync(app, kind).await;
    assert_eq!(started.0, StatusCode::ACCEPTED, "{}", started.1);
    wait_run(app, started.1["id"].as_str().expect("run id")).await
}

/// Starts a sync and returns the answer as it is.
pub async fn start_sync(app: &TestApp, kind: &str) -> (StatusCode, Value) {
    let reply = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/ldap/sync?kind={kind}"),
            None,
        )
        .await;
    (reply.status, reply.body)
}

/// Polls `GET /api/v1/admin/ldap/runs/{id}` until the run is no longer `running`.
pub async fn wait_run(app: &TestApp, id: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..1200 {
        let reply = app
            .admin(Method::GET, &format!("/api/v1/admin/ldap/runs/{id}"), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        if reply.body["status"] != "running" {
            return reply.body;
        }
        last = reply.body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("sync run {id} did not end within two minutes: {last}");
}

pub async fn person(app: &TestApp, login: &str) -> Option<Value> {
    let reply = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/staff?q={login}&limit=1000"),
            None,
        )
        .await;
    reply.body["items"]
        .as_array()
        .expect("staff items")
        .iter()
        .find(|p| p["login"] == login)
        .cloned()
}

pub async fn departments(app: &TestApp) -> Vec<Value> {
    app.admin(Method::GET, "/api/v1/admin/departments", None)
        .await
        .body["items"]
        .as_array()
        .expect("department items")
        .clone()
}

/// The department synced from `dn` (compared without case, a comma escaped either way).
pub async fn department_by_dn(app: &TestApp, dn: &str) -> Option<Value> {
    let canonical = |dn: &str| dn.to_lowercase().replace("\\2c", "\\,");
    departments(app).await.into_iter().find(|d| {
        d["ldap"]["dn"]
            .as_str()
            .is_some_and(|d| canonical(d) == canonical(dn))
    })
}
