//! The employee web client (`/app`) in headless Chromium, against the demo company: signing in
//! and out, the contact list kept current by deltas (live after an HR edit, and a reload pulls a
//! delta, never a snapshot — counted on the server's /metrics), search by pinyin initials, a
//! person's card without masked fields, both languages. On SQLite and PostgreSQL.

mod cards;
mod chat;
mod proxy;
mod screenshots;

use std::time::Duration;

use crate::common;
use crate::im_support::{Person, department_staff, employees};

use common::{Backend, Storage, TestApp, browser::Browser};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Opens the client and signs a demo employee in; waits for the client to be drawn.
pub async fn open_signed_in(app: &TestApp, lang: &str, person: &Person) -> Browser {
    let browser = Browser::start(lang).await;
    browser.goto(&format!("{}/app", app.base)).await;
    browser.sign_in(&person.login, "demo1234").await;
    browser.find("#app-shell").await;
    browser
}

/// Runs `expr` in the page until it is true (20 s at most).
pub async fn until(browser: &Browser, expr: &str, what: &str) {
    let script = format!("return Boolean(({expr}));");
    for _ in 0..200 {
        if browser.client.execute(&script, vec![]).await.ok() == Some(json!(true)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what} ({expr})");
}

/// The page's visible text contains `text`.
pub async fn until_text(browser: &Browser, css: &str, text: &str) {
    let expr = format!(
        "[...document.querySelectorAll({css})].some(e => e.innerText.includes({text}))",
        css = json!(css),
        text = json!(text)
    );
    until(browser, &expr, &format!("{css} shows {text}")).await;
}

/// A value the page computes.
pub async fn eval(browser: &Browser, expr: &str) -> Value {
    browser
        .client
        .execute(&format!("return {expr};"), vec![])
        .await
        .expect("script")
}

/// `switchboard_contacts_sync_total{answer="…"}` from /metrics.
async fn contact_syncs(app: &TestApp, answer: &str) -> u64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let key = format!("switchboard_contacts_sync_total{{answer=\"{answer}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&key))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /metrics"))
}

/// A demo colleague of the department, by id, as the admin API lists them (all fields).
async fn colleague(app: &TestApp, department: &str, id: &str) -> Value {
    let (_, staff) = department_staff(app, department).await;
    staff
        .into_iter()
        .find(|s| s["id"] == id)
        .expect("the colleague")
}

async fn signs_in_finds_a_colleague_and_signs_out(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = employees(&app, "后端组", 2).await;
    let (me, other) = (&people[0], &people[1]);
    let them = colleague(&app, "后端组", &other.id).await;

    let browser = Browser::start("en").await;
    browser.goto(&format!("{}/app", app.base)).await;
    browser.sign_in(&me.login, "not the password").await;
    until_text(&browser, "#login-error", "Wrong login or password.").await;
    browser
        .find("#password")
        .await
        .send_keys("demo1234")
        .await
        .expect("type");
    browser
        .find("#sign-in")
        .await
        .click()
        .await
        .expect("submit");
    browser.find("#app-shell").await;

    // Search by pinyin initials, from the browser's own copy of the list.
    browser.goto(&format!("{}/app#/contacts", app.base)).await;
    let initials = them["pinyin_initials"].as_str().expect("initials");
    browser
        .find("#contact-search")
        .await
        .send_keys(initials)
        .await
        .expect("type");
    let name = them["display_name"].as_str().expect("name");
    until_text(&browser, "#search-results", name).await;
    browser
        .find(&format!("#search-results [data-staff='{}']", other.id))
        .await
        .click()
        .await
        .expect("open the card");

    // The card shows what the employee may see; the phone (masked for employees) is not on the
    // page because it never arrived.
    // (Read in one go: the card is redrawn when presence arrives.)
    until_text(&browser, "#card-name", name).await;
    let card = eval(&browser, "document.querySelector('#person-card').innerText").await;
    let card = card.as_str().expect("card text");
    let email = them["emails"][0].as_str().expect("email");
    assert!(card.contains(email), "{card}");
    let phone = them["phones"][0].as_str().expect("HR sees a phone");
    let page = eval(&browser, "document.documentElement.outerHTML").await;
    assert!(
        !page.as_str().unwrap_or("").contains(phone),
        "the phone is masked"
    );
    browser.find("#card-message").await;

    // The token is the page's, not a cookie's: nothing authenticates by cookie.
    assert_eq!(
        eval(&browser, "document.cookie.includes('v1.')").await,
        json!(false)
    );
    let token = eval(
        &browser,
        "JSON.parse(localStorage.getItem('switchboard.session')).token",
    )
    .await;
    let token = token.as_str().expect("token").to_owned();
    let db_name = format!("switchboard-{}", me.id);
    let databases = "(window.__dbs = null, indexedDB.databases().then(l => window.__dbs = l.map(d => d.name)), true)";
    until(&browser, databases, "list databases").await;
    until(
        &browser,
        &format!("window.__dbs && window.__dbs.includes({})", json!(db_name)),
        "the contact copy is stored",
    )
    .await;

    // Signing out revokes the token and forgets the copy of the contact list.
    browser.find("#me").await.click().await.expect("menu");
    browser
        .find("#sign-out")
        .await
        .click()
        .await
        .expect("sign out");
    browser.find("#sign-in").await;
    let me_call = app
        .call(Method::GET, "/api/v1/auth/me", Some(&token), None)
        .await;
    assert_eq!(me_call.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        eval(&browser, "localStorage.getItem('switchboard.session')").await,
        Value::Null
    );
    until(&browser, databases, "list databases").await;
    until(
        &browser,
        &format!("window.__dbs && !window.__dbs.includes({})", json!(db_name)),
        "the copy is gone",
    )
    .await;
}

