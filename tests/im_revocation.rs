//! Revocation ends open WebSocket sessions at once (docs/api.md: logout, a password change,
//! disabling the person and removing admin rights revoke every token "at once, not at
//! expiry"): once the revoking call has answered, the next frame the client sends is never
//! acknowledged — the server closes with 4003 instead. On SQLite and PostgreSQL.

use crate::common;
use crate::im_support;

use std::future::Future;

use common::{Backend, Storage, TestApp};
use im_support::{Client, Person, WAIT, employees};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Opens a synced session for `person`, runs `revoke`, then sends a message to `peer`: the
/// server must answer with a 4003 close and nothing else for that message.
async fn revocation_closes_the_session<F: Future<Output = ()>>(
    app: &TestApp,
    person: &Person,
    peer: &Person,
    revoke: F,
) {
    let (mut client, _) = Client::online(app, person, "laptop").await;
    revoke.await;
    let sent = client
        .try_send(
            json!({"type": "send", "id": 1, "client_msg_id": "after-revoke", "to": peer.id,
                         "kind": "text", "body": {"text": "must not be accepted"}}),
        )
        .await;
    let mut seen: Vec<Value> = Vec::new();
    let code = loop {
        match client.read().await {
            Ok(frame) => seen.push(frame),
            Err(code) => break code,
        }
    };
    assert_eq!(code, Some(4003), "closed as revoked (sent: {sent})");
    assert!(
        seen.iter()
            .all(|f| f["client_msg_id"] != "after-revoke" && f["type"] != "error"),
        "the frame after revocation was answered: {seen:?}"
    );
    // And the token itself is refused from now on.
    eventually_refused(app, &person.token).await;
}

/// The peer received nothing from `person` after the revocation.
async fn nothing_delivered(app: &TestApp, peer: &Person) {
    let (mut client, _) = Client::online(app, peer, "phone").await;
    let frames = client.drain(std::time::Duration::from_millis(300)).await;
    assert!(
        frames
            .iter()
            .all(|f| f["message"]["body"]["text"] != "must not be accepted"
                && f["body"]["text"] != "must not be accepted"),
        "{frames:?}"
    );
}

async fn logout_password_change_and_disable_end_sessions(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = employees(&app, "Backend", 4).await;
    let peer = &people[3];

    let person = &people[0];
    revocation_closes_the_session(&app, person, peer, async {
        let r = app
            .call(
                Method::POST,
                "/api/v1/auth/logout",
                Some(&person.token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    })
    .await;

    let person = &people[1];
    revocation_closes_the_session(&app, person, peer, async {
        let r = app
            .admin(
                Method::PUT,
                &format!("/api/v1/admin/staff/{}/password", person.id),
                Some(json!({"password": "a-new-password-1"})),
            )
            .await;
        assert!(r.status.is_success(), "{} {}", r.status, r.body);
    })
    .await;

    let person = &people[2];
    revocation_closes_the_session(&app, person, peer, async {
        let r = app
            .admin(
                Method::POST,
                &format!("/api/v1/admin/staff/{}/disable", person.id),
                None,
            )
            .await;
        assert!(r.status.is_success(), "{} {}", r.status, r.body);
    })
    .await;
    // Enabled again, the disabled person's old token stays revoked.
    let r = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/staff/{}/enable", person.id),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    eventually_refused(&app, &person.token).await;

    nothing_delivered(&app, peer).await;
    app.stop().await;
}

async fn removing_admin_rights_ends_sessions(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = employees(&app, "Backend", 2).await;
    let (person, peer) = (&people[0], &people[1]);
    let role = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": "Directory operators", "description": "", "is_admin": true})),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    let assignment =
        json!({"role_id": role.body["id"], "subject_kind": "staff", "subject": person.id});
    let r = app
        .admin(
            Method::POST,
            "/api/v1/admin/assignments",
            Some(assignment.clone()),
        )
        .await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    let me = app
        .call(Method::GET, "/api/v1/auth/me", Some(&person.token), None)
        .await;
    assert_eq!(me.body["is_admin"], true, "{}", me.body);

    revocation_closes_the_session(&app, person, peer, async {
        let path = format!(
            "/api/v1/admin/assignments?role_id={}&subject_kind=staff&subject={}",
            role.body["id"].as_str().expect("role id"),
            person.id
        );
        let r = app.admin(Method::DELETE, &path, None).await;
        assert!(r.status.is_success(), "{} {}", r.status, r.body);
    })
    .await;
    nothing_delivered(&app, peer).await;

    // The revocation is stored: after a restart the old token is still refused.
    app.stop().await;
    let app = TestApp::start(&storage, true).await;
    eventually_refused(&app, &person.token).await;
    app.stop().await;
}

/// The token is refused (the epoch bump that follows a system revocation is its own write).
async fn eventually_refused(app: &TestApp, token: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let me = app
            .call(Method::GET, "/api/v1/auth/me", Some(token), None)
            .await;
        if me.status == StatusCode::UNAUTHORIZED {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the revoked token still works: {}",
            me.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

on_both_backends!(
    logout_password_change_and_disable_end_sessions,
    removing_admin_rights_ends_sessions
);
