//! The admin portal in a real browser (headless Chromium over WebDriver) and over plain HTTP:
//! signing in, sessions and `next`, CSRF, "no access", escaping, both languages, security
//! headers. On SQLite and PostgreSQL.

use crate::common;

use common::{Backend, Storage, TestApp, browser::Browser};
use reqwest::{Method, StatusCode, header};
use serde_json::json;

/// A client that keeps no cookies and follows no redirects, to see each answer as it is.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn session_cookie(token: &str) -> String {
    format!("sb_session={token}")
}

/// A person in a new department, with a local password; with a role holding `powers`
/// when given. Returns their staff id.
async fn person(app: &TestApp, login: &str, name: &str, powers: Option<&[&str]>) -> String {
    let department = app
        .create_department(None, "总部 Head Office", "company")
        .await;
    let staff = app.create_staff(login, name, &[&department]).await;
    let _ = app.staff_token(&staff, login).await;
    if let Some(powers) = powers {
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
                Some(
                    json!({"role_id": role.body["id"], "subject_kind": "staff", "subject": staff}),
                ),
            )
            .await;
        assert!(assigned.status.is_success(), "{}", assigned.body);
    }
    staff
}

async fn sign_in_lands_on_the_dashboard(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let browser = Browser::start("en").await;

    browser.goto(&format!("{}/admin", app.base)).await;
    browser.wait_for_path("/admin/login").await;
    browser.sign_in("admin", "not the password").await;
    let error = browser.text("#login-error").await;
    assert_eq!(error, "Wrong login or password.");
    // What was typed stays; the password does not.
    let typed = browser
        .find("#login")
        .await
        .prop("value")
        .await
        .expect("value");
    assert_eq!(typed.as_deref(), Some("admin"));

    browser
        .find("#password")
        .await
        .send_keys(common::ADMIN_PASSWORD)
        .await
        .expect("type");
    browser
        .find("#sign-in")
        .await
        .click()
        .await
        .expect("submit");
    browser.wait_for_path("/admin").await;
    assert_eq!(browser.path().await, "/admin");
    assert_eq!(browser.text(".page-title").await, "Dashboard");
    assert_eq!(browser.text("[data-stat=departments]").await, "0");
    assert_eq!(browser.text(".user-name").await, "admin");

    // The session cookie is HttpOnly: page script cannot read it.
    let cookies = browser
        .client
        .execute("return document.cookie", vec![])
        .await
        .expect("script");
    assert!(
        !cookies.as_str().unwrap_or("").contains("sb_session"),
        "{cookies}"
    );

    // Signing out ends the session (the token is revoked, as by the API's logout).
    browser
        .find(".topbar form button")
        .await
        .click()
        .await
        .expect("sign out");
    browser.wait_for_path("/admin/login").await;
    browser.goto(&format!("{}/admin", app.base)).await;
    browser.wait_for_path("/admin/login").await;
}

