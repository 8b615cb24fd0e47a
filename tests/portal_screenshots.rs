//! Screenshots of every portal page in Chinese and English (`scripts/screenshots`): starts the
//! demo company, sends a few chat messages so the dashboard has something to draw, signs in as
//! the demo administrator and saves PNGs (1280x900) to `docs/screenshots/`. Ignored by the
//! suite: it writes into the source tree.

use crate::common;

use common::{Backend, Storage, TestApp, browser::Browser};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots; run scripts/screenshots"]
async fn portal_screenshots() {
    let out = std::env::var("SCREENSHOTS_DIR").map_or_else(
        |_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots"),
        std::path::PathBuf::from,
    );
    std::fs::create_dir_all(&out).expect("screenshot folder");
    let storage = Storage::new(Backend::Sqlite).await;
    let app = TestApp::start(&storage, true).await;

    // A webhook that hears those messages, and an API key, for IT's messaging pages.
    let (hook_url, _seen) = crate::portal_messaging::receiver().await;
    let hook = app
        .admin(
            Method::POST,
            "/api/v1/admin/im/webhooks",
            Some(json!({"url": hook_url, "secret": "demo-signing-secret",
                "events": ["message", "message.offline"]})),
        )
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.body);
    let hook = hook.body["id"].as_str().expect("webhook").to_owned();
    let key = app
        .admin(
            Method::POST,
            "/api/v1/admin/im/api-keys",
            Some(json!({"name": "HR system (人事系统)"})),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);

    // A few employees chat in their department, so "messages today" is not zero.
    let staff = app
        .admin(Method::GET, "/api/v1/admin/staff?limit=40", None)
        .await;
    let logins: Vec<String> = staff.body["items"]
        .as_array()
        .expect("staff")
        .iter()
        .filter(|s| s["staff_type"] == "employee")
        .filter_map(|s| s["login"].as_str().map(str::to_owned))
        .take(6)
        .collect();
    for (index, login) in logins.iter().enumerate() {
        let token = app.login(login, switchboard::demo::DEMO_PASSWORD).await;
        let chats = app
            .call(Method::GET, "/api/v1/im/conversations", Some(&token), None)
            .await;
        let Some(chat) = chats.body[0]["id"].as_str() else {
            continue;
        };
        for n in 0..=index {
            let sent = app
                .call(
                    Method::POST,
                    &format!("/api/v1/im/conversations/{chat}/messages"),
                    Some(&token),
                    Some(
                        json!({"client_msg_id": format!("shot-{index}-{n}"), "kind": "text",
                        "body": {"text": "早上好 Good morning"}}),
                    ),
                )
                .await;
            assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
        }
    }

    let mut it_pages = it_pages(&app).await;
    let group = chat_groups(&app).await;
    it_pages.push(("group", format!("/admin/groups/{group}"), "#member-table"));
    mail_outbox(&app).await;
    for _ in 0..100 {
        let deliveries = app
            .admin(
                Method::GET,
                &format!("/api/v1/admin/im/webhooks/{hook}/deliveries"),
                None,
            )
            .await;
        if deliveries.body.as_array().is_some_and(|d| !d.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    it_pages.push((
        "webhook",
        format!("/admin/webhooks/{hook}"),
        "#deliveries-table",
    ));

    for (lang, code) in [("zh-CN", "zh"), ("en-US", "en")] {
        let browser = Browser::start(lang).await;
        let shot = |name: &str| out.join(format!("{name}-{code}.png"));
        browser.goto(&format!("{}/", app.base)).await;
        browser.find("#card-portal").await;
        browser.screenshot(&shot("landing")).await;
        browser.goto(&format!("{}/admin", app.base)).await;
        browser.find("#sign-in").await;
        browser.screenshot(&shot("login")).await;
        browser.sign_in("admin", common::ADMIN_PASSWORD).await;
        browser.wait_for_path("/admin").await;
        browser.find("[data-stat=people]").await;
        // Every page in the navigation (new pages are photographed without changes here).
        let links = browser
            .client
            .execute(
                "return [...document.querySelectorAll('.sidebar .nav a.nav-link')].map(a => a.getAttribute('href'))",
                vec![],
            )
            .await
            .expect("links");
        for href in links
            .as_array()
            .expect("hrefs")
            .iter()
            .filter_map(|h| h.as_str())
        {
            // LDAP's pages are photographed against a real slapd (`ldap_screenshots`).
            if href.starts_with("/admin/ldap") {
                continue;
            }
            let name = match href.trim_start_matches("/admin").trim_matches('/') {
                "" => "dashboard".to_owned(),
                rest => rest.replace('/', "-"),
            };
            browser.goto(&format!("{}{href}", app.base)).await;
            browser.find(".content").await;
            // Let htmx finish what it loads on arrival.
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            browser.screenshot(&shot(&name)).await;
        }
        browser.goto(&format!("{}/api/docs", app.base)).await;
        browser.find(".docs-main").await;
        browser.screenshot(&shot("api-docs")).await;
        for (name, path, ready) in &it_pages {
            browser.goto(&format!("{}{path}", app.base)).await;
            browser.find(ready).await;
            browser.screenshot(&shot(name)).await;
        }
        hr_screenshots(&app, &browser, &shot).await;
        announcement_preview(&app, &browser, &shot("announcements-preview")).await;

        // An employee without admin rights.
        let employee = Browser::start(lang).await;
        employee.goto(&format!("{}/admin", app.base)).await;
        employee
            .sign_in(&logins[0], switchboard::demo::DEMO_PASSWORD)
            .await;
        employee.find("#message-title").await;
        employee.screenshot(&shot("no-access")).await;
    }
    println!("screenshots in {}", out.display());
}

/// A few chat groups of Backend's employees, so the groups page has rows; the id of one.
async fn chat_groups(app: &TestApp) -> String {
    let people: Vec<(String, String)> = crate::im_support::employees(app, "Backend", 5)
        .await
        .into_iter()
        .map(|p| (p.token, p.id))
        .collect();
    let mut first = String::new();
    for (n, name) in [
        "季度规划 Q3 planning",
        "午餐俱乐部 Lunch club",
        "发布值班 Release on-call",
    ]
    .iter()
    .enumerate()
    {
        let (token, _) = &people[n % people.len()];
        let members: Vec<&str> = people.iter().skip(n).map(|(_, id)| id.as_str()).collect();
        let created = app
            .call(
                Method::POST,
                "/api/v1/im/groups",
                Some(token),
                Some(json!({"name": name, "members": members,
                    "announcement": "每周一 10:00 例会 Weekly sync on Mondays"})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        if first.is_empty() {
            first = created.body["conversation"]
                .as_str()
                .expect("group")
                .to_owned();
        }
    }
    first
}

/// The announcement page at its confirmation step (a department's chat and its subtree).
async fn announcement_preview(app: &TestApp, browser: &Browser, path: &std::path::Path) {
    browser
        .goto(&format!("{}/admin/announcements", app.base))
        .await;
    let department = browser
        .client
        .execute(
            "return document.querySelectorAll('#announce-department option')[1].value",
            vec![],
        )
        .await
        .expect("a department");
    browser
        .find("#announce-department")
        .await
        .select_by_value(department.as_str().expect("id"))
        .await
        .expect("select");
    browser
        .find("#announce-subtree")
        .await
        .click()
        .await
        .expect("subtree");
    browser
        .find("#announce-text")
        .await
        .send_keys("今晚 22:00 至 23:00 系统维护，期间消息可能延迟。\nMaintenance tonight 22:00–23:00: messages may be delayed.")
        .await
        .expect("text");
    browser
        .find("#preview-announcement")
        .await
        .click()
        .await
        .expect("preview");
    browser.find("#send-announcement").await;
    browser.screenshot(path).await;
}

/// Mail settings pointing at a port nobody listens on, and a test mail waiting in the outbox
/// (with its error), so the mail page shows its states.
async fn mail_outbox(app: &TestApp) {
    let port = common::smtp::free_port();
    let saved = app
        .admin(
            Method::PUT,
            "/api/v1/admin/mail/settings",
            Some(json!({
                "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
                "smtp_username": "switchboard", "smtp_password": "demo-password",
                "from_address": "switchboard@example.com", "from_name": "Switchboard",
                "public_url": null, "language": "zh", "digest_after_minutes": 60,
                "alert_to": ["it-desk@example.com"], "welcome": true,
            })),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let queued = app
        .admin(
            Method::POST,
            "/api/v1/admin/mail/test",
            Some(json!({"to": "it-desk@example.com"})),
        )
        .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let id = queued.body["id"].as_str().expect("id").to_owned();
    for _ in 0..100 {
        let entry = app
            .admin(
                Method::GET,
                &format!("/api/v1/admin/mail/outbox/{id}"),
                None,
            )
            .await;
        if entry.body["last_error"].is_string() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// IT's LDAP pages against a real slapd with the sample company: the settings with a test's
/// result, a form error, the run history with a run waiting for approval, that run, and a
/// finished run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots; run scripts/screenshots"]
async fn ldap_screenshots() {
    let out = std::env::var("SCREENSHOTS_DIR").map_or_else(
        |_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots"),
        std::path::PathBuf::from,
    );
    std::fs::create_dir_all(&out).expect("screenshot folder");
    // Before LDAP is connected: the blank form IT fills in.
    let blank = Storage::new(Backend::Sqlite).await;
    let app = TestApp::start(&blank, false).await;
    for (lang, code) in [("zh-CN", "zh"), ("en-US", "en")] {
        let browser = Browser::start(lang).await;
        browser.goto(&format!("{}/admin/ldap", app.base)).await;
        browser.sign_in("admin", common::ADMIN_PASSWORD).await;
        browser.wait_for_path("/admin/ldap").await;
        browser.find("#ldap-source").await;
        browser
            .screenshot(&out.join(format!("ldap-new-{code}.png")))
            .await;
    }
    app.stop().await;

    let slapd = common::slapd::Slapd::start(&[]);
    let storage = Storage::new(Backend::Sqlite).await;
    let mut file = slapd.config("read_only");
    file.deletion_threshold_percent = 5;
    let app = TestApp::start_config(storage.config_with(false, Some(file))).await;
    let first = common::ldap_api::sync(&app, "full").await;
    assert_eq!(first["status"], "succeeded", "{first}");
    for uid in [
        "ceo,ou=Executive",
        "cfo,ou=Executive",
        "lijing,ou=Executive",
    ] {
        slapd.delete(&format!("uid={uid},ou=Stellar,dc=example,dc=com"));
    }
    let blocked = common::ldap_api::sync(&app, "full").await;
    assert_eq!(blocked["status"], "blocked", "{blocked}");
    let (done, waiting) = (
        first["id"].as_str().expect("id"),
        blocked["id"].as_str().expect("id"),
    );

    for (lang, code) in [("zh-CN", "zh"), ("en-US", "en")] {
        let browser = Browser::start(lang).await;
        let shot = |name: &str| out.join(format!("{name}-{code}.png"));
        browser.goto(&format!("{}/admin/ldap", app.base)).await;
        browser.sign_in("admin", common::ADMIN_PASSWORD).await;
        browser.wait_for_path("/admin/ldap").await;
        browser
            .find("#test-ldap")
            .await
            .click()
            .await
            .expect("test");
        browser.find("#test-ok").await;
        browser
            .client
            .execute("window.scrollTo(0, 0)", vec![])
            .await
            .expect("scroll");
        browser.screenshot(&shot("ldap")).await;
        let url = browser.find("#f-url").await;
        url.clear().await.expect("clear");
        url.send_keys("ldap.example.com").await.expect("type");
        browser
            .find("#save-ldap")
            .await
            .click()
            .await
            .expect("save");
        browser.find("#f-url-error").await;
        browser.screenshot(&shot("ldap-error")).await;
        browser.goto(&format!("{}/admin/ldap/runs", app.base)).await;
        browser.find("#waiting").await;
        browser.screenshot(&shot("ldap-runs")).await;
        browser
            .goto(&format!("{}/admin/ldap/runs/{waiting}", app.base))
            .await;
        browser.find("#approve-run").await;
        browser.screenshot(&shot("ldap-run-blocked")).await;
        browser
            .goto(&format!("{}/admin/ldap/runs/{done}", app.base))
            .await;
        browser.find("#run-counts").await;
        browser.screenshot(&shot("ldap-run")).await;
    }
    app.stop().await;
}

/// IT's pages: (file name, path, an element that is there once the page is complete).
async fn it_pages(app: &TestApp) -> Vec<(&'static str, String, &'static str)> {
    let get = |path: &'static str| async move { app.admin(Method::GET, path, None).await.body };
    let roles = get("/api/v1/admin/roles").await;
    let employee = roles
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["name"].as_str().is_some_and(|n| n.ends_with("Employee")))
        .and_then(|r| r["id"].as_str())
        .expect("the employee role")
        .to_owned();
    let rules = get("/api/v1/admin/rules").await;
    let rule = rules
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["role_id"].as_str() == Some(employee.as_str()) && r["effect"] == "allow")
        .and_then(|r| r["id"].as_str())
        .expect("an employee rule")
        .to_owned();
    let departments = get("/api/v1/admin/departments").await;
    let sales = departments["items"]
        .as_array()
        .expect("departments")
        .iter()
        .find(|d| d["name"].as_str().is_some_and(|n| n.ends_with("Sales")))
        .and_then(|d| d["id"].as_str())
        .expect("sales")
        .to_owned();
    let staff = get("/api/v1/admin/staff?limit=1000").await;
    let intern = staff["items"]
        .as_array()
        .expect("staff")
        .iter()
        .find(|s| s["staff_type"] == "intern")
        .and_then(|s| s["login"].as_str())
        .expect("an intern")
        .to_owned();
    vec![
        ("roles", "/admin/roles".into(), "#roles"),
        ("mail-outbox", "/admin/mail#outbox".into(), "#outbox-table"),
        ("role", format!("/admin/roles/{employee}"), "#role-people"),
        ("rules", "/admin/rules".into(), ".rules-table"),
        (
            "rule-edit",
            format!("/admin/rules/{rule}"),
            "#effect-figures",
        ),
        (
            "rule-builder",
            format!("/admin/rules/new?effect=deny&kind=subtree&department={sales}"),
            "#effect-figures",
        ),
        (
            "view-as",
            format!("/admin/view-as?staff={intern}"),
            "#view-as-list",
        ),
    ]
}

/// HR's pages: the org chart with a department open, the drawn chart, the staff list, a
/// person's page.
async fn hr_screenshots(
    app: &TestApp,
    browser: &Browser,
    shot: &impl Fn(&str) -> std::path::PathBuf,
) {
    let departments = app
        .admin(Method::GET, "/api/v1/admin/departments", None)
        .await;
    let items = departments.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let top = items
        .first()
        .and_then(|d| d["id"].as_str())
        .unwrap_or("")
        .to_owned();
    // A department with members, a level below the top, for the panel.
    let busy = items
        .iter()
        .filter_map(|d| d["id"].as_str())
        .find(|id| *id != top)
        .unwrap_or(&top)
        .to_owned();
    browser
        .goto(&format!("{}/admin/org?dept={busy}", app.base))
        .await;
    browser.find("#dept-name").await;
    browser.screenshot(&shot("org")).await;
    browser
        .goto(&format!("{}/admin/org/chart?dept={top}", app.base))
        .await;
    browser.find(".orgchart").await;
    browser.screenshot(&shot("org-chart")).await;
    browser.goto(&format!("{}/admin/staff", app.base)).await;
    browser.find("#staff-table").await;
    browser.screenshot(&shot("staff")).await;
    let first = browser.find("#staff-table .staff-link").await;
    first.click().await.expect("open");
    browser.find("#staff-form").await;
    browser.screenshot(&shot("staff-edit")).await;
    browser
        .goto(&format!("{}/admin/staff/import", app.base))
        .await;
    browser.find("#import-csv").await.send_keys(
        "login,display_name,title,staff_type,departments\nnew.hire,新同事,工程师,employee,星辰科技 Stellar Tech\nbad row,,,,\n",
    ).await.expect("type");
    browser
        .find("#preview-import")
        .await
        .click()
        .await
        .expect("preview");
    browser.find("#import-rows").await;
    browser.screenshot(&shot("staff-import")).await;
}
