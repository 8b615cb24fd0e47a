//! Apps and cards: IT registers an app, the app sends a card (within its reach only), two
//! approvers press different actions of a "single" card at once — one decision is recorded,
//! the other gets `card_closed` — every member's device sees the closed card, and the app
//! receives exactly one signed callback although its first attempt is refused (503, then
//! 200), and changes the card by answering it. On SQLite and PostgreSQL.

use crate::common;
use crate::im_support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, http::HeaderMap, routing::post};
use common::{Backend, Storage, TestApp};
use im_support::{Client, Person, employees};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(a_single_card_takes_one_decision, cards_stay_within_reach);

/// What the test app's callback endpoint saw: every attempt, with the status it answered.
#[derive(Default)]
pub struct Sink {
    pub attempts: Vec<(HeaderMap, Vec<u8>, u16)>,
    /// Attempts to refuse with 503 before answering 200.
    pub refuse: usize,
    /// The 200 answer's body.
    pub answer: String,
}

pub async fn callback_sink(sink: Arc<Mutex<Sink>>) -> String {
    let app = Router::new().route(
        "/callback",
        post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
                let refuse = s.refuse > 0;
                let status = if refuse { 503 } else { 200 };
                s.refuse = s.refuse.saturating_sub(1);
                s.attempts.push((headers, body.to_vec(), status));
                let answer = s.answer.clone();
                (
                    axum::http::StatusCode::from_u16(status).expect("status"),
                    [("content-type", "application/json")],
                    if refuse { String::new() } else { answer },
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/callback", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

/// Calls the server API with an app's key.
pub async fn with_key(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> common::Reply {
    let mut request = app
        .client
        .request(method.clone(), format!("{}{path}", app.base))
        .header("x-api-key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("sent");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    app.check_contract(&method, path, status, &headers, &bytes)
        .await;
    common::Reply {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    }
}

/// Registers an app; returns (app id, key, secret).
pub async fn register(app: &TestApp, url: &str, reach: Value) -> (String, String, String) {
    let r = app
        .admin(
            Method::POST,
            "/api/v1/admin/im/apps",
            Some(json!({"name": "审批 Approvals", "callback_url": url, "reach": reach})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let s = |k: &str| r.body[k].as_str().expect(k).to_owned();
    (s("id"), s("key"), s("secret"))
}

fn card(title: &str) -> Value {
    json!({
        "title": title, "text": "王五 asks for 3 days of leave",
        "fields": [{"label": "From", "value": "2026-12-01"}, {"label": "Days", "value": "3"}],
        "actions": [
            {"id": "approve", "label": "Approve"},
            {"id": "reject", "label": "Reject", "confirm": "Reject this request?", "comment": true}
        ]
    })
}

/// The next `card_update` event a device sees.
async fn card_update(client: &mut Client) -> Value {
    loop {
        let m = client.message().await;
        if m["kind"] == "card_update" {
            return m;
        }
    }
}

async fn group_of(app: &TestApp, owner: &Person, members: &[&Person]) -> String {
    let ids: Vec<&str> = members.iter().map(|p| p.id.as_str()).collect();
    let r = app
        .call(
            Method::POST,
            "/api/v1/im/groups",
            Some(&owner.token),
            Some(json!({"name": "审批组 Approvers", "members": ids})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["conversation"].as_str().expect("id").to_owned()
}

async fn a_single_card_takes_one_decision(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let p = employees(&app, "Accounting", 2).await;
    let (a, b) = (&p[0], &p[1]);
    let group = group_of(&app, a, &[b]).await;
    let sink = Arc::new(Mutex::new(Sink {
        refuse: 1,
        answer: json!({"card": card("Leave request: decided")}).to_string(),
        ..Sink::default()
    }));
    let url = callback_sink(sink.clone()).await;
    let (app_id, key, secret) =
        register(&app, &url, json!({"kind": "groups", "ids": [group]})).await;

    let (mut a1, _) = Client::online(&app, a, "laptop").await;
    let (mut a2, _) = Client::online(&app, a, "phone").await;
    let (mut b1, _) = Client::online(&app, b, "laptop").await;
    let sent = with_key(
        &app,
        Method::POST,
        "/api/v1/im/server/cards",
        &key,
        Some(
            json!({"to": {"groups": [group]}, "decision": "single", "card": card("Leave request")}),
        ),
    )
    .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let card_id = sent.body["items"][0]["card"]
        .as_str()
        .expect("card")
        .to_owned();
    let seq = sent.body["items"][0]["seq"].as_i64().expect("seq");
    for device in [&mut a1, &mut a2, &mut b1] {
        let m = device.message().await;
        assert_eq!(m["kind"], "card", "{m}");
        assert!(m.get("sender").is_none(), "an app is not a person: {m}");
        assert_eq!(m["body"]["app"]["name"], "审批 Approvals");
        assert_eq!(m["body"]["actions"][1]["comment"], true);
        assert!(m["body"]["closed"].is_null());
    }

    // Both press at once, different actions: exactly one decision.
    a1.send(json!({"type": "action", "id": "a", "conversation": group, "seq": seq, "action": "approve"})).await;
    b1.send(
        json!({"type": "action", "id": "b", "conversation": group, "seq": seq,
                   "action": "reject", "comment": "not now"}),
    )
    .await;
    let (ra, rb) = (a1.answer_to("a").await, b1.answer_to("b").await);
    let (winner, loser, winner_action, loser_answer) =
        match (ra["type"].as_str(), rb["type"].as_str()) {
            (Some("ack"), Some("error")) => (a, b, "approve", rb),
            (Some("error"), Some("ack")) => (b, a, "reject", ra),
            other => panic!("one ack and one error expected, got {other:?}: {ra} {rb}"),
        };
    assert_eq!(loser_answer["code"], "card_closed", "{loser_answer}");

    // Every device of every member sees the closed card, naming who decided.
    for device in [&mut a1, &mut a2, &mut b1] {
        let update = card_update(device).await;
        assert_eq!(update["ref_seq"], seq);
        let closed = &update["body"]["closed"];
        assert_eq!(closed["by"], winner.id.as_str(), "{update}");
        assert_eq!(closed["action"], winner_action);
        assert!(closed["at"].as_i64().is_some());
        assert_eq!(update["body"]["response_count"], 1);
    }
    // The loser tries again: still the documented error.
    let retry = if loser.id == a.id { &mut a1 } else { &mut b1 };
    retry.send(json!({"type": "action", "id": "again", "conversation": group, "seq": seq, "action": "approve"})).await;
    assert_eq!(retry.answer_to("again").await["code"], "card_closed");

    // The app's answer to its callback (a new title) reaches every device too.
    for device in [&mut a1, &mut a2, &mut b1] {
        let update = card_update(device).await;
        assert_eq!(
            update["body"]["title"], "Leave request: decided",
            "{update}"
        );
        assert_eq!(update["body"]["closed"]["by"], winner.id.as_str());
    }
    // Exactly one callback: refused once, delivered once, same delivery id, signed.
    let attempts: Vec<(HeaderMap, Vec<u8>, u16)> = sink
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .attempts
        .clone();
    let statuses: Vec<u16> = attempts.iter().map(|(_, _, s)| *s).collect();
    assert_eq!(statuses, vec![503, 200], "one callback, retried once");
    let delivery = |h: &HeaderMap| h["x-switchboard-delivery"].to_str().expect("id").to_owned();
    assert_eq!(delivery(&attempts[0].0), delivery(&attempts[1].0));
    let (headers, body, _) = &attempts[1];
    let timestamp: i64 = headers["x-switchboard-timestamp"]
        .to_str()
        .expect("ts")
        .parse()
        .expect("n");
    assert_eq!(
        headers["x-switchboard-signature"].to_str().expect("sig"),
        switchboard::im::webhooks::sign(&secret, timestamp, body)
    );
    let event: Value = serde_json::from_slice(body).expect("JSON");
    assert_eq!(event["event"], "card.action");
    assert_eq!(event["card"], card_id.as_str());
    assert_eq!(event["staff"]["id"], winner.id.as_str());
    assert_eq!(event["action"]["id"], winner_action);
    assert_eq!(event["closes"], true);

    // The portal's list: the callback, delivered on its second attempt.
    let listed = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/im/apps/{app_id}/callbacks"),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let items = listed.body.as_array().expect("list");
    assert_eq!(items.len(), 1, "{}", listed.body);
    assert_eq!(items[0]["status"], "ok");
    assert_eq!(items[0]["attempts"], 2);
    assert_eq!(items[0]["id"], delivery(&attempts[0].0).as_str());

    // Nothing more arrives at the app.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        sink.lock()
            .unwrap_or_else(|e| e.into_inner())
            .attempts
            .len(),
        2
    );

    // A device that was offline syncs the closed card from its history.
    let (late, _) = Client::online(&app, b, "tablet").await;
    let history = app
        .call(
            Method::GET,
            &format!("/api/v1/im/conversations/{group}/messages?after=0&limit=100"),
            Some(&b.token),
            None,
        )
        .await;
    let stored = history
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|m| m["seq"] == seq)
        .expect("card")
        .clone();
    assert_eq!(stored["body"]["closed"]["by"], winner.id.as_str());
    late.close().await;
    app.stop().await;
}

async fn cards_stay_within_reach(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let p = employees(&app, "Accounting", 3).await;
    let outsider = employees(&app, "Backend", 1).await.remove(0);
    let group = group_of(&app, &p[0], &[&p[1]]).await;
    let sink = Arc::new(Mutex::new(Sink::default()));
    let url = callback_sink(sink.clone()).await;
    let (_, key, _) = register(&app, &url, json!({"kind": "groups", "ids": [group]})).await;

    let send = |to: Value, body: Value| {
        let key = key.clone();
        let app = &app;
        async move {
            let mut request = json!({"to": to, "card": body});
            request["decision"] = json!("per_person");
            with_key(
                app,
                Method::POST,
                "/api/v1/im/server/cards",
                &key,
                Some(request),
            )
            .await
        }
    };
    // Out of reach: a person outside the group, and any department; nothing is sent.
    let r = send(json!({"staff": [p[0].id, outsider.id]}), card("x")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let (department, _) = im_support::department_staff(&app, "Accounting").await;
    let r = send(json!({"departments": [department]}), card("x")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // Bad cards and keys are refused clearly.
    let mut seven = card("x");
    seven["actions"] = json!(
        (0..7)
            .map(|i| json!({"id": format!("a{i}"), "label": "A"}))
            .collect::<Vec<_>>()
    );
    let r = send(json!({"staff": [p[0].id]}), seven).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = send(
        json!({"staff": [p[0].id]}),
        json!({"title": "x", "script": "alert(1)"}),
    )
    .await;
    assert!(r.status.is_client_error(), "{}", r.body);
    let r = with_key(
        &app,
        Method::POST,
        "/api/v1/im/server/cards",
        "sbk_wrong",
        Some(json!({"to": {"staff": [p[0].id]}, "card": card("x")})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Within reach (a member of the group): a per-person card, one answer each.
    let (mut c, _) = Client::online(&app, &p[0], "d").await;
    let r = send(json!({"staff": [p[0].id]}), card("Per person")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let conversation = r.body["items"][0]["conversation"]
        .as_str()
        .expect("id")
        .to_owned();
    let seq = r.body["items"][0]["seq"].as_i64().expect("seq");
    assert_eq!(c.message().await["kind"], "card");
    c.send(json!({"type": "action", "id": 1, "conversation": conversation, "seq": seq, "action": "nope"})).await;
    let bad = c.next_of("error").await;
    assert_eq!(bad["code"], "invalid", "{bad}");
    c.send(
        json!({"type": "action", "id": "x", "conversation": conversation, "seq": seq,
                  "action": "reject", "comment": "太早了"}),
    )
    .await;
    assert_eq!(c.answer_to("x").await["type"], "ack");
    let update = card_update(&mut c).await;
    assert!(update["body"]["closed"].is_null(), "per person: still open");
    assert_eq!(update["body"]["responses"][0]["comment"], "太早了");
    c.send(json!({"type": "action", "id": "y", "conversation": conversation, "seq": seq, "action": "approve"})).await;
    assert_eq!(c.answer_to("y").await["code"], "already_answered");
    // The app closes it through the API: every device sees it, actions are refused.
    let card_id = r.body["items"][0]["card"]
        .as_str()
        .expect("card")
        .to_owned();
    let closed = with_key(
        &app,
        Method::PUT,
        &format!("/api/v1/im/server/cards/{card_id}"),
        &key,
        Some(json!({"close": true})),
    )
    .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    let update = card_update(&mut c).await;
    assert!(
        update["body"]["closed"]["at"].as_i64().is_some(),
        "{update}"
    );
    // Someone outside the conversation cannot act on it.
    let (mut o, _) = Client::online(&app, &outsider, "d").await;
    o.send(json!({"type": "action", "id": "o", "conversation": conversation, "seq": seq, "action": "approve"})).await;
    assert_eq!(o.answer_to("o").await["code"], "not_member");
    app.stop().await;
}
