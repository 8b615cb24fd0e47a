//! Cards in the web client, in Chinese and English: an app's card shows its title, text,
//! fields and buttons; "Reject" asks for a comment and a confirmation, the action reaches the
//! app's callback, and the card then shows the decision and no buttons. Screenshots of the open
//! and the decided card go to `SCREENSHOTS_DIR` when set.

use crate::common;
use crate::im_apps::{Sink, callback_sink, register, with_key};
use crate::im_support::employees;

use std::sync::{Arc, Mutex};

use super::{open_signed_in, until, until_text};
use common::{Backend, Storage, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn shot(browser: &common::browser::Browser, name: &str) {
    if let Ok(dir) = std::env::var("SCREENSHOTS_DIR") {
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        browser
            .screenshot(&std::path::Path::new(&dir).join(format!("app-{name}.png")))
            .await;
    }
}

async fn a_card_is_decided_in_the_browser(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let me = employees(&app, "后端组", 1).await.remove(0);
    let sink = Arc::new(Mutex::new(Sink::default()));
    let url = callback_sink(sink.clone()).await;
    let (_, key, _) = register(&app, &url, json!({"kind": "everyone"})).await;

    for (lang, code, closed_word) in [("zh-CN", "zh", "已选择"), ("en", "en", "chose")] {
        let title = format!("请假申请 Leave request ({code})");
        let sent = with_key(&app, Method::POST, "/api/v1/im/server/cards", &key, Some(json!({
            "to": {"staff": [me.id]}, "decision": "single",
            "card": {
                "title": title, "text": "王五：12月1日至3日，家中有事。",
                "fields": [{"label": "天数 Days", "value": "3"}, {"label": "类型 Type", "value": "事假 Personal"}],
                "actions": [
                    {"id": "approve", "label": "同意 Approve"},
                    {"id": "reject", "label": "驳回 Reject", "confirm": "确定驳回？ Reject this request?", "comment": true}
                ]
            }
        }))).await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
        let conversation = sent.body["items"][0]["conversation"]
            .as_str()
            .expect("id")
            .to_owned();

        let browser = open_signed_in(&app, lang, &me).await;
        let _ = browser
            .client
            .execute("localStorage.setItem('switchboard.notify.dismissed', '1'); document.querySelector('#notify-offer')?.remove();", vec![])
            .await;
        browser
            .goto(&format!("{}/app#/chats/{conversation}", app.base))
            .await;
        until_text(&browser, "#messages", &title).await;
        until_text(&browser, "#messages .card-fields", "事假 Personal").await;
        shot(&browser, &format!("card-open-{code}")).await;

        until(
            &browser,
            "document.querySelector('#messages .card-action[data-action=reject]')",
            "the button",
        )
        .await;
        browser
            .client
            .execute(
                "document.querySelector('#messages .card-action[data-action=reject]').click()",
                vec![],
            )
            .await
            .expect("click");
        browser
            .find("#card-comment")
            .await
            .send_keys("时间冲突 Clash")
            .await
            .expect("type");
        browser
            .find("#card-comment-send")
            .await
            .click()
            .await
            .expect("send");
        browser
            .find("#confirm-yes")
            .await
            .click()
            .await
            .expect("confirm");
        until_text(&browser, "#messages .card-closed", closed_word).await;
        until(
            &browser,
            "!document.querySelector('#messages .card-action')",
            "the buttons are gone",
        )
        .await;
        shot(&browser, &format!("card-closed-{code}")).await;

        // The app heard it once, with the comment.
        let body: Value = {
            let mut found = None;
            for _ in 0..100 {
                let seen = sink
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .attempts
                    .iter()
                    .rev()
                    .find_map(|(_, b, _)| {
                        serde_json::from_slice::<Value>(b)
                            .ok()
                            .filter(|v| v["conversation"] == conversation.as_str())
                    });
                if seen.is_some() {
                    found = seen;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            found.expect("the callback arrived")
        };
        assert_eq!(body["action"]["id"], "reject");
        assert_eq!(body["comment"], "时间冲突 Clash");
    }
    app.stop().await;
}

crate::on_both_backends!(a_card_is_decided_in_the_browser,);
