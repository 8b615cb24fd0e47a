//! IT's LDAP pages in a real browser against a real slapd: the server starts with the
//! configuration file's settings pointing nowhere; IT fixes them in the portal (errors next to
//! the field, what was typed kept), tests the connection (counts, a sample, the dry run),
//! saves, syncs, sees the run in the history, and approves a blocked run; the bind password
//! never comes back in a page or an answer. The JSON twin and the powers are in
//! `ldap_settings_api.rs`. On SQLite and PostgreSQL.

use crate::common;

use std::time::Duration;

use common::{Backend, Storage, TestApp, browser::Browser, ldap_api, slapd::Slapd};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// What the configuration file says the password is (it is wrong: IT enters the right one).
pub const FILE_PASSWORD: &str = "file-password-that-fails-7731";

/// The file's settings: the sample company's, but at a port where nothing listens and with a
/// wrong password, so that only the portal's settings can reach the server.
pub fn file_settings(slapd: &Slapd) -> switchboard::ldap::RawLdapConfig {
    let mut raw = slapd.config("read_only");
    raw.url = "ldap://127.0.0.1:9".into();
    raw.bind_password = Some(FILE_PASSWORD.into());
    raw
}

/// A person with a local password and a role with `powers`; returns their token.
pub async fn person_with_powers(app: &TestApp, login: &str, powers: &[&str]) -> String {
    let department = app
        .create_department(None, &format!("{login} dept"), "team")
        .await;
    let staff = app.create_staff(login, login, &[&department]).await;
    let _ = app.staff_token(&staff, login).await;
    let role = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": format!("role of {login}"), "admin_powers": powers})),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    let assigned = app
        .admin(
            Method::POST,
            "/api/v1/admin/assignments",
            Some(json!({"role_id": role.body["id"], "subject_kind": "staff", "subject": staff})),
        )
        .await;
    assert!(assigned.status.is_success(), "{}", assigned.body);
    app.login(login, "staff-password-1").await
}

