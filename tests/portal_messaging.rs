//! IT's messaging and mail pages in a real browser (headless Chromium) and over plain HTTP with
//! a session cookie: SMTP settings saved in the portal and a test mail that arrives at a real
//! SMTP server (aiosmtpd, tests/common/smtp.rs); HR (the directory power only) is refused. On
//! SQLite and PostgreSQL.

use crate::common;
use crate::portal_it::Portal;

use common::{
    Backend, Storage, TestApp,
    browser::Browser,
    smtp::{SmtpSink, to},
};
use fantoccini::elements::Element;
use reqwest::{Method, StatusCode};

/// Replaces what an input holds with `text`.
async fn fill(browser: &Browser, css: &str, text: &str) -> Element {
    let input = browser.find(css).await;
    input.clear().await.expect("clear");
    input.send_keys(text).await.expect("type");
    input
}

async fn value(browser: &Browser, css: &str) -> String {
    browser
        .find(css)
        .await
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

async fn sign_in_as_admin(app: &TestApp, lang: &str) -> Browser {
    let browser = Browser::start(lang).await;
    browser.goto(&format!("{}/admin/login", app.base)).await;
    browser.sign_in("admin", common::ADMIN_PASSWORD).await;
    browser.wait_for_path("/admin").await;
    browser
}

/// A portal session of someone holding only the `directory` (HR) power.
async fn hr_portal(app: &TestApp) -> Portal {
    let admin = Portal::open(app, &app.admin_token).await;
    let role = admin
        .post(
            "/admin/roles",
            &[("name", "HR only"), ("powers", "directory")],
        )
        .await;
    assert_eq!(role.status, StatusCode::SEE_OTHER, "{}", role.html);
    let staff = app
        .admin(
            Method::GET,
            "/api/v1/admin/staff?status=active&limit=5",
            None,
        )
        .await;
    let login = staff.body["items"][0]["login"]
        .as_str()
        .expect("someone")
        .to_owned();
    let assigned = admin
        .post(
            &format!("{}/assign", role.location),
            &[("kind", "staff"), ("person_q", &login)],
        )
        .await;
    assert_eq!(assigned.status, StatusCode::SEE_OTHER, "{}", assigned.html);
    let token = app.login(&login, switchboard::demo::DEMO_PASSWORD).await;
    Portal::open(app, &token).await
}

async fn it_sets_up_mail_and_a_test_mail_arrives(backend: Backend) {
    let sink = SmtpSink::start(Some("sb:right-password")).await;
    let storage = Storage::new(backend).await;
    // The demo company, mail off (no SMTP host configured).
    let app = TestApp::start(&storage, true).await;
    let browser = sign_in_as_admin(&app, "en").await;
    browser.goto(&format!("{}/admin/mail", app.base)).await;
    assert_eq!(value(&browser, "#mail-host").await, "");

    // A port out of range: refused next to the field, what was typed kept, the password not
    // sent back.
    fill(&browser, "#mail-host", "127.0.0.1").await;
    fill(&browser, "#mail-port", "99999").await;
    browser
        .find("#mail-security")
        .await
        .select_by_value("none")
        .await
        .expect("security");
    fill(&browser, "#mail-username", "sb").await;
    fill(&browser, "#mail-password", "right-password").await;
    fill(&browser, "#mail-from", "not an address").await;
    browser
        .find("#save-mail")
        .await
        .click()
        .await
        .expect("save");
    let error = browser.text("#error-smtp_port").await;
    assert!(error.contains("1 to 65535"), "{error}");
    assert_eq!(value(&browser, "#mail-host").await, "127.0.0.1");
    assert_eq!(value(&browser, "#mail-port").await, "99999");
    assert_eq!(value(&browser, "#mail-password").await, "");

    // The service's own rule (a sender address), next to its field.
    fill(&browser, "#mail-port", &sink.port.to_string()).await;
    fill(&browser, "#mail-password", "right-password").await;
    browser
        .find("#save-mail")
        .await
        .click()
        .await
        .expect("save");
    let error = browser.text("#error-from_address").await;
    assert!(error.contains("mail address"), "{error}");
    assert_eq!(value(&browser, "#mail-from").await, "not an address");

    fill(&browser, "#mail-from", "it-desk@example.com").await;
    fill(&browser, "#mail-password", "right-password").await;
    browser
        .find("#save-mail")
        .await
        .click()
        .await
        .expect("save");
    browser.find("#notice").await;
    assert!(browser.path().await.contains("done=saved"));
    let source = browser.client.source().await.expect("source");
    assert!(!source.contains("right-password"), "the password is shown");
    assert!(browser.text("#password-state").await.contains("stored"));
    assert_eq!(
        value(&browser, "#mail-port").await,
        sink.port.to_string(),
        "saved"
    );
    let settings = app
        .admin(Method::GET, "/api/v1/admin/mail/settings", None)
        .await;
    assert_eq!(settings.body["smtp_host"], "127.0.0.1", "{}", settings.body);
    assert_eq!(settings.body["smtp_password_set"], true);

    // "Send test mail": the result shows once the SMTP server took it, and it arrived.
    fill(&browser, "#test-to", "it@example.com").await;
    browser
        .find("#send-test")
        .await
        .click()
        .await
        .expect("send");
    browser.find("#test-result").await;
    let mut state = String::new();
    for _ in 0..300 {
        // htmx replaces the element every second: a read that meets the old one is retried.
        if let Ok(Some(read)) = browser.find("#test-result").await.attr("data-state").await {
            state = read;
            if state != "pending" {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(state, "sent", "{}", browser.text("#test-result").await);
    let received = sink.wait_for(1, |m| to(m, "it@example.com")).await;
    assert!(
        received[0]["headers"]["from"]
            .as_str()
            .is_some_and(|f| f.contains("it-desk@example.com")),
        "{}",
        received[0]
    );
    // The outbox lists it as sent.
    browser.goto(&format!("{}/admin/mail", app.base)).await;
    let row = browser.text("#outbox-table tbody tr").await;
    assert!(
        row.contains("it@example.com") && row.contains("Sent"),
        "{row}"
    );

    // Audited with source portal, never with the password.
    let audit = app
        .admin(
            Method::GET,
            "/api/v1/admin/audit?entity_kind=setting&source=portal",
            None,
        )
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    let entries = audit.body.as_array().expect("entries");
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "mail.settings" && e["actor"] == "admin"),
        "{}",
        audit.body
    );
    assert!(!audit.body.to_string().contains("right-password"));
    let tests = app
        .admin(Method::GET, "/api/v1/admin/audit?entity_kind=mail", None)
        .await;
    assert!(
        tests
            .body
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| { e["action"] == "mail.test" && e["source"] == "portal" }),
        "{}",
        tests.body
    );
    app.stop().await;
}

/// The mail page keeps the stored password unless asked to remove it, and the form is refused
/// without its CSRF token.
async fn mail_settings_over_http(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let portal = Portal::open(&app, &app.admin_token).await;
    let form = |password: &'static str, clear: bool| {
        let mut fields = vec![
            ("smtp_host", "mail.example.com"),
            ("smtp_port", "587"),
            ("smtp_security", "starttls"),
            ("smtp_username", "sb"),
            ("smtp_password", password),
            ("from_address", "sb@example.com"),
            ("from_name", "<script>alert(1)</script>"),
            ("public_url", ""),
            ("language", "zh"),
            ("digest_after_minutes", "30"),
            ("alert_to", "a@example.com\nb@example.com"),
        ];
        if clear {
            fields.push(("clear_password", "on"));
        }
        fields
    };
    let saved = portal.post("/admin/mail", &form("s3cret", false)).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let kept = portal.post("/admin/mail", &form("", false)).await;
    assert_eq!(kept.status, StatusCode::SEE_OTHER, "{}", kept.html);
    let settings = app
        .admin(Method::GET, "/api/v1/admin/mail/settings", None)
        .await;
    assert_eq!(
        settings.body["smtp_password_set"], true,
        "{}",
        settings.body
    );
    assert_eq!(settings.body["alert_to"].as_array().map(Vec::len), Some(2));
    assert_eq!(settings.body["welcome"], false);
    let page = portal.get("/admin/mail").await;
    assert!(
        page.html
            .contains("value=\"&#60;script&#62;alert(1)&#60;/script&#62;\""),
        "{}",
        page.html
    );
    assert!(!page.html.contains("<script>alert(1)"));
    assert!(!page.html.contains("s3cret"));
    let cleared = portal.post("/admin/mail", &form("", true)).await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER, "{}", cleared.html);
    let settings = app
        .admin(Method::GET, "/api/v1/admin/mail/settings", None)
        .await;
    assert_eq!(settings.body["smtp_password_set"], false);

    // Bad digest minutes: refused, nothing changed, the error next to the field.
    let mut bad = form("", false);
    bad[9] = ("digest_after_minutes", "99999");
    let refused = portal.post("/admin/mail", &bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains("id=\"error-digest_after_minutes\""));
    assert!(refused.html.contains("value=\"99999\""));

    // Without the CSRF token.
    let forged = portal
        .client
        .post(format!("{}/admin/mail", app.base))
        .header(reqwest::header::COOKIE, &portal.cookie)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body("smtp_host=evil.example.com&smtp_port=25")
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