async fn hr_edits_arrive_live_and_a_reload_pulls_only_a_delta(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = employees(&app, "后端组", 2).await;
    let (me, other) = (&people[0], &people[1]);
    let browser = open_signed_in(&app, "en", me).await;
    browser.goto(&format!("{}/app#/contacts", app.base)).await;
    // One's own department is open: the colleague is in the tree.
    let row = format!("#org-tree [data-staff='{}']", other.id);
    browser.find(&row).await;
    let snapshots = contact_syncs(&app, "snapshot").await;
    assert_eq!(snapshots, 1, "signing in took one snapshot");

    // HR renames the colleague: the open client shows it without a reload.
    let renamed = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/staff/{}", other.id),
            Some(json!({"display_name": "韩梅梅 Live"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    until_text(&browser, &row, "韩梅梅 Live").await;

    // With the page closed, HR changes the title; the reopened client pulls a delta.
    browser.goto("about:blank").await;
    let deltas = contact_syncs(&app, "delta").await;
    let retitled = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/staff/{}", other.id),
            Some(json!({"title": "架构师 Architect"})),
        )
        .await;
    assert_eq!(retitled.status, StatusCode::OK, "{}", retitled.body);
    browser.goto(&format!("{}/app#/contacts", app.base)).await;
    until_text(&browser, &row, "架构师 Architect").await;
    assert_eq!(
        contact_syncs(&app, "snapshot").await,
        snapshots,
        "no second snapshot"
    );
    assert!(
        contact_syncs(&app, "delta").await > deltas,
        "a delta was pulled"
    );
}

async fn both_languages_render(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = employees(&app, "后端组", 1).await;

    let zh = Browser::start("zh-CN").await;
    zh.goto(&format!("{}/", app.base)).await;
    zh.find("#card-app")
        .await
        .click()
        .await
        .expect("the landing page links the client");
    zh.wait_for_path("/app").await;
    assert_eq!(zh.text("#sign-in").await, "登录");
    zh.sign_in(&people[0].login, "demo1234").await;
    assert_eq!(zh.text("#nav-contacts").await, "通讯录");
    assert_eq!(
        eval(&zh, "document.documentElement.lang").await,
        json!("zh-CN")
    );

    let en = open_signed_in(&app, "en", &people[0]).await;
    assert_eq!(en.text("#nav-contacts").await, "Contacts");
    assert_eq!(en.text("#nav-chats").await, "Chats");
    // The switch goes through the server (a cookie) and comes back to the same place.
    en.find("#me").await.click().await.expect("menu");
    en.find("#lang-zh").await.click().await.expect("switch");
    until_text(&en, "#nav-contacts", "通讯录").await;
}

crate::on_both_backends!(
    signs_in_finds_a_colleague_and_signs_out,
    hr_edits_arrive_live_and_a_reload_pulls_only_a_delta,
    both_languages_render,
);
