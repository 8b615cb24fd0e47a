//! Mail against a real SMTP server (tests/common/smtp.rs): the digest of unread messages and
//! its unsubscribe link (no login; it stops the next digest), welcome mails, and password
//! reset (the link works once and expires). On SQLite and PostgreSQL. The outbox, SMTP
//! outages, restarts, settings and LDAP alerts are in tests/mail_delivery.rs.

use crate::common;

use common::{
    Backend, Storage, TestApp,
    smtp::{SmtpSink, link, query_param, to},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::config::mail::{MailConfig, RawMailConfig, Scalar};

/// Mail settings for tests: the sink, English, digests at once, quick retries.
pub fn mail_config(port: u16, adjust: impl FnOnce(&mut RawMailConfig)) -> MailConfig {
    let mut raw = RawMailConfig {
        smtp_host: Some("127.0.0.1".into()),
        smtp_port: Some(Scalar::Number(port.into())),
        smtp_security: Some("none".into()),
        from_address: Some("switchboard@example.com".into()),
        from_name: Some("Switchboard Test".into()),
        language: Some("en".into()),
        digest_after_minutes: Some(Scalar::Number(0)),
        smtp_timeout_secs: Some(Scalar::Number(5)),
        retry_base_secs: Some(Scalar::Number(1)),
        retry_cap_secs: Some(Scalar::Number(2)),
        max_attempts: Some(Scalar::Number(100)),
        digest_interval_secs: Some(Scalar::Number(1)),
        ..Default::default()
    };
    adjust(&mut raw);
    MailConfig::parse(raw).expect("test mail config")
}

/// A server over `storage` with these mail settings (and LDAP, when given).
pub async fn start(
    storage: &Storage,
    mail: MailConfig,
    ldap: Option<switchboard::ldap::RawLdapConfig>,
) -> TestApp {
    let mut config = storage.config_with(false, ldap);
    config.mail = mail;
    TestApp::start_config(config).await
}

/// Waits until the outbox holds nothing queued or being sent.
pub async fn outbox_idle(app: &TestApp) {
    for _ in 0..600 {
        let mut busy = 0;
        for status in ["queued", "sending"] {
            let reply = app
                .admin(
                    Method::GET,
                    &format!("/api/v1/admin/mail/outbox?status={status}"),
                    None,
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            busy += reply.body.as_array().map_or(0, Vec::len);
        }
        if busy == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the outbox did not empty within a minute");
}

/// A page fetched without a login.
async fn page(app: &TestApp, url: &str) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let response = app.client.get(url).send().await.expect("page");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, response.text().await.expect("page text"), headers)
}

/// A form posted without a login.
async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let response = app
        .client
        .post(format!("{}{path}", app.base))
        .form(form)
        .send()
        .await
        .expect("form post");
    let status = response.status();
    (status, response.text().await.expect("page text"))
}

fn digests_to<'a>(messages: &'a [Value], address: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|m| to(m, address) && m["headers"]["list-unsubscribe"].is_string())
        .collect()
}

