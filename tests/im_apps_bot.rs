//! The example approval bot (examples/approval-bot/approval_bot.py) end to end, as the README
//! tells a new user to run it: IT registers the app, the bot asks a requester's department head
//! (found through the directory lookups of the server API), the head sees the card on their
//! device and presses "Approve", and the bot reports the outcome and tells the requester.

use crate::common;
use crate::im_apps::register;
use crate::im_support;

use std::io::{BufRead, BufReader};

use common::{Backend, Storage, TestApp};
use im_support::{Client, Person, department_staff};
use serde_json::{Value, json};

on_both_backends!(the_approval_bot_asks_the_head_and_reports,);

async fn the_approval_bot_asks_the_head_and_reports(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let (_, staff) = department_staff(&app, "Accounting").await;
    let title = |s: &Value| s["title"].as_str().unwrap_or("").to_owned();
    let head = staff
        .iter()
        .find(|s| title(s).contains("Head"))
        .expect("the demo department has a head");
    let requester = staff
        .iter()
        .find(|s| !title(s).contains("Head") && s["staff_type"] == "employee")
        .expect("an employee");
    let head = Person {
        id: head["id"].as_str().expect("id").to_owned(),
        login: head["login"].as_str().expect("login").to_owned(),
        token: app
            .login(head["login"].as_str().expect("login"), "demo1234")
            .await,
    };
    let requester_login = requester["login"].as_str().expect("login").to_owned();
    let requester = Person {
        id: requester["id"].as_str().expect("id").to_owned(),
        token: app.login(&requester_login, "demo1234").await,
        login: requester_login,
    };

    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        probe.local_addr().expect("addr").port()
    };
    let (_, key, secret) = register(
        &app,
        &format!("http://127.0.0.1:{port}/callback"),
        json!({"kind": "everyone"}),
    )
    .await;
    let (mut head_device, _) = Client::online(&app, &head, "phone").await;
    let (mut requester_device, _) = Client::online(&app, &requester, "laptop").await;

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/approval-bot/approval_bot.py"
    );
    let mut bot = std::process::Command::new("python3")
        .args([
            script, "--server", &app.base, "--key", &key, "--secret", &secret,
        ])
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--requester",
            &requester.login,
        ])
        .args([
            "--title",
            "请假申请 Leave request",
            "--text",
            "12月1日至3日 Dec 1-3",
            "--timeout",
            "60",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let stdout = bot.stdout.take().expect("stdout");
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut next_line = async || -> Value {
        let line = tokio::time::timeout(im_support::WAIT, lines.recv())
            .await
            .expect("the bot answers in time")
            .expect("a line");
        serde_json::from_str(&line).expect("JSON lines")
    };
    let asked = next_line().await;
    assert_eq!(asked["asked"], head.login.as_str(), "{asked}");

    // The head's device shows the card; they press "Approve".
    let card = head_device.message().await;
    assert_eq!(card["kind"], "card", "{card}");
    assert_eq!(card["body"]["actions"][0]["id"], "approve");
    head_device
        .send(
            json!({"type": "action", "id": "ok", "conversation": card["conversation"],
                     "seq": card["seq"], "action": "approve"}),
        )
        .await;
    assert_eq!(head_device.answer_to("ok").await["type"], "ack");

    let report = next_line().await;
    assert_eq!(report["outcome"], "approved", "{report}");
    assert_eq!(report["by"], head.login.as_str());
    let status = tokio::task::spawn_blocking(move || bot.wait())
        .await
        .expect("join")
        .expect("exit");
    assert!(status.success(), "the bot exits 0 on approval");

    // The requester hears the outcome from the bot; the head's card shows the bot's answer.
    let told = requester_device.message().await;
    assert_eq!(told["kind"], "card");
    assert!(
        told["body"]["title"]
            .as_str()
            .unwrap_or("")
            .contains("Approved"),
        "{told}"
    );
    loop {
        let m = head_device.message().await;
        if m["kind"] == "card_update"
            && m["body"]["title"]
                .as_str()
                .unwrap_or("")
                .contains("Approved")
        {
            assert_eq!(m["body"]["closed"]["by"], head.id.as_str());
            break;
        }
    }
    app.stop().await;
}
