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
        state = browser
            .find("#test-result")
            .await
            .attr("data-state")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        if state != "pending" {
            break;
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
    for path in ["/admin/mail"] {
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

crate::on_both_backends!(
    it_sets_up_mail_and_a_test_mail_arrives,
    mail_settings_over_http,
    hr_gets_403_on_messaging_pages,
);