async fn set_digest(app: &TestApp, token: &str, digest: bool, language: &str) {
    let reply = app
        .call(
            Method::PUT,
            "/api/v1/me/mail-preferences",
            Some(token),
            Some(json!({"digest": digest, "language": language})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["digest"], digest);
}

async fn digest(app: &TestApp, token: &str) -> bool {
    let reply = app
        .call(
            Method::GET,
            "/api/v1/me/mail-preferences",
            Some(token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["digest"].as_bool().expect("digest flag")
}

async fn say(app: &TestApp, token: &str, conversation: &str, text: &str, mentions: Value) {
    let reply = app
        .call(
            Method::POST,
            &format!("/api/v1/im/conversations/{conversation}/messages"),
            Some(token),
            Some(
                json!({"client_msg_id": uuid::Uuid::now_v7().to_string(), "kind": "text",
                        "body": {"text": text}, "mentions": mentions}),
            ),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

async fn a_digest_lists_unread_messages_and_its_link_unsubscribes_without_login(backend: Backend) {
    let sink = SmtpSink::start(None).await;
    let storage = Storage::new(backend).await;
    let app = start(&storage, mail_config(sink.port, |_| {}), None).await;
    let team = app.create_department(None, "<Ops & \"Co\">", "team").await;
    let alice = app.create_staff("alice", "Alice", &[&team]).await;
    let bob = app.create_staff("bob", "Bob", &[&team]).await;
    let carol = app.create_staff("carol", "Carol", &[&team]).await;
    let (alice_t, bob_t) = (
        app.staff_token(&alice, "alice").await,
        app.staff_token(&bob, "bob").await,
    );
    let carol_t = app.staff_token(&carol, "carol").await;
    let mut chat = None;
    for _ in 0..300 {
        let reply = app
            .call(
                Method::GET,
                &format!("/api/v1/im/departments/{team}/conversation"),
                Some(&carol_t),
                None,
            )
            .await;
        if reply.status == StatusCode::OK {
            chat = reply.body["conversation"].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let chat = chat.expect("the department chat");
    // Nobody has connected: everyone is offline. The messages come before the opt-in, so the
    // first digest holds both.
    say(&app, &carol_t, &chat, "Hello <b>team</b>", json!([])).await;
    say(&app, &carol_t, &chat, "Alice, look at this", json!([alice])).await;
    set_digest(&app, &alice_t, true, "en").await;
    set_digest(&app, &bob_t, true, "zh").await;

    let to_alice = sink
        .wait_for(1, |m| {
            to(m, "alice@example.com") && m["headers"]["list-unsubscribe"].is_string()
        })
        .await;
    let mail = &to_alice[0];
    assert_eq!(mail["subject"], "You have 2 unread messages", "{mail}");
    let text = mail["text"].as_str().expect("plain text");
    assert!(
        text.contains("<Ops & \"Co\">: 2 unread (you were mentioned)"),
        "{text}"
    );
    assert!(text.contains("Alice, look at this"), "{text}");
    let html = mail["html"].as_str().expect("html");
    assert!(!html.contains("<Ops"), "names stay text: {html}");
    assert!(
        html.contains("Ops &#38; ") || html.contains("Ops &amp; "),
        "{html}"
    );
    assert!(
        mail["headers"]["from"]
            .as_str()
            .unwrap()
            .contains("Switchboard Test")
    );
    assert!(
        mail["message_id"]
            .as_str()
            .unwrap()
            .ends_with("@example.com>")
    );
    assert_eq!(
        mail["headers"]["list-unsubscribe-post"],
        "List-Unsubscribe=One-Click"
    );
    let to_bob = sink
        .wait_for(1, |m| {
            to(m, "bob@example.com") && m["headers"]["list-unsubscribe"].is_string()
        })
        .await;
    assert_eq!(to_bob[0]["subject"], "您有 2 条未读消息", "{}", to_bob[0]);
    assert!(to_bob[0]["text"].as_str().unwrap().contains("退订"));

    // The link in the mail, without a login: a page with a button, then done.
    let url = link(text, "/mail/unsubscribe");
    let (status, body, headers) = page(&app, &url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("id=\"unsubscribe\""), "{body}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        digest(&app, &alice_t).await,
        "opening the link changes nothing"
    );
    let token = query_param(&url, "t");
    let (status, body) = post_form(&app, "/mail/unsubscribe", &[("t", &token)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("id=\"done\""), "{body}");
    assert!(!digest(&app, &alice_t).await);
    let forged = format!("{}x", &token[..token.len() - 1]);
    let (status, _) = post_form(&app, "/mail/unsubscribe", &[("t", &forged)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The next digest goes to Bob and not to Alice.
    say(&app, &carol_t, &chat, "A third one", json!([])).await;
    sink.wait_for(2, |m| {
        to(m, "bob@example.com") && m["headers"]["list-unsubscribe"].is_string()
    })
    .await;
    outbox_idle(&app).await;
    assert_eq!(digests_to(&sink.messages(), "alice@example.com").len(), 1);

    // One-click unsubscribe, as a mail client does it (RFC 8058): a POST to the link.
    let bob_link = to_bob[0]["headers"]["list-unsubscribe"]
        .as_str()
        .unwrap()
        .trim_matches(|c| c == '<' || c == '>')
        .to_owned();
    let response = app
        .client
        .post(&bob_link)
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!digest(&app, &bob_t).await);
    app.stop().await;
}

async fn welcome_and_password_reset_mails(backend: Backend) {
    let sink = SmtpSink::start(None).await;
    let storage = Storage::new(backend).await;
    let app = start(&storage, mail_config(sink.port, |_| {}), None).await;
    let team = app.create_department(None, "Team", "team").await;
    let dave = app.create_staff("dave", "Dave", &[&team]).await;
    app.create_staff("mallory", "<script>alert(1)</script>", &[&team])
        .await;

    let welcome = sink
        .wait_for(1, |m| {
            to(m, "dave@example.com") && m["subject"] == "Welcome to Switchboard, Dave"
        })
        .await;
    let text = welcome[0]["text"].as_str().unwrap();
    assert!(text.contains("Login: dave"), "{text}");
    assert!(
        link(text, "/password-reset").contains("login=dave"),
        "{text}"
    );
    let hostile = sink.wait_for(1, |m| to(m, "mallory@example.com")).await;
    let html = hostile[0]["html"].as_str().unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
        "{html}"
    );

    let dave_session = app.staff_token(&dave, "dave").await;
    for body in [
        json!({"login": "dave"}),
        json!({"login": "nobody-here"}),
        json!({"email": "DAVE@example.com"}),
    ] {
        let reply = app
            .call(
                Method::POST,
                "/api/v1/auth/password-reset",
                None,
                Some(body),
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    }
    let reply = app
        .call(
            Method::POST,
            "/api/v1/auth/password-reset",
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let resets = sink
        .wait_for(2, |m| {
            to(m, "dave@example.com") && m["subject"] == "Reset your Switchboard password"
        })
        .await;
    let first = link(
        resets[0]["text"].as_str().unwrap(),
        "/password-reset?token=",
    );
    let second = link(
        resets[1]["text"].as_str().unwrap(),
        "/password-reset?token=",
    );

    // The page at the link: a form; the token in the form is the secret.
    let (status, body, headers) = page(&app, &first).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("id=\"set-password\""), "{body}");
    assert!(!body.contains("<script"), "no script on the page");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let token = query_param(&first, "token");
    let (status, body) = post_form(
        &app,
        "/password-reset",
        &[
            ("token", &token),
            ("password", "new-password-1"),
            ("password2", "other-password"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = post_form(
        &app,
        "/password-reset",
        &[
            ("token", &token),
            ("password", "short"),
            ("password2", "short"),
        ],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too short, and the token is kept"
    );
    let (status, body) = post_form(
        &app,
        "/password-reset",
        &[
            ("token", &token),
            ("password", "new-password-1"),
            ("password2", "new-password-1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("id=\"done\""), "{body}");
    let me = app
        .call(Method::GET, "/api/v1/auth/me", Some(&dave_session), None)
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "the old session ended");
    app.login("dave", "new-password-1").await;

    // Once only; and the other link sent meanwhile is void too.
    let (status, body) = post_form(
        &app,
        "/password-reset",
        &[
            ("token", &token),
            ("password", "third-password"),
            ("password2", "third-password"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let reply = app
        .call(
            Method::POST,
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": query_param(&second, "token"), "password": "third-password"})),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert_eq!(reply.body["error"]["field"], "token");

    // A fresh link expires: move its expiry into the past behind the server's back.
    let reply = app
        .call(
            Method::POST,
            "/api/v1/auth/password-reset",
            None,
            Some(json!({"login": "dave"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let resets = sink
        .wait_for(3, |m| {
            to(m, "dave@example.com") && m["subject"] == "Reset your Switchboard password"
        })
        .await;
    let third = query_param(
        &link(resets[2]["text"].as_str().unwrap(), "token="),
        "token",
    );
    expire_tokens(&storage).await;
    let reply = app
        .call(
            Method::POST,
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": third, "password": "third-password"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "expired");
    app.login("dave", "new-password-1").await;

    // Throttled like logins: five requests per account in 15 minutes (two used above).
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let reply = app
            .call(
                Method::POST,
                "/api/v1/auth/password-reset",
                None,
                Some(json!({"login": "dave"})),
            )
            .await;
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(statuses, [202, 202, 202, 429]);
    app.stop().await;
}

async fn expire_tokens(storage: &Storage) {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(storage.database_url())
        .await
        .expect("the test database");
    db.execute_unprepared("UPDATE mail_tokens SET expires_at = 1 WHERE used_at IS NULL")
        .await
        .expect("expire tokens");
}

on_both_backends!(
    a_digest_lists_unread_messages_and_its_link_unsubscribes_without_login,
    welcome_and_password_reset_mails,
);
