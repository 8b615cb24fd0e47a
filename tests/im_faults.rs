//! Bad input and faults at the gateway: malformed and unknown frames (error frame, session
//! lives), oversized frames (1009), a client that stops reading (closed with 4008, memory
//! bounded, nobody else slowed), rate limits (error, then 4029), and tokens that are missing,
//! bad, expired (4001) or of a non-person (4003); the server API with API keys, and signed,
//! batched, retried webhooks.

use crate::common;
use crate::im_support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, http::HeaderMap, routing::post};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{Backend, Storage, TestApp};
use im_support::{Client, employees, text_of, ws_url};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::auth::{Claims, TokenSigner};
use tokio_tungstenite::tungstenite::Message;

on_both_backends!(
    malformed_frames_get_errors_and_the_session_lives,
    oversized_frames_close_with_1009,
    a_client_that_stops_reading_is_closed_not_buffered,
    rate_limits_answer_then_close,
    tokens_are_checked_with_documented_close_codes,
    server_api_and_signed_retried_webhooks,
);

async fn malformed_frames_get_errors_and_the_session_lives(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let person = employees(&app, "Backend", 1).await.remove(0);
    let (mut c, _) = Client::online(&app, &person, "d").await;
    let cases: Vec<(Message, &str)> = vec![
        (Message::Text("not json".into()), "bad_frame"),
        (Message::Text("[1,2]".into()), "bad_frame"),
        (Message::Text(r#"{"id":1}"#.into()), "bad_frame"),
        (Message::Text(r#"{"type":42,"id":2}"#.into()), "bad_frame"),
        (
            Message::Text(r#"{"type":"teleport","id":3}"#.into()),
            "unknown_type",
        ),
        (
            Message::Text(r#"{"type":"send","id":4,"kind":"text"}"#.into()),
            "bad_frame",
        ),
        (
            Message::Text(r#"{"type":"read","id":5,"conversation":"nope","seq":1}"#.into()),
            "bad_frame",
        ),
        (Message::Binary(vec![0, 1, 2].into()), "bad_frame"),
    ];
    for (message, code) in cases {
        c.send_raw(message).await;
        let error = c.next_of("error").await;
        assert_eq!(error["code"], code, "{error}");
    }
    let error = {
        c.send(json!({"type": "teleport", "id": "x"})).await;
        c.next_of("error").await
    };
    assert_eq!(error["id"], "x", "the request id is echoed: {error}");
    assert!(error["message"].as_str().unwrap_or("").contains("teleport"));
    c.send(json!({"type": "ping", "id": 7})).await;
    assert_eq!(c.next_of("pong").await["id"], 7);
    app.stop().await;
}

async fn oversized_frames_close_with_1009(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let person = employees(&app, "Backend", 1).await.remove(0);
    let mut c = Client::connect(&app, &person, "d").await;
    let limit = c.welcome["max_frame_bytes"].as_u64().expect("limit") as usize;
    c.send_raw(Message::Text("x".repeat(limit + 10).into()))
        .await;
    assert_eq!(c.closed().await, Some(1009));
    // Far over the limit: refused as early as the header says so.
    let mut c = Client::connect(&app, &person, "d2").await;
    c.send_raw(Message::Text("y".repeat(limit * 4).into()))
        .await;
    assert_eq!(c.closed().await, Some(1009));
    app.stop().await;
}

async fn a_client_that_stops_reading_is_closed_not_buffered(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let p = employees(&app, "Support", 4).await;
    let ids: Vec<&str> = p[1..].iter().map(|x| x.id.as_str()).collect();
    let r = app
        .call(
            Method::POST,
            "/api/v1/im/groups",
            Some(&p[0].token),
            Some(json!({"name": "flood", "members": ids})),
        )
        .await;
    let g = r.body["conversation"].as_str().expect("id").to_owned();
    let (mut slow, _) = Client::online(&app, &p[1], "d").await;
    let (mut fine, _) = Client::online(&app, &p[2], "d").await;
    let mut senders = Vec::new();
    for person in [&p[0], &p[3]] {
        senders.push(Client::online(&app, person, "d").await.0);
    }
    // The slow client reads nothing while two senders flood the group with large messages.
    let filler = "字".repeat(9_000);
    let mut tasks = Vec::new();
    for (s, mut sender) in senders.into_iter().enumerate() {
        let (g, filler) = (g.clone(), filler.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..400 {
                let answer = sender.text(&g, &format!("{s}-{n}"), &filler).await;
                assert_eq!(answer["type"], "ack", "{answer}");
            }
        }));
    }
    let reader = tokio::spawn(async move {
        let mut count = 0;
        while count < 800 {
            let message = fine.message().await;
            assert_eq!(text_of(&message).len(), 27_000);
            count += 1;
        }
        count
    });
    for task in tasks {
        task.await
            .expect("sender finished: the flood did not slow the senders down");
    }
    assert_eq!(
        reader.await.expect("reader"),
        800,
        "other members got everything"
    );
    // The slow client finds its buffered frames, then the close: 4008 (or a reset, if the
    // server had to drop a client whose socket stayed full).
    let code = slow.closed().await;
    assert!(matches!(code, Some(4008) | None), "{code:?}");
    // It reconnects and catches up from the store.
    let mut again = Client::connect(&app, &p[1], "d").await;
    let (missed, _) = again.sync(json!({ g.clone(): 1 })).await;
    assert!(missed.len() >= 500, "{}", missed.len());
    app.stop().await;
}

async fn rate_limits_answer_then_close(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let person = employees(&app, "Backend", 1).await.remove(0);
    let mut c = Client::connect(&app, &person, "d").await;
    // The burst (400) passes, the rest is answered with errors, and after 100 refusals in a
    // row the session is closed. Sent in rounds, so a busy machine cannot refill the bucket
    // faster than the client sends.
    let mut limited = 0;
    let mut n = 0;
    let code = 'rounds: loop {
        assert!(n < 20_000, "never closed");
        for _ in 0..300 {
            n += 1;
            if !c.try_send(json!({"type": "ping", "id": n})).await {
                break;
            }
        }
        while let Some(frame) = c.poll(std::time::Duration::from_millis(100)).await {
            match frame {
                Ok(frame) if frame["type"] == "error" => {
                    assert_eq!(frame["code"], "rate_limited");
                    limited += 1;
                }
                Ok(_) => {}
                Err(code) => break 'rounds code,
            }
        }
    };
    assert!(limited > 0);
    assert_eq!(code, Some(4029));
    app.stop().await;
}

fn forge(storage: &Storage, token: &str, exp: i64) -> String {
    let key = std::fs::read_to_string(storage.data_dir().join("token.key")).expect("key");
    let key = hex::decode(key.trim()).expect("hex");
    let body = token.split('.').nth(1).expect("claims");
    let mut claims: Claims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).expect("b64")).expect("claims");
    claims.exp = exp;
    TokenSigner::new(&key).sign(&claims)
}

async fn tokens_are_checked_with_documented_close_codes(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let person = employees(&app, "Backend", 1).await.remove(0);
    let base = ws_url(&app.base);
    let close_code = |url: String| async move {
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("upgrade");
        use futures_util::StreamExt;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .expect("closes")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    };
    assert_eq!(close_code(base.clone()).await, Some(4003), "no token");
    assert_eq!(
        close_code(format!("{base}?token=garbage")).await,
        Some(4003)
    );
    let expired = forge(&storage, &person.token, chrono::Utc::now().timestamp() - 10);
    assert_eq!(
        close_code(format!("{base}?token={expired}")).await,
        Some(4001)
    );
    assert_eq!(
        close_code(format!("{base}?token={}", app.admin_token)).await,
        Some(4003),
        "not a person"
    );
    assert_eq!(
        close_code(format!("{base}?token={}&v=2", person.token)).await,
        Some(4010)
    );
    // A token that expires during the session ends it with 4001 at the next check.
    let short = forge(&storage, &person.token, chrono::Utc::now().timestamp() + 2);
    let mut c = Client::connect_url(&format!("{base}?token={short}")).await;
    let closed = tokio::time::timeout(Duration::from_secs(45), async {
        loop {
            if let Err(code) = c.read().await {
                return code;
            }
        }
    })
    .await
    .expect("closed within the token check interval");
    assert_eq!(closed, Some(4001));
    // Logging out revokes the session's token: 4003 at the next check (not waited for here),
    // and new connections with it are refused at once.
    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&person.token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        close_code(format!("{base}?token={}", person.token)).await,
        Some(4003)
    );
    app.stop().await;
}

/// What the test webhook endpoint received.
#[derive(Default)]
struct Received {
    batches: Vec<(HeaderMap, Vec<u8>)>,
    refuse_first: bool,
    refused: usize,
}

async fn webhook_sink(received: Arc<Mutex<Received>>) -> String {
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let received = received.clone();
            async move {
                let mut r = received.lock().unwrap_or_else(|e| e.into_inner());
                if r.refuse_first && r.refused == 0 {
                    r.refused += 1;
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                r.batches.push((headers, body.to_vec()));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

async fn server_api_and_signed_retried_webhooks(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let p = employees(&app, "Accounting", 3).await;
    let received = Arc::new(Mutex::new(Received {
        refuse_first: true,
        ..Default::default()
    }));
    let url = webhook_sink(received.clone()).await;
    let secret = "a-very-secret-webhook-key";
    let r = app
        .admin(Method::POST, "/api/v1/admin/im/webhooks",
            Some(json!({"url": url, "secret": secret, "events": ["message", "message.offline", "presence"]})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(
        r.body.get("secret").is_none(),
        "the secret is not shown back"
    );
    let key = app
        .admin(
            Method::POST,
            "/api/v1/admin/im/api-keys",
            Some(json!({"name": "erp"})),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
    let key = key.body["key"].as_str().expect("key").to_owned();
    let server = |method: Method, path: &str, body: Value, key: &str| {
        let request = app
            .client
            .request(method, format!("{}{path}", app.base))
            .header("x-api-key", key)
            .json(&body);
        async move {
            let response = request.send().await.expect("sent");
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, _) = server(
        Method::POST,
        "/api/v1/im/server/messages",
        json!({"client_msg_id": "n1", "to": p[0].id, "kind": "text", "body": {"text": "x"}}),
        "sbk_wrong",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A notice to one person lands in their system conversation, live.
    let (mut a, _) = Client::online(&app, &p[0], "d").await;
    let (status, ack) = server(Method::POST, "/api/v1/im/server/messages",
        json!({"client_msg_id": "n1", "to": p[0].id, "kind": "text", "body": {"text": "工资单已发放"}}), &key).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    let notice = a.message().await;
    assert_eq!(text_of(&notice), "工资单已发放");
    assert!(notice.get("sender").is_none(), "sent by the system");
    let system = ack["conversation"].as_str().expect("id").to_owned();
    assert_eq!(
        a.text(&system, "r1", "thanks").await["code"],
        "forbidden",
        "notices cannot be answered"
    );
    // Resends are recognised for the system sender too.
    let (_, again) = server(Method::POST, "/api/v1/im/server/messages",
        json!({"client_msg_id": "n1", "to": p[0].id, "kind": "text", "body": {"text": "工资单已发放"}}), &key).await;
    assert_eq!(again, ack);

    // Groups managed by a back-end; p[2] stays offline, so an offline event names them.
    let (_b, _) = Client::online(&app, &p[1], "d").await;
    let (status, created) = server(
        Method::POST,
        "/api/v1/im/server/groups",
        json!({"name": "月结 Month end", "owner": p[0].id, "members": [p[1].id, p[2].id]}),
        &key,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let g = created["conversation"].as_str().expect("id").to_owned();
    assert_eq!(a.text(&g, "m1", "closing the books").await["type"], "ack");
    let (status, _) = server(
        Method::DELETE,
        &format!("/api/v1/im/server/groups/{g}/members/{}", p[1].id),
        json!({}),
        &key,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Webhooks: batched, signed over "<timestamp>.<body>", retried after the first refusal.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let events: Vec<Value> = loop {
        let batches: Vec<(HeaderMap, Vec<u8>)> = received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .batches
            .clone();
        let mut events = Vec::new();
        for (headers, body) in &batches {
            let timestamp: i64 = headers["x-switchboard-timestamp"]
                .to_str()
                .expect("ts")
                .parse()
                .expect("number");
            let expected = switchboard::im::webhooks::sign(secret, timestamp, body);
            assert_eq!(
                headers["x-switchboard-signature"].to_str().expect("sig"),
                expected
            );
            let parsed: Value = serde_json::from_slice(body).expect("json");
            events.extend(parsed["events"].as_array().cloned().unwrap_or_default());
        }
        let offline = events.iter().any(|e| {
            e["event"] == "message.offline"
                && e["to"]
                    .as_array()
                    .is_some_and(|to| to.contains(&json!(p[2].id)))
        });
        if offline || tokio::time::Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        received.lock().unwrap_or_else(|e| e.into_inner()).refused,
        1
    );
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(
        kinds.contains(&"message")
            && kinds.contains(&"message.offline")
            && kinds.contains(&"presence"),
        "{kinds:?}"
    );
    let offline = events
        .iter()
        .find(|e| e["event"] == "message.offline" && e["preview"] == "closing the books")
        .expect("offline event");
    assert_eq!(offline["to"], json!([p[2].id]), "only the offline member");
    let presence = events
        .iter()
        .find(|e| e["event"] == "presence")
        .expect("presence");
    assert_eq!(
        (presence["staff"].as_str(), presence["online"].as_bool()),
        (Some(p[0].id.as_str()), Some(true))
    );
    app.stop().await;
}