async fn an_ended_session_signs_in_again_and_returns(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let client = plain_client();

    // No session: to the login page, remembering where the person was going.
    let reply = client
        .get(format!("{}/admin/somewhere?tab=2", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        reply.headers()[header::LOCATION],
        "/admin/login?next=/admin/somewhere%3Ftab%3D2"
    );

    // A revoked session (logged out through the API) is no session.
    let token = app.login("admin", common::ADMIN_PASSWORD).await;
    let ok = client
        .get(format!("{}/admin", app.base))
        .header(header::COOKIE, session_cookie(&token))
        .send()
        .await
        .expect("get");
    assert_eq!(ok.status(), StatusCode::OK);
    let out = app
        .call(Method::POST, "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let ended = client
        .get(format!("{}/admin", app.base))
        .header(header::COOKIE, session_cookie(&token))
        .send()
        .await
        .expect("get");
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(ended.headers()[header::LOCATION], "/admin/login");

    // An htmx request is told to navigate to the login page, back to its page after.
    let htmx = client
        .get(format!("{}/admin", app.base))
        .header("hx-request", "true")
        .header("hx-current-url", format!("{}/admin/audit?page=3", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(
        htmx.headers()["hx-redirect"],
        "/admin/login?next=/admin/audit%3Fpage%3D3"
    );

    // In the browser: signing in comes back to the page asked for; `next` never leaves.
    let browser = Browser::start("en").await;
    browser
        .goto(&format!(
            "{}/admin/login?next=/admin%3Ffrom%3Dmail",
            app.base
        ))
        .await;
    browser.sign_in("admin", common::ADMIN_PASSWORD).await;
    browser.wait_for_path("/admin?from=mail").await;
    let browser = Browser::start("en").await;
    browser
        .goto(&format!(
            "{}/admin/login?next=//evil.example/admin",
            app.base
        ))
        .await;
    browser.sign_in("admin", common::ADMIN_PASSWORD).await;
    browser.wait_for_path("/admin").await;
    assert_eq!(browser.path().await, "/admin");
}

async fn forms_without_the_csrf_token_are_refused(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let client = plain_client();
    let token = app.login("admin", common::ADMIN_PASSWORD).await;
    let post = |body: &'static str, extra: Option<(&'static str, String)>| {
        let mut request = client
            .post(format!("{}/admin/logout", app.base))
            .header(header::COOKIE, session_cookie(&token))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT_LANGUAGE, "en")
            .body(body);
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        request.send()
    };

    for (body, extra) in [
        ("", None),
        ("csrf=forged", None),
        ("", Some(("x-csrf-token", "forged".to_owned()))),
    ] {
        let refused = post(body, extra).await.expect("post");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{body}");
        let page = refused.text().await.expect("page");
        assert!(page.contains("The form could not be sent"), "{page}");
    }
    // Nothing happened: the session still works.
    let still = client
        .get(format!("{}/admin", app.base))
        .header(header::COOKIE, session_cookie(&token))
        .send()
        .await
        .expect("get");
    assert_eq!(still.status(), StatusCode::OK);

    // The page's own token (from its form) is accepted.
    let page = still.text().await.expect("page");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf field")
        .to_owned();
    let accepted = post("", Some(("x-csrf-token", csrf))).await.expect("post");
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert_eq!(accepted.headers()[header::LOCATION], "/admin/login");

    // The login form has its own token (double-submit cookie): without it, refused.
    let login = client
        .post(format!("{}/admin/login", app.base))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("login=admin&password={}", common::ADMIN_PASSWORD))
        .send()
        .await
        .expect("post");
    assert_eq!(login.status(), StatusCode::FORBIDDEN);
    assert!(
        login
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .all(|c| { !c.to_str().unwrap_or("").starts_with("sb_session=v1") })
    );
}

async fn people_without_admin_powers_see_no_access(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    person(&app, "li.employee", "李员工", None).await;
    let browser = Browser::start("en").await;
    browser.goto(&format!("{}/admin/login", app.base)).await;
    browser.sign_in("li.employee", "staff-password-1").await;
    assert_eq!(browser.text("#message-title").await, "No access");
    assert!(
        browser
            .text("#message-text")
            .await
            .contains("no admin rights"),
        "explains why"
    );
}

async fn names_with_markup_render_as_text(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let name = "<script>alert('x')</script><b>Bold</b>";
    person(&app, "mallory", name, Some(&["directory"])).await;
    let browser = Browser::start("en").await;
    browser.goto(&format!("{}/admin/login", app.base)).await;
    browser.sign_in("mallory", "staff-password-1").await;
    browser.wait_for_path("/admin").await;
    assert_eq!(browser.text(".user-name").await, name);
    assert_eq!(browser.text(".user-role").await, "HR");
    // HR sees HR's section of the navigation, not IT's.
    let headings = browser
        .client
        .execute(
            "return [...document.querySelectorAll('.nav-heading')].map(h => h.textContent)",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(headings, json!(["Overview", "Directory (HR)"]));
    let links = browser
        .client
        .execute(
            "return [...document.querySelectorAll('.sidebar .nav a.nav-link')].map(a => a.getAttribute('href'))",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(
        links,
        json!(["/admin", "/admin/audit", "/admin/org", "/admin/staff"])
    );
    let injected = browser
        .client
        .execute(
            "return document.querySelectorAll('.topbar b, .topbar script').length",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(injected, json!(0));
    assert!(
        browser.client.get_alert_text().await.is_err(),
        "no alert ran"
    );
}

async fn chinese_and_english_both_render(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;

    let zh = Browser::start("zh-CN").await;
    zh.goto(&format!("{}/admin", app.base)).await;
    assert_eq!(zh.text("h1").await, "登录");
    zh.sign_in("admin", common::ADMIN_PASSWORD).await;
    zh.wait_for_path("/admin").await;
    assert_eq!(zh.text(".page-title").await, "概览");
    assert_eq!(zh.text(".lang-switch .current").await, "中文");
    // The switch changes the language and stays on the page.
    zh.find(".lang-switch a[lang=en]")
        .await
        .click()
        .await
        .expect("switch");
    zh.wait_for_path("/admin").await;
    assert_eq!(zh.text(".page-title").await, "Dashboard");

    let en = Browser::start("en-US").await;
    en.goto(&format!("{}/", app.base)).await;
    assert_eq!(en.text("#card-portal h2").await, "Admin portal");
    let zh_landing = plain_client()
        .get(format!("{}/", app.base))
        .header(header::ACCEPT_LANGUAGE, "zh-CN,zh;q=0.9,en;q=0.5")
        .send()
        .await
        .expect("get");
    let html = zh_landing.text().await.expect("page");
    assert!(
        html.contains("<html lang=\"zh-CN\">") && html.contains("管理后台"),
        "{html}"
    );
}

async fn every_answer_carries_the_security_headers(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let client = plain_client();
    let token = app.login("admin", common::ADMIN_PASSWORD).await;
    let login = client
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"login": "admin", "password": common::ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.headers()[header::CACHE_CONTROL], "no-store");
    for (path, cookie) in [
        ("/", None),
        ("/admin/login", None),
        ("/admin", Some(session_cookie(&token))),
        ("/admin/no-such-page", Some(session_cookie(&token))),
        ("/api/v1/auth/me", None),
    ] {
        let mut request = client.get(format!("{}{path}", app.base));
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let reply = request.send().await.expect("get");
        let headers = reply.headers();
        let csp = headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{path}");
        assert!(headers.contains_key(header::REFERRER_POLICY), "{path}");
    }

    // Assets are cached for long only under their content hash.
    let page = client
        .get(format!("{}/", app.base))
        .send()
        .await
        .expect("get");
    let html = page.text().await.expect("html");
    let css = html
        .split("href=\"/assets/admin.css?v=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a hashed stylesheet link");
    let asset = client
        .get(format!("{}/assets/admin.css?v={css}", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(asset.status(), StatusCode::OK);
    assert!(
        asset.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap_or("")
            .contains("immutable")
    );
    assert_eq!(asset.headers()[header::ETAG], format!("\"{css}\"").as_str());

    // The session cookie's flags; `Secure` behind a TLS proxy.
    let form = client
        .get(format!("{}/admin/login", app.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("form");
    let cookie = form.headers()[header::SET_COOKIE]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(cookie.contains("Secure"), "{cookie}");
    let nonce = cookie
        .split(';')
        .next()
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_owned())
        .expect("nonce");
    let signed_in = client
        .post(format!("{}/admin/login", app.base))
        .header(header::COOKIE, format!("sb_login={nonce}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={nonce}&login=admin&password={}&next=%2Fadmin",
            common::ADMIN_PASSWORD
        ))
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let session = signed_in
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.starts_with("sb_session="))
        .expect("a session cookie")
        .to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(session.contains(flag), "{session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
}

async fn the_audit_log_filters_pages_and_escapes(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let name = "<script>alert('dept')</script>";
    let department = app.create_department(None, name, "team").await;
    // Enough entries for a second page.
    for index in 0..60 {
        app.create_department(Some(&department), &format!("team {index}"), "team")
            .await;
    }
    let renamed = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/departments/{department}"),
            Some(json!({"name": "Sales & <b>Marketing</b>"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);

    let browser = Browser::start("en").await;
    browser.goto(&format!("{}/admin/audit", app.base)).await;
    browser.sign_in("admin", common::ADMIN_PASSWORD).await;
    // Back where the person was going, with the newest entry first; the navigation marks it.
    browser.wait_for_path("/admin/audit").await;
    assert_eq!(browser.text(".nav-link.active").await, "Audit log");
    let first_action = browser
        .text(".audit-table > tbody > tr:first-child code")
        .await;
    assert_eq!(first_action, "department.update");
    // Names are text: shown as typed, never as markup.
    assert_eq!(
        browser
            .text(".audit-table > tbody > tr:first-child .entity-name")
            .await,
        "Sales & <b>Marketing</b>"
    );
    browser
        .find(".audit-table > tbody > tr:first-child summary")
        .await
        .click()
        .await
        .expect("open");
    assert_eq!(
        browser
            .text(".audit-table > tbody > tr:first-child td.before")
            .await,
        name
    );
    let injected = browser
        .client
        .execute(
            "return document.querySelectorAll('.content script, .content b').length",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(injected, json!(0));

    // Filtering by source swaps the results (htmx) and keeps the URL shareable.
    browser
        .find("#f-source option[value=portal]")
        .await
        .click()
        .await
        .expect("choose");
    browser.wait_for_path("/admin/audit?source=portal").await;
    let empty = browser.text("#audit-results .empty-title").await;
    assert_eq!(empty, "No entries match these filters.");
    // A bad filter is named, not an error page.
    browser
        .goto(&format!("{}/admin/audit?entity_id=nope", app.base))
        .await;
    let error = browser
        .text("#audit-results .alert[data-field=entity_id]")
        .await;
    assert!(error.contains("not a valid id"), "{error}");

    // Signing out is audited with source `portal`; an entity's history is one click away.
    browser
        .find(".topbar form button")
        .await
        .click()
        .await
        .expect("sign out");
    browser.wait_for_path("/admin/login").await;
    browser.sign_in("admin", common::ADMIN_PASSWORD).await;
    browser.wait_for_path("/admin").await;
    browser
        .goto(&format!(
            "{}/admin/audit?source=portal&actor=admin",
            app.base
        ))
        .await;
    assert_eq!(
        browser
            .text(".audit-table > tbody > tr:first-child code")
            .await,
        "account.revoke_tokens"
    );
    assert_eq!(browser.find_all_count(".audit-table > tbody > tr").await, 1);
    browser
        .goto(&format!("{}/admin/audit?entity_id={department}", app.base))
        .await;
    assert_eq!(browser.find_all_count(".audit-table > tbody > tr").await, 2);

    // Paging backwards by entry id.
    browser.goto(&format!("{}/admin/audit", app.base)).await;
    assert_eq!(
        browser.find_all_count(".audit-table > tbody > tr").await,
        50
    );
    browser.find("#older").await.click().await.expect("older");
    browser.wait_for_path("/admin/audit?before=").await;
    assert!(browser.find_all_count(".audit-table > tbody > tr").await >= 12);
}

async fn the_api_reference_renders_the_document(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let browser = Browser::start("zh-CN").await;
    browser.goto(&format!("{}/api/docs", app.base)).await;
    assert_eq!(
        browser.text("h1").await.split(' ').next(),
        Some("Switchboard")
    );
    assert_eq!(browser.text(".docs-nav .nav-heading").await, "接口");
    let login = browser.text("#op-post-api-v1-auth-login .op-path").await;
    assert_eq!(login, "/api/v1/auth/login");
    // The body names its schema, linked to the schema's fields.
    let body = browser
        .find("#op-post-api-v1-auth-login a[href='#schema-LoginRequest']")
        .await;
    assert_eq!(body.text().await.expect("text"), "LoginRequest");
    body.click().await.expect("link");
    assert!(
        browser
            .text("#schema-LoginRequest")
            .await
            .contains("password")
    );
}

/// The logins README.md lists for trying the portal have the powers it says.
async fn the_demo_personas_have_the_documented_powers(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let readme = include_str!("../README.md");
    for (login, powers) in [
        ("liugang", json!(["directory", "access"])),
        ("kate.king", json!(["directory"])),
        ("yuanyuhan", json!(["access"])),
        ("shansiyuan", json!([])),
    ] {
        assert!(
            readme.contains(&format!("`{login}`")),
            "README lists {login}"
        );
        let reply = app
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"login": login, "password": switchboard::demo::DEMO_PASSWORD})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{login}: {}", reply.body);
        assert_eq!(reply.body["admin_powers"], powers, "{login}");
    }
}

crate::on_both_backends!(
    the_demo_personas_have_the_documented_powers,
    the_audit_log_filters_pages_and_escapes,
    the_api_reference_renders_the_document,
    sign_in_lands_on_the_dashboard,
    an_ended_session_signs_in_again_and_returns,
    forms_without_the_csrf_token_are_refused,
    people_without_admin_powers_see_no_access,
    names_with_markup_render_as_text,
    chinese_and_english_both_render,
    every_answer_carries_the_security_headers,
);
