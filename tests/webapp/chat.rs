//! Chatting in the web client: two employees in two browsers (the message appears, unread
//! counts move, the read receipt, typing and presence, an edit, a recall removes the text), a
//! group from selected contacts with a picture and an @mention, leaving it; and a client that
//! loses the network — and an ack — catches up with nothing missing and nothing twice.

use crate::common;
use crate::im_support::{Person, employees};

use super::proxy::Proxy;
use super::{eval, open_signed_in, until, until_text};
use common::{Backend, Storage, TestApp, browser::Browser};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ENTER: &str = "\u{e007}";

async fn type_into(browser: &Browser, css: &str, text: &str) {
    browser
        .find(css)
        .await
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// Clicks an element; lists are redrawn as messages arrive, so a found element may be replaced
/// before the click lands: then find it again.
async fn click(browser: &Browser, css: &str) {
    let mut last = String::new();
    for _ in 0..20 {
        match browser.find(css).await.click().await {
            Ok(()) => return,
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("click {css}: {last}");
}

/// Clicks through script (message actions show on hover only).
async fn script_click(browser: &Browser, css: &str) {
    let expr = format!(
        "(document.querySelector({0}) && (document.querySelector({0}).click(), true))",
        json!(css)
    );
    until(browser, &expr, &format!("click {css}")).await;
}

/// How many message bubbles read exactly `text`.
async fn bubbles(browser: &Browser, text: &str) -> u64 {
    let expr = format!(
        "[...document.querySelectorAll('#messages .bubble')].filter(b => b.innerText.trim() === {}).length",
        json!(text)
    );
    eval(browser, &expr).await.as_u64().expect("a count")
}

/// A text message sent over REST, as any other client of the person's would.
async fn send(app: &TestApp, from: &Person, conversation: &str, text: &str) {
    let sent = app
        .call(
            Method::POST,
            &format!("/api/v1/im/conversations/{conversation}/messages"),
            Some(&from.token),
            Some(json!({"client_msg_id": format!("rest-{text}"), "kind": "text", "body": {"text": text}})),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
}

async fn history(app: &TestApp, who: &Person, conversation: &str) -> Vec<Value> {
    let reply = app
        .call(
            Method::GET,
            &format!("/api/v1/im/conversations/{conversation}/messages?limit=500"),
            Some(&who.token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body.as_array().expect("messages").clone()
}

async fn two_employees_chat_in_two_browsers(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = employees(&app, "后端组", 2).await;
    let (a, b) = (&people[0], &people[1]);
    let alice = open_signed_in(&app, "en", a).await;
    let bob = open_signed_in(&app, "zh-CN", b).await;

    // Alice starts the chat from Bob's card.
    alice
        .goto(&format!("{}/app#/contacts/p/{}", app.base, b.id))
        .await;
    click(&alice, "#card-message").await;
    type_into(&alice, "#composer-input", &format!("明天上午开会?{ENTER}")).await;
    let direct = "#conv-list a.conv[data-kind=direct]";
    until(
        &bob,
        &format!("document.querySelector('{direct} .badge')?.innerText === '1'"),
        "one unread",
    )
    .await;
    type_into(&alice, "#composer-input", &format!("带上设计稿{ENTER}")).await;
    until(
        &bob,
        &format!("document.querySelector('{direct} .badge')?.innerText === '2'"),
        "two unread",
    )
    .await;
    until_text(&bob, "#unread-total", "2").await;
    // Presence: Bob is online for Alice.
    until_text(&alice, "#chat-sub", "Online").await;

    // Bob opens it: both messages, the badges go, Alice sees her message was read.
    click(&bob, direct).await;
    until_text(&bob, "#messages", "带上设计稿").await;
    assert_eq!(bubbles(&bob, "明天上午开会?").await, 1);
    until(
        &bob,
        &format!("!document.querySelector('{direct} .badge')"),
        "no unread left",
    )
    .await;
    until(
        &bob,
        "document.querySelector('#unread-total').hidden",
        "no unread in total",
    )
    .await;
    until_text(&alice, "#messages .receipt.read", "Read").await;

    // Typing shows on the other side; the reply arrives.
    type_into(&bob, "#composer-input", "好").await;
    until_text(&alice, "#chat-sub", "typing").await;
    type_into(&bob, "#composer-input", &format!("的{ENTER}")).await;
    until_text(&alice, "#messages", "好的").await;

    // Alice edits her first message and recalls the second: Bob sees both.
    let first = "#messages .msg.mine:nth-child(1) .act-edit";
    script_click(&alice, first).await;
    until(
        &alice,
        "document.querySelector('#composer-input').value === '明天上午开会?'",
        "the text to edit",
    )
    .await;
    alice
        .client
        .execute(
            "const i = document.querySelector('#composer-input'); i.value = '';",
            vec![],
        )
        .await
        .expect("clear");
    type_into(&alice, "#composer-input", &format!("明天下午开会{ENTER}")).await;
    until_text(&bob, "#messages", "明天下午开会").await;
    until_text(&bob, "#messages", "已编辑").await;
    script_click(&alice, "#messages .msg.mine:nth-child(2) .act-recall").await;
    click(&alice, "#confirm-yes").await;
    until(
        &bob,
        "!document.querySelector('#messages').innerText.includes('带上设计稿')",
        "the recalled text is gone",
    )
    .await;
    until_text(&bob, "#messages", "一条消息已被撤回").await;
    until_text(&alice, "#messages", "You recalled a message").await;
}

async fn a_group_from_selected_contacts_with_a_picture_and_a_mention(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = employees(&app, "后端组", 3).await;
    let (a, b, c) = (&people[0], &people[1], &people[2]);
    let alice = open_signed_in(&app, "en", a).await;
    let bob = open_signed_in(&app, "en", b).await;

    // Alice picks Bob and Carol in the contact list and makes a group of them.
    alice.goto(&format!("{}/app#/contacts", app.base)).await;
    click(&alice, "#select-people").await;
    for person in [b, c] {
        click(
            &alice,
            &format!("#org-tree .pick-row[data-staff='{}'] input", person.id),
        )
        .await;
    }
    click(&alice, "#create-group").await;
    alice
        .client
        .execute("document.querySelector('#group-name').value = '';", vec![])
        .await
        .expect("clear");
    type_into(&alice, "#group-name", "设计评审 Review").await;
    click(&alice, "#group-create").await;
    until_text(&alice, "#chat-title", "设计评审 Review").await;

    // A picture, pasted: previewed, uploaded through the files API, shown from a blob.
    alice
        .client
        .execute(
            "const png = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=='), c => c.charCodeAt(0));
             const dt = new DataTransfer(); dt.items.add(new File([png], 'dot.png', {type: 'image/png'}));
             document.querySelector('#composer-input').dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true}));",
            vec![],
        )
        .await
        .expect("paste");
    alice.find("#attach-preview img").await;
    click(&alice, "#attach-send").await;
    click(&bob, "#conv-list a.conv[data-kind=group]").await;
    until(
        &bob,
        "document.querySelector('#messages .img-thumb img')?.src.startsWith('blob:')",
        "the picture",
    )
    .await;

    // Bob mentions Carol with the completion list.
    let carol = app
        .call(
            Method::GET,
            &format!("/api/v1/contacts/staff/{}", c.id),
            Some(&b.token),
            None,
        )
        .await;
    let initials = carol.body["pinyin_initials"]
        .as_str()
        .expect("initials")
        .to_owned();
    type_into(&bob, "#composer-input", &format!("请看 @{initials}")).await;
    until(
        &bob,
        &format!(
            "document.querySelector('#mention-popup li[data-staff=\"{}\"]')",
            c.id
        ),
        "Carol offered",
    )
    .await;
    script_click(&bob, &format!("#mention-popup li[data-staff=\"{}\"]", c.id)).await;
    type_into(&bob, "#composer-input", &format!("谢谢{ENTER}")).await;
    until_text(
        &alice,
        "#messages .mention",
        carol.body["display_name"].as_str().expect("name"),
    )
    .await;
    let listed = app
        .call(
            Method::GET,
            "/api/v1/im/conversations",
            Some(&c.token),
            None,
        )
        .await;
    let group = listed
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["kind"] == "group")
        .cloned()
        .expect("Carol's group");
    assert_eq!(group["mention"], true, "{group}");

    // Bob leaves: it is gone from his list, and Alice reads that he left.
    click(&bob, "#chat-info").await;
    click(&bob, "#leave-group").await;
    click(&bob, "#confirm-yes").await;
    until(
        &bob,
        "!document.querySelector('#conv-list a.conv[data-kind=group]')",
        "the group left Bob's list",
    )
    .await;
    until_text(&alice, "#messages .msg-system", "left the group").await;
}

async fn an_offline_client_catches_up_without_duplicates(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = employees(&app, "后端组", 2).await;
    let (a, b) = (&people[0], &people[1]);
    // History from before Alice signs in: more than a sync brings, so she scrolls back for it.
    let direct = app
        .call(
            Method::POST,
            "/api/v1/im/direct",
            Some(&b.token),
            Some(json!({"staff": a.id})),
        )
        .await;
    let conversation = direct.body["conversation"]
        .as_str()
        .expect("conversation")
        .to_owned();
    let older: Vec<String> = (1..=45).map(|n| format!("earlier {n}")).collect();
    for text in &older {
        send(&app, b, &conversation, text).await;
    }
    let proxy = Proxy::start(&app.base).await;
    let browser = Browser::start("en").await;
    browser.goto(&format!("{}/app", proxy.base)).await;
    browser.sign_in(&a.login, "demo1234").await;
    browser.find("#app-shell").await;
    send(&app, b, &conversation, "hello 1").await;
    browser
        .goto(&format!("{}/app#/chats/{conversation}", proxy.base))
        .await;
    until_text(&browser, "#messages", "hello 1").await;
    assert_eq!(
        bubbles(&browser, "earlier 1").await,
        0,
        "not synced: too old"
    );
    until(
        &browser,
        "(document.querySelector('#messages').scrollTop = 0, [...document.querySelectorAll('#messages .bubble')].some(b => b.innerText.trim() === 'earlier 1'))",
        "scrolling back reaches the first message",
    )
    .await;
    until_text(&browser, "#messages .history-start", "beginning").await;

    // A send reaches the server but its ack never comes back; then the network goes.
    proxy.lose_replies(true);
    type_into(
        &browser,
        "#composer-input",
        &format!("sent, ack lost{ENTER}"),
    )
    .await;
    let stored =
        |items: &[Value], text: &str| items.iter().filter(|m| m["body"]["text"] == text).count();
    for _ in 0..200 {
        if stored(&history(&app, b, &conversation).await, "sent, ack lost") == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    proxy.down();

    // Offline: Bob goes on writing; Alice writes too (it waits in her outbox).
    for n in 2..=4 {
        send(&app, b, &conversation, &format!("hello {n}")).await;
    }
    type_into(
        &browser,
        "#composer-input",
        &format!("written offline{ENTER}"),
    )
    .await;
    until(
        &browser,
        "document.querySelectorAll('#messages .msg.pending').length === 2",
        "two pending",
    )
    .await;

    // The network is back: the client reconnects, catches up and resends what was not acked.
    proxy.up();
    browser
        .client
        .execute("window.dispatchEvent(new Event('online'));", vec![])
        .await
        .expect("online");
    until_text(&browser, "#messages", "hello 4").await;
    until(
        &browser,
        "document.querySelectorAll('#messages .msg.pending').length === 0",
        "nothing pending",
    )
    .await;
    let mut texts: Vec<String> = older;
    texts.extend(
        [
            "hello 1",
            "sent, ack lost",
            "hello 2",
            "hello 3",
            "hello 4",
            "written offline",
        ]
        .map(String::from),
    );
    for text in &texts {
        assert_eq!(bubbles(&browser, text).await, 1, "{text} once on the page");
    }
    let items = history(&app, b, &conversation).await;
    for text in &texts {
        assert_eq!(stored(&items, text), 1, "{text} stored once");
    }
    let seqs: Vec<i64> = items.iter().filter_map(|m| m["seq"].as_i64()).collect();
    assert_eq!(
        seqs,
        (1..=texts.len() as i64).collect::<Vec<_>>(),
        "no gaps"
    );
    // And in the order of their seqs on the page.
    let shown = eval(
        &browser,
        "[...document.querySelectorAll('#messages .bubble')].map(b => b.innerText.trim())",
    )
    .await;
    let shown: Vec<String> = serde_json::from_value(shown).expect("texts");
    assert_eq!(shown, texts, "the page shows the conversation in order");
}

crate::on_both_backends!(
    two_employees_chat_in_two_browsers,
    a_group_from_selected_contacts_with_a_picture_and_a_mention,
    an_offline_client_catches_up_without_duplicates,
);
