//! IT's chat-group and announcement pages in a real browser (headless Chromium) and over plain
//! HTTP, with real WebSocket clients of the members: a group found, handed over, a member
//! removed (their client gets the `member.removed` notice), the group dissolved; an
//! announcement that reaches a department chat's members and nobody else, and one to
//! everyone's system notices; HR refused, forms without their CSRF token refused; the JSON twin
//! of the listing. On SQLite and PostgreSQL.

use crate::common;
use crate::im_support;
use crate::portal_it::Portal;

use common::{Backend, Storage, TestApp, browser::Browser};
use im_support::{Client, Person, department_staff, employees, text_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn sign_in_as_admin(app: &TestApp) -> Browser {
    let browser = Browser::start("en").await;
    browser.goto(&format!("{}/admin/login", app.base)).await;
    browser.sign_in("admin", common::ADMIN_PASSWORD).await;
    browser.wait_for_path("/admin").await;
    browser
}

/// A group made by `owner` over the API; its id.
async fn group(app: &TestApp, owner: &Person, name: &str, members: &[&Person]) -> String {
    let ids: Vec<&str> = members.iter().map(|p| p.id.as_str()).collect();
    let created = app
        .call(
            Method::POST,
            "/api/v1/im/groups",
            Some(&owner.token),
            Some(json!({"name": name, "members": ids})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["conversation"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// The next message of `conversation` a client receives (others are skipped).
async fn message_in(client: &mut Client, conversation: &str) -> Value {
    loop {
        let message = client.message().await;
        if message["conversation"] == conversation {
            return message;
        }
    }
}

/// The portal audit lines about conversations.
async fn audit_actions(app: &TestApp) -> Vec<Value> {
    let audit = app
        .admin(
            Method::GET,
            "/api/v1/admin/audit?entity_kind=conversation&source=portal",
            None,
        )
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    audit.body.as_array().expect("entries").clone()
}

async fn it_manages_a_group_in_the_browser(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let p = employees(&app, "Backend", 3).await;
    let (owner, heir, leaver) = (&p[0], &p[1], &p[2]);
    let id = group(&app, owner, "季度规划 Planning", &[heir, leaver]).await;
    group(&app, owner, "Lunch club", &[heir]).await;
    let (mut leaving, _) = Client::online(&app, leaver, "d").await;

    // Found by a part of its name (the other group is not listed).
    let browser = sign_in_as_admin(&app).await;
    browser.goto(&format!("{}/admin/groups", app.base)).await;
    assert!(browser.text("#group-table").await.contains("Lunch club"));
    browser
        .find("#group-q")
        .await
        .send_keys("planning")
        .await
        .expect("type");
    for _ in 0..100 {
        if browser.find_all_count("#group-table tbody tr").await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let table = browser.text("#group-table").await;
    assert!(
        table.contains("季度规划 Planning") && !table.contains("Lunch club"),
        "{table}"
    );
    assert!(browser.text("#group-total").await.contains('1'));
    browser
        .find(&format!("tr[data-id='{id}'] .group-link"))
        .await
        .click()
        .await
        .expect("open");
    browser.wait_for_path(&format!("/admin/groups/{id}")).await;
    let role = |login: &str| format!("tr[data-login='{login}'] [data-role]");
    assert_eq!(browser.text(&role(&owner.login)).await, "Owner");

    // A new owner: the former one becomes an admin.
    browser
        .find(&format!("tr[data-login='{}'] .make-owner", heir.login))
        .await
        .click()
        .await
        .expect("make owner");
    browser
        .wait_for_path(&format!("/admin/groups/{id}?done=owner"))
        .await;
    assert_eq!(browser.text(&role(&heir.login)).await, "Owner");
    assert_eq!(browser.text(&role(&owner.login)).await, "Admin");
    let update = message_in(&mut leaving, &id).await;
    assert_eq!(update["body"]["event"], "member.updated", "{update}");

    // Removed (after the page asks): the member's own client hears of it.
    browser
        .find(&format!("tr[data-login='{}'] .remove-member", leaver.login))
        .await
        .click()
        .await
        .expect("remove");
    browser.client.accept_alert().await.expect("confirm");
    browser
        .wait_for_path(&format!("/admin/groups/{id}?done=removed"))
        .await;
    let removed = message_in(&mut leaving, &id).await;
    assert_eq!(removed["body"]["event"], "member.removed", "{removed}");
    assert_eq!(removed["body"]["staff"], leaver.id.as_str());
    assert!(removed["sender"].is_null(), "sent by the system: {removed}");
    assert_eq!(
        browser
            .find_all_count(&format!("tr[data-login='{}']", leaver.login))
            .await,
        0
    );

    // Dissolved: gone from the list, readable through the API, refused to write in.
    browser
        .find("#dissolve-group")
        .await
        .click()
        .await
        .expect("dissolve");
    browser.client.accept_alert().await.expect("confirm");
    browser.wait_for_path("/admin/groups?done=dissolved").await;
    assert!(browser.text("#notice").await.contains("dissolved"));
    assert!(!browser.text("#group-results").await.contains("Planning"));
    let info = app
        .admin(Method::GET, &format!("/api/v1/admin/im/groups/{id}"), None)
        .await;
    assert_eq!(info.body["dissolved"], true, "{}", info.body);
    let (mut owning, _) = Client::online(&app, owner, "d").await;
    assert_eq!(owning.text(&id, "late", "anyone?").await["type"], "error");

    let entries = audit_actions(&app).await;
    for action in [
        "conversation.owner",
        "conversation.remove_member",
        "conversation.dissolve",
    ] {
        assert!(
            entries.iter().any(|e| e["action"] == action
                && e["actor"] == "admin"
                && e["entity_id"] == id.as_str()),
            "{action}: {entries:?}"
        );
    }
    app.stop().await;
}

/// The department chat of a department, as its member's client lists it.
fn department_chat(done: &Value, department: &str) -> (String, i64) {
    let chat = done["conversations"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["kind"] == "department" && c["department"] == department)
        .unwrap_or_else(|| panic!("no chat of {department}: {done}"));
    (
        chat["id"].as_str().expect("id").to_owned(),
        chat["members"].as_i64().expect("members"),
    )
}

async fn an_announcement_reaches_one_department(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let (department, _) = department_staff(&app, "Backend").await;
    let member = employees(&app, "Backend", 1).await.remove(0);
    let outsider = employees(&app, "Frontend", 1).await.remove(0);
    let (mut inside, done) = Client::online(&app, &member, "d").await;
    let (chat, members) = department_chat(&done, &department);
    let (mut outside, _) = Client::online(&app, &outsider, "d").await;

    let browser = sign_in_as_admin(&app).await;
    browser
        .goto(&format!("{}/admin/announcements", app.base))
        .await;
    // Nothing typed: refused next to the fields, nothing sent.
    browser
        .find("#preview-announcement")
        .await
        .click()
        .await
        .expect("preview");
    browser.find("#error-text").await;
    browser.find("#error-department").await;
    browser
        .find("#announce-department")
        .await
        .select_by_value(&department)
        .await
        .expect("department");
    let text = "系统维护通知: the build servers restart at 22:00";
    browser
        .find("#announce-text")
        .await
        .send_keys(text)
        .await
        .expect("text");
    browser
        .find("#preview-announcement")
        .await
        .click()
        .await
        .expect("preview");
    // The preview: how many people, before anything is sent.
    assert_eq!(
        browser.text("#reach-count").await,
        members.to_string(),
        "the chat's members"
    );
    assert_eq!(browser.text("#announce-preview").await, text);
    browser
        .find("#send-announcement")
        .await
        .click()
        .await
        .expect("send");
    browser
        .wait_for_path("/admin/announcements?done=sent")
        .await;
    assert!(browser.text("#notice").await.contains(&members.to_string()));

    let got = message_in(&mut inside, &chat).await;
    assert_eq!(text_of(&got), text);
    assert!(got["sender"].is_null(), "from the system: {got}");
    // The outsider's client got nothing of it, live or in a fresh sync.
    let live = outside.drain(std::time::Duration::from_millis(300)).await;
    assert!(
        !live.iter().any(|f| text_of(f) == text),
        "pushed to a non-member: {live:?}"
    );
    let (synced, _) = outside.sync(json!({})).await;
    assert!(!synced.iter().any(|m| text_of(m) == text));

    let entries = audit_actions(&app).await;
    let line = entries
        .iter()
        .find(|e| e["action"] == "conversation.announce")
        .unwrap_or_else(|| panic!("{entries:?}"));
    assert_eq!(line["actor"], "admin");
    assert_eq!(line["after"]["department"], department.as_str());
    assert_eq!(line["after"]["people"], members);
    app.stop().await;
}

/// The preview's hidden `key` in a page.
fn key_of(html: &str) -> String {
    html.split("name=\"key\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a confirmation key")
        .to_owned()
}

/// To everyone: each person once, in their system notices; sending the same confirmation
/// twice stores nothing new.
async fn an_announcement_to_everyone_over_http(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let person = employees(&app, "Frontend", 1).await.remove(0);
    let (mut client, _) = Client::online(&app, &person, "d").await;
    let portal = Portal::open(&app, &app.admin_token).await;
    let text = "Office closed on Friday 周五放假";
    let preview = portal
        .post(
            "/admin/announcements/preview",
            &[("audience", "everyone"), ("text", text)],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.html);
    let key = key_of(&preview.html);
    let staff = app
        .admin(
            Method::GET,
            "/api/v1/admin/staff?status=active&limit=1",
            None,
        )
        .await;
    let active = staff.body["total"].as_i64().expect("total");
    assert!(
        preview
            .html
            .contains(&format!("id=\"reach-count\">{active}<")),
        "every active person"
    );
    for _ in 0..2 {
        let sent = portal
            .post(
                "/admin/announcements/send",
                &[("audience", "everyone"), ("text", text), ("key", &key)],
            )
            .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
    }
    let got = client.message().await;
    assert_eq!(text_of(&got), text, "{got}");
    let (_, done) = client.sync(json!({})).await;
    let notices: Vec<&Value> = done["conversations"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|c| c["kind"] == "system")
        .collect();
    assert_eq!(notices.len(), 1, "{done}");
    assert_eq!(notices[0]["id"], got["conversation"]);
    assert_eq!(notices[0]["last_seq"], 1, "stored once: {}", notices[0]);
    app.stop().await;
}

async fn hr_and_forged_forms_are_refused(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let p = employees(&app, "Backend", 2).await;
    let id = group(&app, &p[0], "Keep me", &[&p[1]]).await;
    let kate = app
        .login("kate.king", switchboard::demo::DEMO_PASSWORD)
        .await;
    let hr = Portal::open(&app, &kate).await;
    let dashboard = hr.get("/admin").await;
    assert!(!dashboard.html.contains("href=\"/admin/groups\""));
    assert!(!dashboard.html.contains("href=\"/admin/announcements\""));
    for path in [
        "/admin/groups".to_owned(),
        format!("/admin/groups/{id}"),
        "/admin/announcements".to_owned(),
    ] {
        assert_eq!(hr.get(&path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    for path in [
        format!("/admin/groups/{id}/dissolve"),
        format!("/admin/groups/{id}/remove"),
        "/admin/announcements/send".to_owned(),
    ] {
        let refused = hr
            .post(
                &path,
                &[
                    ("staff", p[1].id.as_str()),
                    ("audience", "everyone"),
                    ("text", "hi"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
    }
    let api = app
        .call(Method::GET, "/api/v1/admin/im/groups", Some(&kate), None)
        .await;
    assert_eq!(api.status, StatusCode::FORBIDDEN);

    // IT's session, without the CSRF token.
    let it = Portal::open(&app, &app.admin_token).await;
    let forged = it
        .client
        .post(format!("{}/admin/groups/{id}/dissolve", app.base))
        .header(reqwest::header::COOKIE, &it.cookie)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body("confirm=1")
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let info = app
        .admin(Method::GET, &format!("/api/v1/admin/im/groups/{id}"), None)
        .await;
    assert_eq!(info.body["dissolved"], false, "{}", info.body);
    assert_eq!(info.body["members"].as_array().map(Vec::len), Some(2));
    assert!(audit_actions(&app).await.is_empty());
    app.stop().await;
}

async fn the_group_listing_api_pages_and_searches(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let p = employees(&app, "Backend", 3).await;
    let alpha = group(&app, &p[0], "Alpha team", &[&p[1], &p[2]]).await;
    let second = group(&app, &p[1], "alpha_2 研发", &[&p[0]]).await;
    group(&app, &p[2], "Beta", &[]).await;
    let list = |query: &str| {
        let app = &app;
        let path = format!("/api/v1/admin/im/groups{query}");
        async move { app.admin(Method::GET, &path, None).await }
    };
    let all = list("").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(all.body["total"], 3);
    let found = list("?q=ALPHA").await;
    assert_eq!(found.body["total"], 2, "{}", found.body);
    // Newest first.
    assert_eq!(found.body["items"][0]["id"], second.as_str());
    assert_eq!(found.body["items"][1]["id"], alpha.as_str());
    let first = &found.body["items"][1];
    assert_eq!(first["name"], "Alpha team");
    assert_eq!(first["owner"], p[0].id.as_str());
    assert_eq!(first["members"], 3);
    assert!(first["created_at"].as_i64().is_some_and(|t| t > 0));
    assert!(first["last_activity"].as_i64().is_some(), "{first}");
    assert!(first["owner_name"].as_str().is_some_and(|n| !n.is_empty()));
    let page = list("?q=alpha&limit=1&offset=1").await;
    assert_eq!(page.body["total"], 2);
    assert_eq!(page.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page.body["items"][0]["id"], alpha.as_str());
    // LIKE's own characters are matched literally.
    assert_eq!(list("?q=a_2").await.body["total"], 1);
    assert_eq!(list("?q=%25").await.body["total"], 0);
    assert_eq!(list("?limit=0").await.status, StatusCode::BAD_REQUEST);

    let one = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/im/groups/{alpha}"),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["members"][0]["role"], "owner");
    // A direct conversation is nobody's group.
    let direct = app
        .call(
            Method::POST,
            "/api/v1/im/direct",
            Some(&p[0].token),
            Some(json!({"staff": p[1].id})),
        )
        .await;
    let direct = direct.body["conversation"].as_str().expect("direct chat");
    let refused = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/im/groups/{direct}"),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

crate::on_both_backends!(
    it_manages_a_group_in_the_browser,
    an_announcement_reaches_one_department,
    an_announcement_to_everyone_over_http,
    hr_and_forged_forms_are_refused,
    the_group_listing_api_pages_and_searches,
);
