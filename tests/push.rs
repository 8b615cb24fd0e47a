//! Offline push against a real HTTP gateway (an axum server on an ephemeral port that speaks
//! the Matrix push gateway's `notify`): an offline person's direct message arrives once, also
//! across restarts; muted conversations and online people are not pushed; a gateway outage is
//! retried while chat goes on; sign-out, disabling and rejected pushkeys remove devices. On
//! SQLite and PostgreSQL.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use crate::common;
use crate::im_support::{Client, Person, employees};

use axum::{Json, Router, extract::State, http::StatusCode as AxumStatus, routing::post};
use common::{Backend, Storage, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::config::{
    mail::Scalar,
    push::{PushConfig, RawPushConfig},
};

/// What the gateway heard.
#[derive(Default)]
struct Heard {
    /// Bodies it accepted (200).
    accepted: Mutex<Vec<Value>>,
    /// Requests it refused while down (503).
    refused: AtomicUsize,
    down: AtomicBool,
    /// Pushkeys it answers as rejected.
    reject: Mutex<Vec<String>>,
}

/// A push gateway on a loopback port.
struct Gateway {
    url: String,
    heard: Arc<Heard>,
}

async fn notify(
    State(heard): State<Arc<Heard>>,
    Json(body): Json<Value>,
) -> (AxumStatus, Json<Value>) {
    if heard.down.load(Ordering::SeqCst) {
        heard.refused.fetch_add(1, Ordering::SeqCst);
        return (AxumStatus::SERVICE_UNAVAILABLE, Json(json!({})));
    }
    let reject = heard.reject.lock().unwrap().clone();
    let rejected: Vec<Value> = body["notification"]["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| reject.iter().any(|r| d["pushkey"] == r.as_str()))
        .map(|d| d["pushkey"].clone())
        .collect();
    heard.accepted.lock().unwrap().push(body);
    (AxumStatus::OK, Json(json!({ "rejected": rejected })))
}

impl Gateway {
    async fn start() -> Self {
        let heard = Arc::new(Heard::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/_matrix/push/v1/notify",
            listener.local_addr().unwrap()
        );
        let app = Router::new()
            .route("/_matrix/push/v1/notify", post(notify))
            .with_state(heard.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, heard }
    }

    fn accepted(&self) -> Vec<Value> {
        self.heard.accepted.lock().unwrap().clone()
    }

    /// Waits until the gateway accepted `n` notifications; returns them.
    async fn wait_accepted(&self, n: usize) -> Vec<Value> {
        for _ in 0..600 {
            let accepted = self.accepted();
            if accepted.len() >= n {
                return accepted;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the gateway did not get {n} notifications: {:#?}",
            self.accepted()
        );
    }

    async fn wait_refused(&self, n: usize) {
        for _ in 0..600 {
            if self.heard.refused.load(Ordering::SeqCst) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the gateway was not tried {n} times while down");
    }
}

/// A demo company server pushing to `gateway`, collecting for `window_ms`.
async fn start(storage: &Storage, gateway: &Gateway, window_ms: i64) -> TestApp {
    let mut config = storage.config(true);
    config.push = PushConfig::parse(RawPushConfig {
        gateway_url: Some(gateway.url.clone()),
        batch_window_ms: Some(Scalar::Number(window_ms)),
        retry_base_ms: Some(Scalar::Number(100)),
        retry_cap_secs: Some(Scalar::Number(1)),
        max_attempts: Some(Scalar::Number(100)),
        ..Default::default()
    })
    .expect("push config");
    TestApp::start_config(config).await
}

async fn register(app: &TestApp, person: &Person, token: &str) -> Value {
    let reply = app
        .call(
            Method::POST,
            "/api/v1/push/devices",
            Some(&person.token),
            Some(json!({"platform": "ios", "token": token, "language": "en"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

async fn devices(app: &TestApp, person: &Person) -> Vec<Value> {
    let reply = app
        .call(
            Method::GET,
            "/api/v1/push/devices",
            Some(&person.token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body.as_array().expect("devices").clone()
}

async fn direct(app: &TestApp, from: &Person, to: &Person) -> String {
    let reply = app
        .call(
            Method::POST,
            "/api/v1/im/direct",
            Some(&from.token),
            Some(json!({"staff": to.id})),
        )
        .await;
    assert!(reply.status.is_success(), "{}", reply.body);
    reply.body["conversation"].as_str().expect("id").to_owned()
}

/// Sends a text over the REST API; returns the ack.
async fn say(app: &TestApp, from: &Person, conversation: &str, text: &str) -> Value {
    let reply = app
        .call(
            Method::POST,
            &format!("/api/v1/im/conversations/{conversation}/messages"),
            Some(&from.token),
            Some(json!({"client_msg_id": uuid::Uuid::now_v7().to_string(),
                        "kind": "text", "body": {"text": text}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// Waits until the push outbox has nothing queued or being sent.
async fn outbox_idle(app: &TestApp) {
    for _ in 0..600 {
        if metric(app, "switchboard_push_pending").await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the push outbox did not empty");
}

async fn an_offline_direct_message_is_pushed_once_across_restarts(backend: Backend) {
    let gateway = Gateway::start().await;
    let storage = Storage::new(backend).await;
    // A window long enough that messages sent together fold into one notification.
    let app = start(&storage, &gateway, 1500).await;
    let people = employees(&app, "Backend", 2).await;
    let (a, b) = (&people[0], &people[1]);
    let device = register(&app, b, "pushkey-b").await;
    let conversation = direct(&app, a, b).await;
    say(&app, a, &conversation, "first").await;
    let ack = say(&app, a, &conversation, "second").await;
    let heard = gateway.wait_accepted(1).await;
    let n = &heard[0]["notification"];
    assert_eq!(n["event_id"], ack["msg_id"], "the latest message: {n}");
    assert_eq!(n["room_id"], conversation.as_str());
    assert_eq!(n["type"], "m.room.message");
    assert_eq!(n["sender"], a.id.as_str());
    assert!(n["sender_display_name"].is_string(), "{n}");
    assert_eq!(n["prio"], "high", "a direct message: {n}");
    assert_eq!(n["messages"], 2, "two messages, one notification: {n}");
    assert!(n["counts"]["unread"].as_u64() >= Some(2), "{n}");
    assert!(n.get("content").is_none(), "no text unless allowed: {n}");
    let devices_sent = n["devices"].as_array().expect("devices");
    assert_eq!(devices_sent.len(), 1, "{n}");
    assert_eq!(devices_sent[0]["pushkey"], "pushkey-b");
    assert_eq!(devices_sent[0]["app_id"], device["app_id"]);
    assert_eq!(devices_sent[0]["data"]["platform"], "ios");
    outbox_idle(&app).await;

    // Text is included once the messaging setting allows it.
    let set = app
        .admin(
            Method::PUT,
            "/api/v1/admin/im/settings",
            Some(json!({"recall_window_secs": 120, "edit_window_secs": 86400,
                        "max_file_bytes": 20971520, "push_include_text": true})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    // Queued, then a restart before its window ends: it is sent once, after the restart.
    let queued = say(&app, a, &conversation, "while you sleep").await;
    app.stop().await;
    let app = start(&storage, &gateway, 1500).await;
    let heard = gateway.wait_accepted(2).await;
    let n = &heard[1]["notification"];
    assert_eq!(n["event_id"], queued["msg_id"], "{n}");
    assert_eq!(n["content"]["body"], "while you sleep", "{n}");
    outbox_idle(&app).await;

    // Another restart, then a new message: only it arrives (nothing sent before comes again,
    // and anything left over would have been due first).
    app.stop().await;
    let app = start(&storage, &gateway, 1500).await;
    let last = say(&app, a, &conversation, "good morning").await;
    let heard = gateway.wait_accepted(3).await;
    assert_eq!(heard[2]["notification"]["event_id"], last["msg_id"]);
    outbox_idle(&app).await;
    assert_eq!(gateway.accepted().len(), 3, "{:#?}", gateway.accepted());
    app.stop().await;
}

async fn muted_conversations_and_online_people_are_not_pushed(backend: Backend) {
    let gateway = Gateway::start().await;
    let storage = Storage::new(backend).await;
    let app = start(&storage, &gateway, 100).await;
    let people = employees(&app, "Backend", 4).await;
    let (a, muter, online, offline) = (&people[0], &people[1], &people[2], &people[3]);
    for person in [muter, online, offline] {
        register(&app, person, &format!("key-{}", person.login)).await;
    }
    let muted = direct(&app, a, muter).await;
    let reply = app
        .call(
            Method::PUT,
            &format!("/api/v1/push/mutes/{muted}"),
            Some(&muter.token),
            Some(json!({})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mutes = app
        .call(Method::GET, "/api/v1/push/mutes", Some(&muter.token), None)
        .await;
    assert_eq!(
        mutes.body[0]["conversation_id"],
        muted.as_str(),
        "{}",
        mutes.body
    );
    // Muting a conversation one is not in is refused.
    let foreign = direct(&app, a, offline).await;
    let reply = app
        .call(
            Method::PUT,
            &format!("/api/v1/push/mutes/{foreign}"),
            Some(&muter.token),
            Some(json!({})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);

    let (mut session, _) = Client::online(&app, online, "phone").await;
    let to_online = direct(&app, a, online).await;
    say(&app, a, &muted, "shh").await;
    say(&app, a, &to_online, "you are here").await;
    session.message().await;
    // A marker behind them: once it arrives, theirs would have been sent before it.
    let marker = say(&app, a, &foreign, "marker").await;
    let heard = gateway.wait_accepted(1).await;
    outbox_idle(&app).await;
    assert_eq!(heard.len(), 1, "{heard:#?}");
    assert_eq!(gateway.accepted().len(), 1, "{:#?}", gateway.accepted());
    assert_eq!(heard[0]["notification"]["event_id"], marker["msg_id"]);

    // Unmuted, the conversation is pushed again.
    let reply = app
        .call(
            Method::DELETE,
            &format!("/api/v1/push/mutes/{muted}"),
            Some(&muter.token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let again = say(&app, a, &muted, "now you hear me").await;
    let heard = gateway.wait_accepted(2).await;
    assert_eq!(heard[1]["notification"]["event_id"], again["msg_id"]);
    session.close().await;
    app.stop().await;
}

async fn a_gateway_outage_is_retried_without_delaying_chat(backend: Backend) {
    let gateway = Gateway::start().await;
    gateway.heard.down.store(true, Ordering::SeqCst);
    let storage = Storage::new(backend).await;
    let app = start(&storage, &gateway, 0).await;
    let people = employees(&app, "Backend", 3).await;
    let (a, b, c) = (&people[0], &people[1], &people[2]);
    register(&app, b, "pushkey-b").await;
    let conversation = direct(&app, a, b).await;
    let (mut sender, _) = Client::online(&app, a, "laptop").await;
    let first = sender.text(&conversation, "m1", "are you there?").await;
    assert_eq!(first["type"], "ack", "{first}");
    // The gateway refuses again and again; meanwhile chat goes on.
    gateway.wait_refused(2).await;
    let second = sender.text(&conversation, "m1b", "hello?").await;
    assert_eq!(second["type"], "ack", "{second}");
    let (mut peer, _) = Client::online(&app, c, "desk").await;
    let with_c = direct(&app, a, c).await;
    let answer = sender.text(&with_c, "m2", "chat goes on").await;
    assert_eq!(answer["type"], "ack", "{answer}");
    assert_eq!(peer.message().await["conversation"], with_c.as_str());
    assert!(
        gateway.accepted().is_empty(),
        "acked while the gateway was down"
    );
    assert!(metric(&app, "switchboard_push_retries_total").await >= 1);
    // Back up: both messages arrive, once — folded into the waiting notification, or (had
    // the second come while the first was being tried) right after it.
    gateway.heard.down.store(false, Ordering::SeqCst);
    let folded = |heard: &[Value]| {
        heard
            .iter()
            .map(|h| h["notification"]["messages"].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    for _ in 0..600 {
        if folded(&gateway.accepted()) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    outbox_idle(&app).await;
    let heard = gateway.accepted();
    assert_eq!(folded(&heard), 2, "{heard:#?}");
    assert_eq!(
        heard.last().unwrap()["notification"]["event_id"],
        second["msg_id"],
        "{heard:#?}"
    );
    if heard.len() == 2 {
        assert_eq!(heard[0]["notification"]["event_id"], first["msg_id"]);
    }
    assert_eq!(
        metric(&app, "switchboard_push_sent_total").await,
        heard.len() as u64
    );
    sender.close().await;
    peer.close().await;
    app.stop().await;
}

async fn sign_out_disabling_and_rejected_pushkeys_remove_devices(backend: Backend) {
    let gateway = Gateway::start().await;
    gateway
        .heard
        .reject
        .lock()
        .unwrap()
        .push("stale-key".into());
    let storage = Storage::new(backend).await;
    let app = start(&storage, &gateway, 0).await;
    let people = employees(&app, "Backend", 3).await;
    let (a, b, c) = (&people[0], &people[1], &people[2]);

    // Inputs are checked.
    for (body, status) in [
        (
            json!({"platform": "pager", "token": "x"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"platform": "ios", "token": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"platform": "ios", "token": "x".repeat(4097)}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"platform": "ios", "token": "x", "language": "not a tag"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"platform": "ios", "token": "x", "app_id": "a b"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let reply = app
            .call(
                Method::POST,
                "/api/v1/push/devices",
                Some(&b.token),
                Some(body.clone()),
            )
            .await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
    }
    let gone = app
        .call(
            Method::DELETE,
            &format!("/api/v1/push/devices/{}", uuid::Uuid::now_v7()),
            Some(&b.token),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    register(&app, b, "stale-key").await;
    let kept = register(&app, b, "fresh-key").await;
    // Registering a token again keeps its device.
    assert_eq!(register(&app, b, "fresh-key").await["id"], kept["id"]);
    // So do registrations of it at the same moment (an app starting on several threads).
    let again =
        futures_util::future::join_all((0..8).map(|_| register(&app, b, "fresh-key"))).await;
    assert!(again.iter().all(|d| d["id"] == kept["id"]), "{again:?}");
    assert_eq!(devices(&app, b).await.len(), 2);
    let conversation = direct(&app, a, b).await;
    say(&app, a, &conversation, "hello").await;
    let heard = gateway.wait_accepted(1).await;
    assert_eq!(
        heard[0]["notification"]["devices"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The gateway rejected one pushkey: its device goes, the other stays.
    let mut left = Vec::new();
    for _ in 0..600 {
        left = devices(&app, b).await;
        if left.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left.len(), 1, "{left:#?}");
    assert_eq!(left[0]["token"], "fresh-key");

    // Signing out removes the devices.
    let out = app
        .call(Method::POST, "/api/v1/auth/logout", Some(&b.token), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let again = Person {
        token: app.login(&b.login, "demo1234").await,
        ..b.clone()
    };
    assert!(devices(&app, &again).await.is_empty());

    // Disabling a person removes theirs too, and nothing is pushed to them.
    register(&app, c, "key-c").await;
    let disabled = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/staff/{}/disable", c.id),
            None,
        )
        .await;
    assert!(disabled.status.is_success(), "{}", disabled.body);
    let db = sea_orm::Database::connect(storage.database_url())
        .await
        .unwrap();
    let mut count = u64::MAX;
    for _ in 0..600 {
        use sea_orm::{ConnectionTrait, Statement};
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM push_devices",
            ))
            .await
            .unwrap()
            .unwrap();
        count = row.try_get::<i64>("", "n").unwrap() as u64;
        if count == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count, 0, "every device is gone");
    app.stop().await;
}

on_both_backends!(
    an_offline_direct_message_is_pushed_once_across_restarts,
    muted_conversations_and_online_people_are_not_pushed,
    a_gateway_outage_is_retried_without_delaying_chat,
    sign_out_disabling_and_rejected_pushkeys_remove_devices,
);
