//! Screenshots of the web client in Chinese and English (`scripts/screenshots`): the demo
//! company, a group and a direct chat with some messages, then the sign-in page, the contact
//! list with a person's card, a chat, and the phone-sized layout, saved as PNGs to
//! `docs/screenshots/app-*.png`. Ignored by the suite: it writes into the source tree.

use std::time::Duration;

use crate::common;
use crate::im_support::Person;

use super::{until, until_text};
use common::{Backend, Storage, TestApp, browser::Browser};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The front-end team members the README names, and two colleagues.
const LOGINS: [&str; 4] = ["caijie", "caiyiming", "liujiaqi", "gaozhiqiang"];

async fn person(app: &TestApp, login: &str) -> Person {
    let token = app.login(login, switchboard::demo::DEMO_PASSWORD).await;
    let me = app
        .call(Method::GET, "/api/v1/auth/me", Some(&token), None)
        .await;
    Person {
        id: me.body["staff_id"].as_str().expect("a person").to_owned(),
        login: login.to_owned(),
        token,
    }
}

async fn say(app: &TestApp, from: &Person, conversation: &str, key: &str, body: serde_json::Value) {
    let mentions = body.get("mentions").cloned();
    let mut frame = json!({"client_msg_id": key, "kind": "text", "body": {"text": body["text"]}});
    if let Some(mentions) = mentions {
        frame["mentions"] = mentions;
    }
    let sent = app
        .call(
            Method::POST,
            &format!("/api/v1/im/conversations/{conversation}/messages"),
            Some(&from.token),
            Some(frame),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots; run scripts/screenshots"]
async fn webapp_screenshots() {
    let out = std::env::var("SCREENSHOTS_DIR").map_or_else(
        |_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots"),
        std::path::PathBuf::from,
    );
    std::fs::create_dir_all(&out).expect("screenshot folder");
    let storage = Storage::new(Backend::Sqlite).await;
    let app = TestApp::start(&storage, true).await;
    let mut people = Vec::new();
    for login in LOGINS {
        people.push(person(&app, login).await);
    }
    let (me, peer) = (&people[0], &people[1]);

    // A group of four with a conversation, and a direct chat.
    let group = app
        .call(
            Method::POST,
            "/api/v1/im/groups",
            Some(&peer.token),
            Some(json!({"name": "发布会筹备 Launch", "members": people.iter().map(|p| &p.id).collect::<Vec<_>>()})),
        )
        .await;
    let group = group.body["conversation"]
        .as_str()
        .expect("group")
        .to_owned();
    let lines = [
        (1, "大家好！周五的发布会，设计稿今天能定稿吗？"),
        (
            2,
            "Landing page is done, the screenshots are in the shared folder.",
        ),
        (3, "演示环境已经部署好了，随时可以看。"),
    ];
    for (n, (who, text)) in lines.iter().enumerate() {
        say(
            &app,
            &people[*who],
            &group,
            &format!("g{n}"),
            json!({"text": text}),
        )
        .await;
    }
    say(
        &app,
        &people[1],
        &group,
        "g9",
        json!({"text": "@蔡杰 下午三点一起过一遍流程？", "mentions": [me.id]}),
    )
    .await;
    let direct = app
        .call(
            Method::POST,
            "/api/v1/im/direct",
            Some(&peer.token),
            Some(json!({"staff": me.id})),
        )
        .await;
    let direct = direct.body["conversation"]
        .as_str()
        .expect("direct")
        .to_owned();
    say(
        &app,
        peer,
        &direct,
        "d1",
        json!({"text": "明天的评审改到 10 点了"}),
    )
    .await;

    for (lang, code) in [("zh-CN", "zh"), ("en-US", "en")] {
        let shot = |name: &str| out.join(format!("app-{name}-{code}.png"));
        let browser = Browser::start(lang).await;
        browser.goto(&format!("{}/app", app.base)).await;
        browser.find("#sign-in").await;
        browser.screenshot(&shot("signin")).await;
        browser
            .sign_in(&me.login, switchboard::demo::DEMO_PASSWORD)
            .await;
        browser.find("#app-shell").await;
        // The notification offer is answered once; the pictures show the page after it.
        let _ = browser
            .client
            .execute("localStorage.setItem('switchboard.notify.dismissed', '1'); document.querySelector('#notify-offer')?.remove();", vec![])
            .await;

        browser
            .goto(&format!("{}/app#/chats/{group}", app.base))
            .await;
        until_text(&browser, "#messages", "流程").await;
        until(
            &browser,
            "document.querySelector('#conv-list .conv[data-kind=direct]')",
            "the direct chat",
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        browser.screenshot(&shot("chat")).await;

        browser
            .goto(&format!("{}/app#/contacts/p/{}", app.base, peer.id))
            .await;
        browser.find("#person-card").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        browser.screenshot(&shot("card")).await;

        browser.goto(&format!("{}/app#/contacts", app.base)).await;
        browser
            .find("#contact-search")
            .await
            .send_keys("cai")
            .await
            .expect("type");
        browser.find("#search-results").await;
        browser.screenshot(&shot("search")).await;

        // A phone-sized window: the list, then one chat.
        browser
            .client
            .set_window_size(420, 860)
            .await
            .expect("resize");
        browser.goto(&format!("{}/app#/chats", app.base)).await;
        browser.find("#conv-list .conv").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        browser.screenshot(&shot("phone-list")).await;
        browser
            .goto(&format!("{}/app#/chats/{group}", app.base))
            .await;
        until_text(&browser, "#messages", "流程").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        browser.screenshot(&shot("phone-chat")).await;
    }
    println!("screenshots in {}", out.display());
}
