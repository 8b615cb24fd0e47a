//! Messaging over real WebSocket clients: ordering under concurrent senders, dedup on resend
//! (also across a restart), offline then reconnect, three devices of one user, recall and
//! edit, unread counts, mentions and read receipts. On SQLite and PostgreSQL.

use crate::common;
use crate::im_support;

use std::collections::{BTreeMap, HashSet};

use common::{Backend, Storage, TestApp};
use im_support::{Client, Person, employees, text_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn group(app: &TestApp, owner: &Person, members: &[&Person], name: &str) -> String {
    let ids: Vec<&str> = members.iter().map(|p| p.id.as_str()).collect();
    let reply = app
        .call(
            Method::POST,
            "/api/v1/im/groups",
            Some(&owner.token),
            Some(json!({"name": name, "members": ids})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["conversation"].as_str().expect("id").to_owned()
}

async fn history(app: &TestApp, person: &Person, conversation: &str, query: &str) -> Vec<Value> {
    let reply = app
        .call(
            Method::GET,
            &format!("/api/v1/im/conversations/{conversation}/messages?{query}"),
            Some(&person.token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body.as_array().expect("list").clone()
}

/// One conversation as it appears in a person's list.
async fn summary(app: &TestApp, person: &Person, conversation: &str) -> Value {
    let reply = app
        .call(
            Method::GET,
            "/api/v1/im/conversations",
            Some(&person.token),
            None,
        )
        .await;
    reply
        .body
        .as_array()
        .unwrap_or_else(|| panic!("a list: {}", reply.body))
        .iter()
        .find(|c| c["id"] == conversation)
        .expect("listed")
        .clone()
}

async fn concurrent_senders_are_ordered(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = employees(&app, "Backend", 4).await;
    let conversation = group(
        &app,
        &people[0],
        &[&people[1], &people[2], &people[3]],
        "order",
    )
    .await;
    const EACH: usize = 25;
    let total = EACH * people.len();
    let mut clients = Vec::new();
    for person in &people {
        clients.push(Client::online(&app, person, "d").await.0);
    }
    let mut tasks = Vec::new();
    for (i, mut client) in clients.into_iter().enumerate() {
        let conversation = conversation.clone();
        tasks.push(tokio::spawn(async move {
            // Pipelined: every send goes out before any ack is read.
            for n in 0..EACH {
                client
                    .send(json!({"type": "send", "client_msg_id": format!("s{i}-{n}"),
                                 "conversation": conversation, "kind": "text",
                                 "body": {"text": format!("s{i}-{n}")}}))
                    .await;
            }
            let mut seen: Vec<(i64, String)> = Vec::new();
            while seen.len() < total {
                let frame = client.next().await;
                match frame["type"].as_str() {
                    Some("ack") => seen.push((
                        frame["seq"].as_i64().expect("seq"),
                        frame["client_msg_id"].as_str().expect("id").to_owned(),
                    )),
                    Some("message") => seen.push((
                        frame["seq"].as_i64().expect("seq"),
                        text_of(&frame).to_owned(),
                    )),
                    other => panic!("unexpected {other:?}: {frame}"),
                }
            }
            seen
        }));
    }
    let mut orders = Vec::new();
    for task in tasks {
        orders.push(task.await.expect("client task"));
    }
    // Every client saw every message once, in seq order, and all agree on the order.
    let reference: BTreeMap<i64, String> = orders[0].iter().cloned().collect();
    for seen in &orders {
        let seqs: Vec<i64> = seen.iter().map(|(s, _)| *s).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "out of order: {seqs:?}"
        );
        let map: BTreeMap<i64, String> = seen.iter().cloned().collect();
        assert_eq!(map, reference);
    }
    // Seqs are contiguous after the creation notice (seq 1), and each sender's messages keep
    // the order they were sent in.
    let stored = history(&app, &people[0], &conversation, "after=0&limit=500").await;
    assert_eq!(stored.len(), total + 1);
    for (i, message) in stored.iter().enumerate() {
        assert_eq!(message["seq"], i as i64 + 1);
    }
    for i in 0..people.len() {
        let mine: Vec<usize> = stored
            .iter()
            .filter_map(|m| text_of(m).strip_prefix(&format!("s{i}-")))
            .map(|n| n.parse().expect("number"))
            .collect();
        assert_eq!(mine, (0..EACH).collect::<Vec<_>>());
    }
    app.stop().await;
}

async fn resend_returns_the_same_ack_and_stores_nothing(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = employees(&app, "Frontend", 2).await;
    let (mut a, _) = Client::online(&app, &people[0], "d").await;
    let (mut b, _) = Client::online(&app, &people[1], "d").await;
    let send = json!({"type": "send", "client_msg_id": "once", "to": people[1].id,
                      "kind": "text", "body": {"text": "only once"}});
    a.send(send.clone()).await;
    let first = a.answer_for("once").await;
    assert_eq!(first["type"], "ack", "{first}");
    a.send(send.clone()).await;
    let second = a.answer_for("once").await;
    assert_eq!(first, second);
    let pushed = b.message().await;
    assert_eq!(text_of(&pushed), "only once");
    assert!(
        b.drain(std::time::Duration::from_millis(300))
            .await
            .iter()
            .all(|f| f["type"] != "message")
    );
    let conversation = first["conversation"]
        .as_str()
        .expect("conversation")
        .to_owned();
    a.close().await;
    b.close().await;
    app.stop().await;

    // After a restart the ack comes from the database, still the same.
    let app = TestApp::start(&storage, true).await;
    let token = app.login(&people[0].login, "demo1234").await;
    let person = Person {
        token,
        ..people[0].clone()
    };
    let (mut a, _) = Client::online(&app, &person, "d").await;
    // The old resend and a new message back to back, likely in one batch: the resend is
    // refused by the store's unique dedup key, and the batch is planned again without a gap.
    a.send(send).await;
    a.send(
        json!({"type": "send", "client_msg_id": "fresh", "conversation": conversation,
                  "kind": "text", "body": {"text": "new"}}),
    )
    .await;
    let third = a.answer_for("once").await;
    assert_eq!(first, third);
    let fresh = a.answer_for("fresh").await;
    assert_eq!(fresh["type"], "ack", "{fresh}");
    assert_eq!(fresh["seq"], first["seq"].as_i64().expect("seq") + 1);
    let stored = history(&app, &person, &conversation, "after=0").await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    app.stop().await;
}

async fn offline_then_reconnect_gets_everything_missed_in_order(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = employees(&app, "Mobile", 2).await;
    let (mut a, _) = Client::online(&app, &people[0], "d").await;
    let (mut b, _) = Client::online(&app, &people[1], "d").await;
    let ack = {
        a.send(
            json!({"type": "send", "client_msg_id": "m0", "to": people[1].id,
                      "kind": "text", "body": {"text": "0"}}),
        )
        .await;
        a.answer_for("m0").await
    };
    let conversation = ack["conversation"].as_str().expect("id").to_owned();
    for n in 1..3 {
        a.text(&conversation, &format!("m{n}"), &n.to_string())
            .await;
    }
    for _ in 0..3 {
        b.message().await;
    }
    b.close().await;
    for n in 3..13 {
        a.text(&conversation, &format!("m{n}"), &n.to_string())
            .await;
    }
    // While B syncs, A keeps sending: nothing may be missed or doubled at the seam.
    let mut b = Client::connect(&app, &people[1], "d").await;
    let sender = {
        let conversation = conversation.clone();
        tokio::spawn(async move {
            for n in 13..33 {
                a.text(&conversation, &format!("m{n}"), &n.to_string())
                    .await;
            }
            a
        })
    };
    let (missed, done) = b.sync(json!({ conversation.clone(): 3 })).await;
    let mut seqs: Vec<i64> = missed
        .iter()
        .filter(|m| m["conversation"] == conversation.as_str())
        .map(|m| m["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seqs.first(), Some(&4), "{missed:?}");
    let summary = done["conversations"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["id"] == conversation.as_str())
        .expect("listed")
        .clone();
    assert_eq!(summary["kind"], "direct");
    while seqs.last() != Some(&33) {
        let message = b.message().await;
        seqs.push(message["seq"].as_i64().expect("seq"));
    }
    assert_eq!(seqs, (4..=33).collect::<Vec<_>>());
    let mut a = sender.await.expect("sender");
    a.text(&conversation, "m33", "33").await;
    assert_eq!(b.message().await["seq"], 34);
    assert!(
        b.drain(std::time::Duration::from_millis(300))
            .await
            .iter()
            .all(|f| f["type"] != "message")
    );
    app.stop().await;
}

async fn three_devices_of_one_user(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = employees(&app, "QA", 2).await;
    let (mut phone, done) = Client::online(&app, &people[0], "phone").await;
    // The service starts with department chats already in step with the (demo) directory, so
    // no `department.created` notice reaches a client after it synced.
    assert!(
        done["conversations"]
            .as_array()
            .expect("list")
            .iter()
            .any(|c| c["kind"] == "department"),
        "{done}"
    );
    let (mut laptop, _) = Client::online(&app, &people[0], "laptop").await;
    let (mut tablet, _) = Client::online(&app, &people[0], "tablet").await;
    let (mut peer, _) = Client::online(&app, &people[1], "phone").await;
    phone
        .send(
            json!({"type": "send", "client_msg_id": "p1", "to": people[1].id,
                     "kind": "text", "body": {"text": "from my phone"}}),
        )
        .await;
    let ack = phone.answer_for("p1").await;
    let conversation = ack["conversation"].as_str().expect("id").to_owned();
    for device in [&mut laptop, &mut tablet, &mut peer] {
        let message = device.message().await;
        assert_eq!(text_of(&message), "from my phone");
        assert_eq!(message["client_msg_id"], "p1");
    }
    // The sending device gets the ack, not an echo.
    assert!(
        phone
            .drain(std::time::Duration::from_millis(300))
            .await
            .iter()
            .all(|f| f["type"] != "message")
    );
    peer.text(&conversation, "r1", "reply").await;
    for device in [&mut phone, &mut laptop, &mut tablet] {
        assert_eq!(text_of(&device.message().await), "reply");
    }
    // Reading on one device clears the others; the peer gets a receipt.
    phone
        .send(json!({"type": "read", "id": 9, "conversation": conversation, "seq": 2}))
        .await;
    assert_eq!(phone.next_of("ok").await["id"], 9);
    for device in [&mut laptop, &mut tablet, &mut peer] {
        let read = device.next_of("read").await;
        assert_eq!(read["seq"], 2);
        assert_eq!(read["staff"], people[0].id.as_str());
    }
    // The same device connecting again replaces the old session.
    let (_again, _) = Client::online(&app, &people[0], "tablet").await;
    assert_eq!(tablet.closed().await, Some(4005));
    // Both sends went through every server stage, and /metrics says so.
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for stage in ["authorise", "queued", "commit", "fanout"] {
        let count = metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "switchboard_im_send_stage_seconds_count{{stage=\"{stage}\"}} "
                ))
            })
            .and_then(|n| n.parse::<u64>().ok());
        assert!(count.is_some_and(|n| n >= 2), "{stage}: {metrics}");
    }
    app.stop().await;
}

async fn recall_and_edit(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = employees(&app, "Design", 2).await;
    let (mut a, _) = Client::online(&app, &people[0], "d").await;
    let (mut b, _) = Client::online(&app, &people[1], "d").await;
    // The welcome names the windows, so clients offer recall and edit only while they work.
    assert_eq!(a.welcome["recall_window_secs"], 120, "{}", a.welcome);
    assert_eq!(a.welcome["edit_window_secs"], 86400, "{}", a.welcome);
    a.send(
        json!({"type": "send", "client_msg_id": "e1", "to": people[1].id,
                  "kind": "text", "body": {"text": "frist draft"}}),
    )
    .await;
    let ack = a.answer_for("e1").await;
    let conversation = ack["conversation"].as_str().expect("id").to_owned();
    b.message().await;
    a.send(
        json!({"type": "edit", "id": "ed", "conversation": conversation, "seq": 1,
                  "body": {"text": "first draft"}}),
    )
    .await;
    let edit_ack = a.next_of("ack").await;
    assert_eq!(edit_ack["id"], "ed");
    assert_eq!(edit_ack["seq"], 2);
    let event = b.message().await;
    assert_eq!(
        (event["kind"].as_str(), event["ref_seq"].as_i64()),
        (Some("edit"), Some(1))
    );
    assert_eq!(text_of(&event), "first draft");
    // Only the sender may edit.
    b.send(
        json!({"type": "edit", "id": "no", "conversation": conversation, "seq": 1,
                  "body": {"text": "hijacked"}}),
    )
    .await;
    let refused = b.next_of("error").await;
    assert_eq!(
        (refused["id"].as_str(), refused["code"].as_str()),
        (Some("no"), Some("forbidden"))
    );
    let stored = history(&app, &people[1], &conversation, "after=0").await;
    assert_eq!(text_of(&stored[0]), "first draft");
    assert!(stored[0]["edited_at"].is_i64());

    a.send(json!({"type": "recall", "id": "rc", "conversation": conversation, "seq": 1}))
        .await;
    assert_eq!(a.next_of("ack").await["seq"], 3);
    let event = b.message().await;
    assert_eq!(
        (event["kind"].as_str(), event["ref_seq"].as_i64()),
        (Some("recall"), Some(1))
    );
    let stored = history(&app, &people[1], &conversation, "after=0").await;
    assert_eq!(stored[0]["recalled"], true);
    assert!(stored[0]["body"].is_null());
    assert!(
        stored[1]["body"].is_null(),
        "the edit's text is gone too: {}",
        stored[1]
    );
    let found = app
        .call(
            Method::GET,
            "/api/v1/im/search?q=draft",
            Some(&people[1].token),
            None,
        )
        .await;
    assert_eq!(found.body, json!([]));
    // Twice is a conflict; outside the window the sender may not recall.
    a.send(json!({"type": "recall", "id": "again", "conversation": conversation, "seq": 1}))
        .await;
    assert_eq!(a.next_of("error").await["code"], "conflict");
    let settings = app
        .admin(
            Method::PUT,
            "/api/v1/admin/im/settings",
            Some(
                json!({"recall_window_secs": 0, "edit_window_secs": 0, "max_file_bytes": 1048576}),
            ),
        )
        .await;
    assert_eq!(settings.status, StatusCode::OK, "{}", settings.body);
    let later = Client::connect(&app, &people[0], "later").await;
    assert_eq!(later.welcome["recall_window_secs"], 0, "{}", later.welcome);
    a.text(&conversation, "late", "too late to take back").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    a.send(json!({"type": "recall", "id": "late", "conversation": conversation, "seq": 4}))
        .await;
    let refused = a.next_of("error").await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    app.stop().await;
}

async fn unread_counts_mentions_and_receipts(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = employees(&app, "Backend", 3).await;
    let conversation = group(&app, &people[0], &[&people[1], &people[2]], "unread").await;
    let (mut a, _) = Client::online(&app, &people[0], "d").await;
    a.text(&conversation, "u1", "one").await;
    a.send(
        json!({"type": "send", "client_msg_id": "u2", "conversation": conversation,
                  "kind": "text", "body": {"text": "@you two"}, "mentions": [people[2].id]}),
    )
    .await;
    a.answer_for("u2").await;
    a.text(&conversation, "u3", "three").await;
    let b_view = summary(&app, &people[1], &conversation).await;
    let c_view = summary(&app, &people[2], &conversation).await;
    let a_view = summary(&app, &people[0], &conversation).await;
    assert_eq!(
        (b_view["unread"].as_u64(), b_view["mention"].as_bool()),
        (Some(3), Some(false))
    );
    assert_eq!(
        (c_view["unread"].as_u64(), c_view["mention"].as_bool()),
        (Some(3), Some(true))
    );
    assert_eq!(a_view["unread"], 0, "own messages are not unread");
    assert_eq!(c_view["last_message"]["body"]["text"], "three");
    let reply = app
        .call(
            Method::POST,
            &format!("/api/v1/im/conversations/{conversation}/read"),
            Some(&people[2].token),
            Some(json!({"seq": 4})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let c_view = summary(&app, &people[2], &conversation).await;
    assert_eq!(
        (c_view["unread"].as_u64(), c_view["mention"].as_bool()),
        (Some(0), Some(false))
    );
    let reads = app
        .call(
            Method::GET,
            &format!("/api/v1/im/conversations/{conversation}/reads?seq=4"),
            Some(&people[0].token),
            None,
        )
        .await;
    assert_eq!(reads.body, json!({"read": 1, "members": 2}));
    // Members only.
    let outsider = employees(&app, "Frontend", 1).await.remove(0);
    let denied = app
        .call(
            Method::GET,
            &format!("/api/v1/im/conversations/{conversation}/messages"),
            Some(&outsider.token),
            None,
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let seen: HashSet<i64> = history(&app, &people[1], &conversation, "before=3&limit=10")
        .await
        .iter()
        .map(|m| m["seq"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(seen, HashSet::from([1, 2]));
    app.stop().await;
}

on_both_backends!(
    concurrent_senders_are_ordered,
    resend_returns_the_same_ack_and_stores_nothing,
    offline_then_reconnect_gets_everything_missed_in_order,
    three_devices_of_one_user,
    recall_and_edit,
    unread_counts_mentions_and_receipts,
);