pub async fn as_token(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> common::Reply {
    app.call(method, path, Some(token), body).await
}

/// Every answer and page seen, to check none carries the password.
#[derive(Default)]
pub struct Seen(Vec<String>);

impl Seen {
    pub fn add(&mut self, text: impl Into<String>) {
        self.0.push(text.into());
    }

    pub fn assert_no(&self, secret: &str) {
        for (i, text) in self.0.iter().enumerate() {
            assert!(
                !text.contains(secret),
                "answer {i} shows the password: {text}"
            );
        }
    }
}

/// Replaces an input's value in the browser.
async fn type_into(browser: &Browser, css: &str, text: &str) {
    let field = browser.find(css).await;
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

/// Waits until the element `css` exists now (htmx swaps and polls).
async fn wait_for(browser: &Browser, css: &str) {
    for _ in 0..600 {
        if browser.find_all_count(css).await > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let html = browser.client.source().await.unwrap_or_default();
    panic!("{css} never appeared; the page: {html}");
}

async fn attribute(browser: &Browser, css: &str, name: &str) -> String {
    browser
        .find(css)
        .await
        .attr(name)
        .await
        .expect("attribute")
        .unwrap_or_default()
}

async fn it_sets_up_ldap_in_the_portal_and_syncs(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let secret = slapd.get("LDAP_BIND_PASSWORD");
    let storage = Storage::new(backend).await;
    let app = TestApp::start_config(storage.config_with(false, Some(file_settings(&slapd)))).await;
    person_with_powers(&app, "it.li", &["access"]).await;
    let mut seen = Seen::default();

    let browser = Browser::start("en").await;
    browser.goto(&format!("{}/admin/ldap", app.base)).await;
    browser.sign_in("it.li", "staff-password-1").await;
    browser.wait_for_path("/admin/ldap").await;
    assert!(
        browser
            .text("#ldap-source")
            .await
            .contains("configuration file"),
        "the file's settings are shown first"
    );
    assert_eq!(
        attribute(&browser, "#f-url", "value").await,
        "ldap://127.0.0.1:9"
    );
    assert_eq!(attribute(&browser, "#f-bind-password", "value").await, "");

    // A wrong URL is refused next to its field, with everything typed kept.
    type_into(&browser, "#f-url", "http://ldap.example.com").await;
    type_into(&browser, "#f-deletion-threshold-percent", "5").await;
    type_into(&browser, "#f-bind-password", &secret).await;
    browser
        .find("#save-ldap")
        .await
        .click()
        .await
        .expect("save");
    wait_for(&browser, "#f-url-error").await;
    assert!(browser.text("#f-url-error").await.contains("ldap://"));
    assert_eq!(
        attribute(&browser, "#f-url", "value").await,
        "http://ldap.example.com"
    );
    assert_eq!(
        attribute(&browser, "#f-deletion-threshold-percent", "value").await,
        "5"
    );
    assert_eq!(attribute(&browser, "#f-bind-password", "value").await, "");
    seen.add(browser.client.source().await.expect("page"));

    // Test the corrected settings before saving them.
    type_into(&browser, "#f-url", &slapd.url()).await;
    type_into(&browser, "#f-bind-password", &secret).await;
    browser
        .find("#test-ldap")
        .await
        .click()
        .await
        .expect("test");
    wait_for(&browser, "#test-ok").await;
    let staff: usize = browser
        .text("[data-count=staff]")
        .await
        .parse()
        .expect("staff count");
    let departments: usize = browser
        .text("[data-count=departments]")
        .await
        .parse()
        .expect("departments");
    assert!(
        staff >= 30 && departments >= 5,
        "{staff} people, {departments} departments"
    );
    assert!(
        !browser.text("[data-field=login]").await.is_empty(),
        "a sample person"
    );
    let would_add: usize = browser
        .text("[data-diff='ldap.count.added']")
        .await
        .parse()
        .expect("dry run");
    assert!(
        would_add > 0 && would_add <= staff,
        "dry run adds {would_add}"
    );
    seen.add(browser.client.source().await.expect("page"));
    // Nothing is saved by a test.
    let settings = app
        .admin(Method::GET, "/api/v1/admin/ldap/settings", None)
        .await;
    assert_eq!(settings.body["source"], "file", "{}", settings.body);

    type_into(&browser, "#f-bind-password", &secret).await;
    browser
        .find("#save-ldap")
        .await
        .click()
        .await
        .expect("save");
    browser.wait_for_path("/admin/ldap?done=saved").await;
    assert!(browser.text("#ldap-source").await.contains("it.li"));
    assert_eq!(attribute(&browser, "#f-url", "value").await, slapd.url());
    seen.add(browser.client.source().await.expect("page"));

    // The same test over the API now reports what the portal showed.
    let report = app
        .admin(Method::POST, "/api/v1/admin/ldap/test", None)
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_eq!(report.body["staff"], staff);
    assert_eq!(report.body["dry_run"]["added"], would_add);
    seen.add(report.body.to_string());

    // Sync now: the run page follows it to its end; the history shows its counts.
    browser.goto(&format!("{}/admin/ldap/runs", app.base)).await;
    browser.find("#sync-now").await.click().await.expect("sync");
    wait_for(&browser, "#run-status[data-status=succeeded]").await;
    let added: usize = browser
        .text("#run-counts [data-count='ldap.count.added']")
        .await
        .parse()
        .expect("added");
    assert_eq!(added, would_add, "the run did what the dry run said");
    browser.goto(&format!("{}/admin/ldap/runs", app.base)).await;
    let row = "#runs tr[data-status=succeeded] [data-count=added]";
    assert_eq!(browser.text(row).await, added.to_string());
    seen.add(browser.client.source().await.expect("page"));

    // Three people leave: more than the 5 % IT set, so the next run waits for approval.
    let gone = [
        "uid=ceo,ou=Executive,ou=Stellar,dc=example,dc=com",
        "uid=cfo,ou=Executive,ou=Stellar,dc=example,dc=com",
        "uid=lijing,ou=Executive,ou=Stellar,dc=example,dc=com",
    ];
    for dn in gone {
        slapd.delete(dn);
    }
    browser.find("#sync-now").await.click().await.expect("sync");
    wait_for(&browser, "#run-status[data-status=blocked]").await;
    assert_eq!(
        browser
            .text("#run-counts [data-count='ldap.count.disabled']")
            .await,
        "3"
    );
    let blocked_path = browser.path().await;
    browser.goto(&format!("{}/admin/ldap/runs", app.base)).await;
    browser
        .find("#waiting-link")
        .await
        .click()
        .await
        .expect("review");
    browser.wait_for_path(&blocked_path).await;
    assert_eq!(
        ldap_api::person(&app, "ceo").await.expect("ceo")["status"],
        "active"
    );
    browser
        .find("#approve-run")
        .await
        .click()
        .await
        .expect("approve");
    browser.client.accept_alert().await.expect("confirm");
    wait_for(&browser, "#run-status[data-status=succeeded]").await;
    assert_ne!(
        browser.path().await,
        blocked_path,
        "the approved run is a new run"
    );
    assert_eq!(
        browser
            .text("#run-counts [data-count='ldap.count.disabled']")
            .await,
        "3"
    );
    assert_eq!(
        ldap_api::person(&app, "ceo").await.expect("ceo")["status"],
        "disabled"
    );
    seen.add(browser.client.source().await.expect("page"));
    browser.goto(&format!("{}{blocked_path}", app.base)).await;
    assert_eq!(browser.find_all_count("#approve-run").await, 0, "decided");
    seen.add(browser.client.source().await.expect("page"));

    // The audit log has the save (source portal) and the approval, never the password.
    let audit = app
        .admin(
            Method::GET,
            "/api/v1/admin/audit?entity_kind=setting&actor=it.li",
            None,
        )
        .await;
    let entry = &audit.body[0];
    assert_eq!(entry["source"], "portal", "{entry}");
    assert_eq!(entry["actor"], "it.li", "{entry}");
    assert_eq!(entry["action"], "ldap.settings", "{entry}");
    seen.add(audit.body.to_string());
    let approvals = app
        .admin(
            Method::GET,
            "/api/v1/admin/audit?entity_kind=ldap_run",
            None,
        )
        .await;
    assert!(
        approvals.body.to_string().contains("ldap.run.approve"),
        "{}",
        approvals.body
    );
    for path in ["/api/v1/admin/ldap/settings", "/api/v1/admin/ldap/runs"] {
        seen.add(app.admin(Method::GET, path, None).await.body.to_string());
    }
    seen.assert_no(&secret);
    seen.assert_no(FILE_PASSWORD);
    app.stop().await;
}

/// No `[ldap]` table at all: IT connects LDAP from the portal alone, and it stays connected
/// after a restart.
async fn it_connects_ldap_from_nothing_in_the_portal(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let secret = slapd.get("LDAP_BIND_PASSWORD");
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    person_with_powers(&app, "it.wu", &["access"]).await;
    let mut seen = Seen::default();

    let none = app
        .admin(Method::GET, "/api/v1/admin/ldap/settings", None)
        .await;
    assert_eq!(none.status, StatusCode::OK, "{}", none.body);
    assert_eq!(none.body["source"], "none");
    assert_eq!(none.body["settings"]["url"], "");
    let (status, refused) = ldap_api::start_sync(&app, "full").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("LDAP page"),
        "the error says where to configure it: {refused}"
    );

    let browser = Browser::start("en").await;
    browser.goto(&format!("{}/admin/ldap", app.base)).await;
    browser.sign_in("it.wu", "staff-password-1").await;
    browser.wait_for_path("/admin/ldap").await;
    assert!(
        browser.text("#ldap-source").await.contains("Not connected"),
        "{}",
        browser.text("#ldap-source").await
    );
    let sample = slapd.config("read_only");
    type_into(&browser, "#f-url", &slapd.url()).await;
    type_into(&browser, "#f-bind-dn", &sample.bind_dn).await;
    type_into(
        &browser,
        "#f-departments-base-dn",
        &sample.departments.base_dn,
    )
    .await;
    type_into(&browser, "#f-staff-base-dn", &sample.staff.base_dn).await;
    // The first save must bring a password: there is no file to fall back on.
    browser
        .find("#save-ldap")
        .await
        .click()
        .await
        .expect("save");
    wait_for(&browser, "#f-bind-password-error").await;
    assert_eq!(
        attribute(&browser, "#f-staff-base-dn", "value").await,
        sample.staff.base_dn,
        "what was typed is kept"
    );
    type_into(&browser, "#f-bind-password", &secret).await;
    browser
        .find("#save-ldap")
        .await
        .click()
        .await
        .expect("save");
    wait_for(&browser, "#notice").await;
    assert!(browser.text("#ldap-source").await.contains("it.wu"));
    seen.add(browser.client.source().await.expect("page"));
    drop(browser);

    // Connected without a restart: a sync runs, and people log in with their LDAP password.
    let run = ldap_api::sync(&app, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let login = json!({"login": "zhangwei", "password": "password"});
    let signed_in = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(login.clone()),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    app.stop().await;

    let app = TestApp::start(&storage, false).await;
    let after = app
        .admin(Method::GET, "/api/v1/admin/ldap/settings", None)
        .await;
    assert_eq!(after.body["source"], "portal", "{}", after.body);
    assert_eq!(after.body["bind_password_stored"], true);
    seen.add(after.body.to_string());
    let signed_in = app
        .call(Method::POST, "/api/v1/auth/login", None, Some(login))
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    seen.assert_no(&secret);
    app.stop().await;
}

crate::on_both_backends!(
    it_sets_up_ldap_in_the_portal_and_syncs,
    it_connects_ldap_from_nothing_in_the_portal
);
