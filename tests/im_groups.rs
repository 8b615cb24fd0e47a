//! Groups (roles, mute, leave, dissolve), department chats following the directory,
//! unauthorised sends, files with access checks, and search (Chinese too). On SQLite and
//! PostgreSQL.

use crate::common;
use crate::im_support;

use std::time::Duration;

use common::{Backend, Storage, TestApp};
use im_support::{Client, Person, department_staff, employees, text_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    who: &Person,
    body: Option<Value>,
) -> common::Reply {
    app.call(method, path, Some(&who.token), body).await
}

async fn history(app: &TestApp, person: &Person, conversation: &str) -> Vec<Value> {
    let reply = call(
        app,
        Method::GET,
        &format!("/api/v1/im/conversations/{conversation}/messages?after=0&limit=500"),
        person,
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body.as_array().expect("list").clone()
}

fn event(message: &Value) -> &str {
    message["body"]["event"].as_str().unwrap_or("")
}

async fn group_roles_and_mute(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let p = employees(&app, "Backend", 4).await;
    let (owner, admin, member, late) = (&p[0], &p[1], &p[2], &p[3]);
    let created = call(&app, Method::POST, "/api/v1/im/groups", owner,
        Some(json!({"name": "项目组 Project", "announcement": "be kind", "members": [admin.id, member.id]}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let g = created.body["conversation"]
        .as_str()
        .expect("id")
        .to_owned();
    let base = format!("/api/v1/im/groups/{g}");
    let (mut m, _) = Client::online(&app, member, "d").await;

    // Only the owner hands out roles; an admin manages members below them.
    let r = call(
        &app,
        Method::PUT,
        &format!("{base}/members/{}", admin.id),
        member,
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        &app,
        Method::PUT,
        &format!("{base}/members/{}", admin.id),
        owner,
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = call(
        &app,
        Method::POST,
        &format!("{base}/members"),
        member,
        Some(json!({"staff": [late.id]})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::NO_CONTENT,
        "any member may invite: {}",
        r.body
    );
    let r = call(
        &app,
        Method::DELETE,
        &format!("{base}/members/{}", admin.id),
        member,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        &app,
        Method::DELETE,
        &format!("{base}/members/{}", owner.id),
        admin,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        &app,
        Method::DELETE,
        &format!("{base}/members/{}", late.id),
        admin,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);

    // Mute one member, then everyone but owner and admins.
    let until = chrono::Utc::now().timestamp_millis() + 60_000;
    let r = call(
        &app,
        Method::PUT,
        &format!("{base}/members/{}", member.id),
        admin,
        Some(json!({"muted_until": until})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let refused = m.text(&g, "x1", "can I talk?").await;
    assert_eq!(refused["code"], "muted", "{refused}");
    let r = call(
        &app,
        Method::PUT,
        &format!("{base}/members/{}", member.id),
        admin,
        Some(json!({"muted_until": 0})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(m.text(&g, "x2", "now I can").await["type"], "ack");
    let r = call(
        &app,
        Method::PATCH,
        &base,
        member,
        Some(json!({"mute_all": true})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        &app,
        Method::PATCH,
        &base,
        admin,
        Some(json!({"mute_all": true, "name": "静音 Quiet"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(m.text(&g, "x3", "hello?").await["code"], "muted");
    let (mut a, _) = Client::online(&app, admin, "d").await;
    assert_eq!(a.text(&g, "y1", "admins may speak").await["type"], "ack");
    // @all: admins yes, members no.
    a.send(
        json!({"type": "send", "client_msg_id": "y2", "conversation": g, "kind": "text",
                  "body": {"text": "@all"}, "mention_all": true}),
    )
    .await;
    assert_eq!(a.answer_for("y2").await["type"], "ack");
    let r = call(
        &app,
        Method::PATCH,
        &base,
        owner,
        Some(json!({"mute_all": false})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    m.send(
        json!({"type": "send", "client_msg_id": "x4", "conversation": g, "kind": "text",
                  "body": {"text": "@all"}, "mention_all": true}),
    )
    .await;
    assert_eq!(m.answer_for("x4").await["code"], "forbidden");

    // Members learn of every change, in order, from notices.
    let events: Vec<String> = history(&app, member, &g)
        .await
        .iter()
        .map(|x| event(x).to_owned())
        .collect();
    for expected in [
        "group.created",
        "member.updated",
        "members.added",
        "member.removed",
        "mute_all",
        "group.renamed",
    ] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} in {events:?}"
        );
    }
    // The removed member no longer reads the group.
    let r = call(
        &app,
        Method::GET,
        &format!("/api/v1/im/conversations/{g}/messages"),
        late,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The owner leaves: the admin inherits; the group goes on.
    let r = call(&app, Method::POST, &format!("{base}/leave"), owner, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let info = call(
        &app,
        Method::GET,
        &format!("/api/v1/im/conversations/{g}"),
        admin,
        None,
    )
    .await;
    let roles: Vec<(String, String)> = info.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|x| {
            (
                x["staff"].as_str().unwrap_or("").to_owned(),
                x["role"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        roles.contains(&(admin.id.clone(), "owner".into())),
        "{roles:?}"
    );
    // Dissolved: readable, but no more messages.
    let r = call(&app, Method::DELETE, &base, member, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(&app, Method::DELETE, &base, admin, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(m.text(&g, "x5", "anyone?").await["code"], "conflict");
    assert_eq!(
        event(history(&app, member, &g).await.last().expect("notice")),
        "group.dissolved"
    );
    app.stop().await;
}

async fn department_chat_follows_the_directory(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let (backend_id, _) = department_staff(&app, "Backend").await;
    let (frontend_id, _) = department_staff(&app, "Frontend").await;
    let mover = employees(&app, "Backend", 1).await.remove(0);
    let stayer = employees(&app, "Backend", 2).await.remove(1);
    let chat = |dept: &str, who: &Person| {
        let (app, dept, who) = (&app, dept.to_owned(), who.clone());
        async move {
            call(
                app,
                Method::GET,
                &format!("/api/v1/im/departments/{dept}/conversation"),
                &who,
                None,
            )
            .await
        }
    };
    let backend_chat = chat(&backend_id, &mover).await.body["conversation"]
        .as_str()
        .expect("chat")
        .to_owned();
    let (mut moving, _) = Client::online(&app, &mover, "d").await;
    let (mut staying, _) = Client::online(&app, &stayer, "d").await;
    assert_eq!(
        moving.text(&backend_chat, "b1", "大家好").await["type"],
        "ack"
    );
    assert_eq!(text_of(&staying.message().await), "大家好");

    // HR moves the person to Frontend (an LDAP move takes the same path).
    let r = app
        .admin(
            Method::PUT,
            &format!("/api/v1/admin/staff/{}/departments", mover.id),
            Some(json!([{"department_id": frontend_id, "primary": true}])),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let left = staying.message().await;
    assert_eq!(event(&left), "members.left", "{left}");
    assert_eq!(left["body"]["staff"], json!([mover.id]));
    // The mover hears both sides: they left one chat and joined the other.
    let mut heard = Vec::new();
    while heard.len() < 2 {
        let m = moving.message().await;
        heard.push((
            m["conversation"].as_str().unwrap_or("").to_owned(),
            event(&m).to_owned(),
        ));
    }
    let frontend_chat = chat(&frontend_id, &mover).await;
    assert_eq!(
        frontend_chat.status,
        StatusCode::OK,
        "{}",
        frontend_chat.body
    );
    let frontend_chat = frontend_chat.body["conversation"]
        .as_str()
        .expect("chat")
        .to_owned();
    assert!(
        heard.contains(&(backend_chat.clone(), "members.left".into())),
        "{heard:?}"
    );
    assert!(
        heard.contains(&(frontend_chat.clone(), "members.joined".into())),
        "{heard:?}"
    );
    assert_eq!(
        moving.text(&backend_chat, "b2", "still here?").await["code"],
        "not_member"
    );
    assert_eq!(
        moving.text(&frontend_chat, "f1", "hi frontend").await["type"],
        "ack"
    );
    // New members read from when they joined.
    let seen = history(&app, &mover, &frontend_chat).await;
    assert_eq!(event(&seen[0]), "members.joined");

    // A renamed department renames its chat; a new department gets one.
    let r = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/departments/{frontend_id}"),
            Some(json!({"name": "前端 Web"})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let renamed = moving.message().await;
    assert_eq!(
        (event(&renamed), renamed["body"]["name"].as_str()),
        ("department.renamed", Some("前端 Web"))
    );
    let fresh = app
        .create_department(Some(&frontend_id), "新组 New team", "team")
        .await;
    let r = app
        .admin(
            Method::PUT,
            &format!("/api/v1/admin/staff/{}/departments", mover.id),
            Some(json!([{"department_id": fresh, "primary": true}])),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fresh_chat = chat(&fresh, &mover).await;
    assert_eq!(fresh_chat.status, StatusCode::OK, "{}", fresh_chat.body);
    app.stop().await;
}

async fn unauthorised_sends_store_nothing(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let insiders = employees(&app, "SRE", 2).await;
    let outsider = employees(&app, "Sales", 1).await.remove(0);
    let created = call(
        &app,
        Method::POST,
        "/api/v1/im/groups",
        &insiders[0],
        Some(json!({"name": "ops", "members": [insiders[1].id]})),
    )
    .await;
    let g = created.body["conversation"]
        .as_str()
        .expect("id")
        .to_owned();
    let (mut out, _) = Client::online(&app, &outsider, "d").await;
    assert_eq!(out.text(&g, "n1", "let me in").await["code"], "not_member");
    assert_eq!(
        history(&app, &insiders[0], &g).await.len(),
        1,
        "only the creation notice"
    );
    let r = call(
        &app,
        Method::POST,
        &format!("/api/v1/im/conversations/{g}/messages"),
        &outsider,
        Some(json!({"client_msg_id": "n2", "kind": "text", "body": {"text": "via REST"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Executives are hidden from employees by a deny rule: they cannot be messaged...
    let (_, executives) = department_staff(&app, "Executive").await;
    let ceo = executives
        .iter()
        .find(|s| s["staff_type"] == "executive")
        .expect("an executive");
    let ceo = Person {
        id: ceo["id"].as_str().expect("id").to_owned(),
        login: ceo["login"].as_str().expect("login").to_owned(),
        token: app
            .login(ceo["login"].as_str().expect("login"), "demo1234")
            .await,
    };
    out.send(json!({"type": "send", "client_msg_id": "n3", "to": ceo.id, "kind": "text", "body": {"text": "hi boss"}})).await;
    let refused = out.answer_for("n3").await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    let r = call(
        &app,
        Method::POST,
        "/api/v1/im/direct",
        &outsider,
        Some(json!({"staff": ceo.id})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // ...until the executive writes first; then the employee may answer.
    let (mut boss, _) = Client::online(&app, &ceo, "d").await;
    boss.send(json!({"type": "send", "client_msg_id": "c1", "to": outsider.id, "kind": "text", "body": {"text": "got a minute?"}})).await;
    let ack = boss.answer_for("c1").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let direct = ack["conversation"].as_str().expect("id").to_owned();
    assert_eq!(text_of(&out.message().await), "got a minute?");
    assert_eq!(out.text(&direct, "n4", "sure").await["type"], "ack");
    // Malformed sends store nothing either.
    out.send(json!({"type": "send", "client_msg_id": "n5", "conversation": direct, "kind": "system", "body": {}})).await;
    assert_eq!(out.answer_for("n5").await["code"], "invalid");
    out.send(json!({"type": "send", "client_msg_id": "n6", "conversation": direct, "kind": "text", "body": {"text": ""}})).await;
    assert_eq!(out.answer_for("n6").await["code"], "invalid");
    assert_eq!(history(&app, &outsider, &direct).await.len(), 2);
    app.stop().await;
}

async fn files_are_for_members_only(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let p = employees(&app, "Finance", 2).await;
    let outsider = employees(&app, "Legal", 1).await.remove(0);
    let r = call(
        &app,
        Method::POST,
        "/api/v1/im/direct",
        &p[0],
        Some(json!({"staff": p[1].id})),
    )
    .await;
    let direct = r.body["conversation"].as_str().expect("id").to_owned();
    let upload = |who: &Person, conversation: &str, bytes: Vec<u8>| {
        let request = app
            .client
            .post(format!(
                "{}/api/v1/im/files?conversation={conversation}&name=%E6%8A%A5%E5%91%8A.pdf",
                app.base
            ))
            .bearer_auth(&who.token)
            .header("content-type", "application/pdf")
            .body(bytes);
        async move { request.send().await.expect("upload") }
    };
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let response = upload(&p[0], &direct, content.clone()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let file: Value = response.json().await.expect("json");
    assert_eq!(
        (file["name"].as_str(), file["size"].as_u64()),
        (Some("报告.pdf"), Some(200_000))
    );
    let id = file["id"].as_str().expect("id").to_owned();
    let response = upload(&outsider, &direct, vec![1, 2, 3]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let (mut a, _) = Client::online(&app, &p[0], "d").await;
    a.send(
        json!({"type": "send", "client_msg_id": "f1", "conversation": direct, "kind": "file",
                  "body": {"file_id": id, "name": "报告.pdf", "size": 200000}}),
    )
    .await;
    let ack = a.answer_for("f1").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let download = |who: &Person| {
        let request = app
            .client
            .get(format!("{}/api/v1/im/files/{id}", app.base))
            .bearer_auth(&who.token);
        async move { request.send().await.expect("download") }
    };
    let response = download(&p[1]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap_or("")
            .contains("UTF-8''%E6%8A%A5")
    );
    assert_eq!(response.bytes().await.expect("bytes").to_vec(), content);
    assert_eq!(download(&outsider).await.status(), StatusCode::NOT_FOUND);

    // A file of another conversation cannot be attached here.
    let r = call(
        &app,
        Method::POST,
        "/api/v1/im/groups",
        &outsider,
        Some(json!({"name": "solo"})),
    )
    .await;
    let solo = r.body["conversation"].as_str().expect("id").to_owned();
    let response = upload(&outsider, &solo, vec![7; 10]).await;
    let foreign: Value = response.json().await.expect("json");
    a.send(
        json!({"type": "send", "client_msg_id": "f2", "conversation": direct, "kind": "image",
                  "body": {"file_id": foreign["id"]}}),
    )
    .await;
    assert_eq!(a.answer_for("f2").await["code"], "not_found");
    // The size limit is enforced while streaming.
    let r = app
        .admin(
            Method::PUT,
            "/api/v1/admin/im/settings",
            Some(
                json!({"recall_window_secs": 120, "edit_window_secs": 60, "max_file_bytes": 4096}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        upload(&p[0], &direct, vec![0; 10_000]).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // A recalled file message takes its file with it.
    a.send(json!({"type": "recall", "id": 1, "conversation": direct, "seq": ack["seq"]}))
        .await;
    assert_eq!(a.next_of("ack").await["id"], 1);
    assert_eq!(download(&p[1]).await.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn search_finds_chinese_and_words_in_own_conversations(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let p = employees(&app, "Growth", 2).await;
    let outsider = employees(&app, "Brand", 1).await.remove(0);
    let r = call(
        &app,
        Method::POST,
        "/api/v1/im/direct",
        &p[0],
        Some(json!({"staff": p[1].id})),
    )
    .await;
    let direct = r.body["conversation"].as_str().expect("id").to_owned();
    let (mut a, _) = Client::online(&app, &p[0], "d").await;
    for (n, text) in [
        "明天下午开会讨论预算",
        "Lunch at noon, then the budget review",
        "会议室在三楼",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(a.text(&direct, &format!("s{n}"), text).await["type"], "ack");
    }
    let search = |who: &Person, q: &str| {
        let url = format!("{}/api/v1/im/search?q={}", app.base, urlencode(q));
        let request = app.client.get(url).bearer_auth(&who.token);
        async move {
            let body: Value = request
                .send()
                .await
                .expect("search")
                .json()
                .await
                .expect("json");
            body.as_array()
                .expect("list")
                .iter()
                .map(|m| text_of(m).to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search(&p[1], "开会").await, vec!["明天下午开会讨论预算"]);
    assert_eq!(search(&p[1], "预算").await, vec!["明天下午开会讨论预算"]);
    assert_eq!(search(&p[1], "会议室").await, vec!["会议室在三楼"]);
    assert_eq!(
        search(&p[1], "会").await.len(),
        2,
        "single characters match"
    );
    assert!(search(&p[1], "开预").await.is_empty(), "not a substring");
    assert_eq!(
        search(&p[1], "BUDGET").await,
        vec!["Lunch at noon, then the budget review"]
    );
    assert!(
        search(&outsider, "开会").await.is_empty(),
        "not the outsider's conversation"
    );
    app.stop().await;
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

on_both_backends!(
    group_roles_and_mute,
    department_chat_follows_the_directory,
    unauthorised_sends_store_nothing,
    files_are_for_members_only,
    search_finds_chinese_and_words_in_own_conversations,
);