async fn hr_gets_403_on_messaging_pages(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let hr = hr_portal(&app).await;
    let dashboard = hr.get("/admin").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(!dashboard.html.contains("href=\"/admin/mail\""));
    assert!(!dashboard.html.contains("href=\"/admin/api-keys\""));
    let key = hr.post("/admin/api-keys", &[("name", "sneaky")]).await;
    assert_eq!(key.status, StatusCode::FORBIDDEN);
    let keys = app
        .admin(Method::GET, "/api/v1/admin/im/api-keys", None)
        .await;
    assert_eq!(keys.body, serde_json::json!([]));
    for path in [
        "/admin/mail",
        "/admin/api-keys",
        "/admin/webhooks",
        "/admin/messaging",
    ] {
        let page = hr.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    let refused = hr
        .post(
            "/admin/mail",
            &[("smtp_host", "evil.example.com"), ("smtp_port", "25")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let test = hr
        .post("/admin/mail/test", &[("to", "x@example.com")])
        .await;
    assert_eq!(test.status, StatusCode::FORBIDDEN);
    let settings = app
        .admin(Method::GET, "/api/v1/admin/mail/settings", None)
        .await;
    assert!(settings.body["smtp_host"].is_null(), "{}", settings.body);
    app.stop().await;
}

/// Messaging settings: the run-time policies saved as the API saves them, the mechanics shown
/// read only.
async fn messaging_settings_over_http(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let portal = Portal::open(&app, &app.admin_token).await;
    let page = portal.get("/admin/messaging").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("SWITCHBOARD_IM_RATE_PER_SEC"));
    assert!(
        page.html.contains("value=\"120\""),
        "the default recall window"
    );
    let refused = portal
        .post(
            "/admin/messaging",
            &[
                ("recall_window_secs", "9999999"),
                ("edit_window_secs", "soon"),
                ("max_file_mib", "50"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains("id=\"error-edit_window_secs\""));
    assert!(refused.html.contains("value=\"soon\""));
    let too_long = portal
        .post(
            "/admin/messaging",
            &[
                ("recall_window_secs", "9999999"),
                ("edit_window_secs", "600"),
                ("max_file_mib", "50"),
            ],
        )
        .await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_long.html.contains("id=\"error-recall_window_secs\""));
    let saved = portal
        .post(
            "/admin/messaging",
            &[
                ("recall_window_secs", "300"),
                ("edit_window_secs", "600"),
                ("max_file_mib", "50"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let settings = app
        .admin(Method::GET, "/api/v1/admin/im/settings", None)
        .await;
    assert_eq!(
        settings.body,
        serde_json::json!({"recall_window_secs": 300, "edit_window_secs": 600,
            "max_file_bytes": 50 * 1024 * 1024})
    );
    let audit = app
        .admin(
            Method::GET,
            "/api/v1/admin/audit?entity_kind=setting&source=portal",
            None,
        )
        .await;
    assert_eq!(audit.body[0]["action"], "im.settings", "{}", audit.body);
    assert_eq!(audit.body[0]["after"]["recall_window_secs"], 300);
    app.stop().await;
}

/// A call to the server API with `key`: its status (404 for a group that does not exist when
/// the key is good, 401 when it is not).
async fn server_api(app: &TestApp, key: &str) -> StatusCode {
    app.client
        .delete(format!(
            "{}/api/v1/im/server/groups/{}",
            app.base,
            uuid::Uuid::now_v7()
        ))
        .header("x-api-key", key)
        .send()
        .await
        .expect("server API")
        .status()
}

async fn it_creates_and_revokes_an_api_key(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let browser = sign_in_as_admin(&app, "en").await;
    browser.goto(&format!("{}/admin/api-keys", app.base)).await;
    browser
        .find("#create-key")
        .await
        .click()
        .await
        .expect("create");
    assert!(browser.text("#error-name").await.contains("1 to 100"));
    fill(&browser, "#key-name", "HR system").await;
    browser
        .find("#create-key")
        .await
        .click()
        .await
        .expect("create");
    let key = browser.text("#new-key-secret").await;
    assert!(key.starts_with("sbk_") && key.len() == 52, "{key}");
    assert_eq!(server_api(&app, &key).await, StatusCode::NOT_FOUND);

    // Shown once: the list has only its first characters.
    browser.goto(&format!("{}/admin/api-keys", app.base)).await;
    let row = browser.text("#keys tr[data-key=\"HR system\"]").await;
    assert!(row.contains(&key[..12]) && row.contains("Active"), "{row}");
    let source = browser.client.source().await.expect("source");
    assert!(!source.contains(&key[12..]), "the key is shown again");

    browser
        .find("#keys tr[data-key=\"HR system\"] .revoke")
        .await
        .click()
        .await
        .expect("revoke");
    browser.find("#notice").await;
    browser
        .find("#keys tr[data-key=\"HR system\"][data-state=revoked]")
        .await;
    assert_eq!(server_api(&app, &key).await, StatusCode::UNAUTHORIZED);
    let audit = app
        .admin(Method::GET, "/api/v1/admin/audit?entity_kind=api_key", None)
        .await;
    let actions: Vec<&str> = audit
        .body
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["source"] == "portal")
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["api_key.revoke", "api_key.create"]);
    assert!(!audit.body.to_string().contains(&key[12..]));
    app.stop().await;
}

/// A tiny HTTP receiver for webhooks: answers 200 and keeps each body with its signature.
pub async fn receiver() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
) {
    use axum::{Router, extract::State, http::HeaderMap, routing::post};
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>;
    let seen: Seen = Default::default();
    async fn hook(
        State(seen): State<Seen>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> StatusCode {
        let signature = headers
            .get("x-switchboard-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = serde_json::from_slice(&body).unwrap_or_default();
        seen.lock().expect("lock").push((signature, body));
        StatusCode::OK
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(seen.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

/// An employee's message in their first conversation.
async fn someone_sends(app: &TestApp, text: &str) {
    let staff = app
        .admin(
            Method::GET,
            "/api/v1/admin/staff?status=active&limit=20",
            None,
        )
        .await;
    let login = staff.body["items"]
        .as_array()
        .expect("staff")
        .iter()
        .find(|s| s["staff_type"] == "employee")
        .and_then(|s| s["login"].as_str())
        .expect("an employee")
        .to_owned();
    let token = app.login(&login, switchboard::demo::DEMO_PASSWORD).await;
    let chats = app
        .call(Method::GET, "/api/v1/im/conversations", Some(&token), None)
        .await;
    let chat = chats.body[0]["id"].as_str().expect("a conversation");
    let sent = app
        .call(
            Method::POST,
            &format!("/api/v1/im/conversations/{chat}/messages"),
            Some(&token),
            Some(
                serde_json::json!({"client_msg_id": uuid::Uuid::now_v7().to_string(),
                "kind": "text", "body": {"text": text}}),
            ),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
}

async fn a_webhook_delivery_shows_in_the_page(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let (url, seen) = receiver().await;
    let browser = sign_in_as_admin(&app, "en").await;
    browser.goto(&format!("{}/admin/webhooks", app.base)).await;
    fill(&browser, "#hook-url", &url).await;
    fill(&browser, "#hook-secret", "too short").await;
    browser
        .find("#create-hook")
        .await
        .click()
        .await
        .expect("add");
    assert!(browser.text("#error-secret").await.contains("16"));
    assert_eq!(value(&browser, "#hook-url").await, url);
    fill(&browser, "#hook-secret", "a-secret-of-sixteen+").await;
    browser
        .find("#create-hook")
        .await
        .click()
        .await
        .expect("add");
    browser.find("#notice").await;
    let path = browser.path().await;
    let id = path
        .strip_prefix("/admin/webhooks/")
        .and_then(|rest| rest.split('?').next())
        .expect("the webhook's page")
        .to_owned();

    someone_sends(&app, "hello webhook").await;
    let mut delivered = false;
    for _ in 0..100 {
        browser
            .goto(&format!("{}/admin/webhooks/{id}", app.base))
            .await;
        if browser
            .find_all_count("#deliveries-table tr[data-state=ok][data-code=\"200\"]")
            .await
            > 0
        {
            delivered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(delivered, "no delivery shown");
    {
        let seen = seen.lock().expect("lock");
        assert!(!seen.is_empty());
        assert!(seen[0].0.starts_with("sha256="));
        assert!(
            seen[0].1.to_string().contains("hello webhook"),
            "{}",
            seen[0].1
        );
    }
    let listed = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/im/webhooks/{id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body[0]["status"], "ok", "{}", listed.body);
    assert_eq!(listed.body[0]["response_code"], 200);
    assert!(listed.body[0]["events"].as_u64().is_some_and(|n| n >= 1));

    // Edit: another event, the secret kept (the field left empty).
    browser
        .find("input[name=events][value=presence]")
        .await
        .click()
        .await
        .expect("presence");
    browser
        .find("#save-hook")
        .await
        .click()
        .await
        .expect("save");
    // (The page it left had a notice too: wait for the new address.)
    browser
        .wait_for_path(&format!("/admin/webhooks/{id}?done=saved"))
        .await;
    let hooks = app
        .admin(Method::GET, "/api/v1/admin/im/webhooks", None)
        .await;
    assert_eq!(
        hooks.body[0]["events"],
        serde_json::json!(["message", "presence"]),
        "{}",
        hooks.body
    );
    browser
        .find("#delete-hook")
        .await
        .click()
        .await
        .expect("delete");
    browser.wait_for_path("/admin/webhooks?done=deleted").await;
    let hooks = app
        .admin(Method::GET, "/api/v1/admin/im/webhooks", None)
        .await;
    assert_eq!(hooks.body, serde_json::json!([]));
    let gone = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/im/webhooks/{id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// The storage of deliveries: the newest 100 per webhook are kept, newest first.
async fn deliveries_are_kept_bounded(backend: Backend) {
    use switchboard::im::{Delivery, DeliveryStatus, deliveries};
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let app_ref = &app;
    let hook = |n: u32| async move {
        app_ref
            .admin(
                Method::POST,
                "/api/v1/admin/im/webhooks",
                Some(serde_json::json!({"url": format!("http://127.0.0.1:9/{n}"),
                "secret": "0123456789abcdef", "events": ["presence"]})),
            )
            .await
            .body["id"]
            .as_str()
            .expect("webhook")
            .parse::<uuid::Uuid>()
            .expect("id")
    };
    let (busy, quiet) = (hook(1).await, hook(2).await);
    let db = sea_orm::Database::connect(storage.database_url())
        .await
        .expect("database");
    let delivery = |webhook_id, n: i64| Delivery {
        id: uuid::Uuid::now_v7(),
        webhook_id,
        status: if n % 2 == 0 {
            DeliveryStatus::Ok
        } else {
            DeliveryStatus::Failed
        },
        attempts: 1,
        events: 1,
        response_code: (n % 2 == 0).then_some(200),
        error: (n % 2 == 1).then(|| format!("attempt {n}")),
        at: 1_000 + n,
        duration_ms: 5,
    };
    deliveries::record(&db, &delivery(quiet, 0))
        .await
        .expect("record");
    for n in 0..105 {
        deliveries::record(&db, &delivery(busy, n))
            .await
            .expect("record");
    }
    let kept = deliveries::list(&db, busy, 1000).await.expect("list");
    assert_eq!(kept.len(), 100);
    assert_eq!(kept[0].at, 1_104);
    assert_eq!(kept[99].at, 1_005);
    assert_eq!(kept[1].error.as_deref(), Some("attempt 103"));
    assert_eq!(
        deliveries::list(&db, quiet, 10).await.expect("list").len(),
        1
    );
    let api = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/im/webhooks/{busy}/deliveries?limit=3"),
            None,
        )
        .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    assert_eq!(api.body.as_array().map(Vec::len), Some(3));
    assert_eq!(api.body[0]["at"], 1_104);
    assert_eq!(api.body[1]["status"], "failed");
    assert!(api.body[1]["response_code"].is_null());
    app.stop().await;
}

crate::on_both_backends!(
    it_creates_and_revokes_an_api_key,
    messaging_settings_over_http,
    a_webhook_delivery_shows_in_the_page,
    deliveries_are_kept_bounded,
    it_sets_up_mail_and_a_test_mail_arrives,
    mail_settings_over_http,
    hr_gets_403_on_messaging_pages,
);
