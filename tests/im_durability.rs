//! Durability of the real `switchboard` binary: `kill -9` while clients are sending loses no
//! acknowledged message and duplicates nothing when clients resend what was not acknowledged;
//! SIGTERM drains sessions with 1001; idle sessions are closed with 4000.

use crate::common;
use crate::im_support;

use common::{Backend, Storage};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use im_support::text_of;
use serde_json::{Value, json};
use tokio_tungstenite::{connect_async, tungstenite::Message};

on_both_backends!(
    kill_9_loses_no_acked_message_and_resends_do_not_duplicate,
    sigterm_drains_sessions_and_idle_sessions_close,
);

const ADMIN_PASSWORD: &str = "durable-admin-pass";

/// The server as a child process, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start(storage: &Storage, port: u16, env: &[(&str, &str)]) -> Server {
    let dir = storage.data_dir();
    let dir = dir.as_path();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .expect("log file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data")
        .arg(dir.join("data"))
        .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    for (key, value) in env {
        command.env(key, value);
    }
    if let Some(pg) = &storage.pg {
        command.env("SWITCHBOARD_DATABASE_URL", pg.url());
    }
    let child = command.spawn().expect("switchboard starts");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{}/healthz", server.base)).send().await
            && r.status().is_success()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the server did not come up; see {}",
        dir.join("server.log").display()
    );
}

async fn post(base: &str, path: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json")
}

async fn get(base: &str, path: &str, token: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json")
}

async fn login(base: &str, login: &str, password: &str) -> String {
    let reply = post(
        base,
        "/api/v1/auth/login",
        None,
        json!({"login": login, "password": password}),
    )
    .await;
    reply["token"]
        .as_str()
        .unwrap_or_else(|| panic!("login {login}: {reply}"))
        .to_owned()
}

/// Logins of `count` employees of the Backend department.
async fn employees(base: &str, admin: &str, count: usize) -> Vec<(String, String)> {
    let departments = get(base, "/api/v1/admin/departments", admin).await;
    let backend = departments["items"]
        .as_array()
        .expect("departments")
        .iter()
        .find(|d| d["name"].as_str().unwrap_or("").contains("Backend"))
        .expect("Backend")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let staff = get(
        base,
        &format!("/api/v1/admin/staff?department_id={backend}&limit=100"),
        admin,
    )
    .await;
    staff["items"]
        .as_array()
        .expect("staff")
        .iter()
        .filter(|s| s["staff_type"] == "employee")
        .take(count)
        .map(|s| {
            (
                s["id"].as_str().expect("id").to_owned(),
                s["login"].as_str().expect("login").to_owned(),
            )
        })
        .collect()
}

/// Every message of a conversation, paging through the history API.
async fn all_messages(base: &str, conversation: &str, token: &str) -> Vec<Value> {
    let mut stored = Vec::new();
    let mut after = 0;
    loop {
        let page = get(
            base,
            &format!("/api/v1/im/conversations/{conversation}/messages?after={after}&limit=500"),
            token,
        )
        .await;
        let page = page.as_array().expect("page").clone();
        let Some(last) = page.last().and_then(|m| m["seq"].as_i64()) else {
            return stored;
        };
        after = last;
        stored.extend(page);
    }
}

/// What one sender saw: the acks it got (client_msg_id → ack) and what it sent.
#[derive(Default)]
struct Ledger {
    sent: Vec<String>,
    acked: HashMap<String, Value>,
}

/// Sends `c{i}-{n}` messages, up to 16 unacknowledged at a time, until the connection dies.
async fn send_until_killed(
    url: String,
    conversation: String,
    i: usize,
    ledger: Arc<Mutex<Ledger>>,
) {
    let Ok((mut ws, _)) = connect_async(&url).await else {
        return;
    };
    let _ = ws.next().await; // welcome
    let mut n = 0usize;
    let mut unacked = 0usize;
    loop {
        while unacked < 16 {
            let id = format!("c{i}-{n}");
            let frame = json!({"type": "send", "client_msg_id": id, "conversation": conversation,
                               "kind": "text", "body": {"text": id}});
            ledger
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .sent
                .push(id);
            if ws
                .send(Message::Text(frame.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
            n += 1;
            unacked += 1;
        }
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).expect("json");
                if frame["type"] == "ack" {
                    let id = frame["client_msg_id"].as_str().expect("id").to_owned();
                    ledger
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .acked
                        .insert(id, frame);
                    unacked -= 1;
                } else if frame["type"] == "error" {
                    panic!("unexpected error before the kill: {frame}");
                }
            }
            Some(Ok(_)) => {}
            _ => return,
        }
    }
}

async fn kill_9_loses_no_acked_message_and_resends_do_not_duplicate(backend: Backend) {
    let storage = Storage::new(backend).await;
    let port = free_port();
    let server = start(&storage, port, &[]).await;
    let base = server.base.clone();
    let admin = login(&base, "admin", ADMIN_PASSWORD).await;
    let people = employees(&base, &admin, 3).await;
    let mut tokens = Vec::new();
    for (_, login_name) in &people {
        tokens.push(login(&base, login_name, "demo1234").await);
    }
    let created = post(
        &base,
        "/api/v1/im/groups",
        Some(&tokens[0]),
        json!({"name": "durable", "members": [people[1].0, people[2].0]}),
    )
    .await;
    let conversation = created["conversation"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();

    let ledgers: Vec<Arc<Mutex<Ledger>>> = (0..3)
        .map(|_| Arc::new(Mutex::new(Ledger::default())))
        .collect();
    let mut tasks = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let url = format!("{}?token={token}&device=k", im_support::ws_url(&base));
        tasks.push(tokio::spawn(send_until_killed(
            url,
            conversation.clone(),
            i,
            ledgers[i].clone(),
        )));
    }
    // Let them send for a while, then kill -9 in mid-flight.
    let acked = || {
        ledgers
            .iter()
            .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()).acked.len())
            .sum::<usize>()
    };
    for _ in 0..200 {
        if acked() >= 600 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    drop(server); // SIGKILL (std's Child::kill), then reap
    for task in tasks {
        task.await.expect("sender task");
    }
    let before: Vec<(Vec<String>, HashMap<String, Value>)> = ledgers
        .iter()
        .map(|l| {
            let l = l.lock().unwrap_or_else(|e| e.into_inner());
            (l.sent.clone(), l.acked.clone())
        })
        .collect();
    let total_acked: usize = before.iter().map(|(_, a)| a.len()).sum();
    let total_sent: usize = before.iter().map(|(s, _)| s.len()).sum();
    eprintln!("before kill -9: {total_sent} sent, {total_acked} acked");
    assert!(total_acked > 0, "nothing was acknowledged before the kill");
    assert!(
        total_sent > total_acked,
        "the kill should catch sends in flight ({total_sent} sent)"
    );

    // Restart on the same data; every client resends what it has no ack for.
    let server = start(&storage, port, &[]).await;
    let committed = all_messages(&server.base, &conversation, &tokens[0])
        .await
        .iter()
        .filter(|m| m["kind"] == "text")
        .count();
    assert!(committed >= total_acked);
    let mut resent_acks: HashMap<String, Value> = HashMap::new();
    for (i, token) in tokens.iter().enumerate() {
        // Tokens issued before the crash are still good.
        let url = format!(
            "{}?token={token}&device=k",
            im_support::ws_url(&server.base)
        );
        let (mut ws, _) = connect_async(&url).await.expect("reconnects");
        let _ = ws.next().await;
        let (sent, acked) = &before[i];
        let pending: Vec<&String> = sent.iter().filter(|id| !acked.contains_key(*id)).collect();
        for id in &pending {
            let frame = json!({"type": "send", "client_msg_id": id, "conversation": conversation,
                               "kind": "text", "body": {"text": id}});
            ws.send(Message::Text(frame.to_string().into()))
                .await
                .expect("resend");
        }
        let mut got = 0;
        while got < pending.len() {
            let message = tokio::time::timeout(Duration::from_secs(15), ws.next())
                .await
                .expect("ack in time");
            if let Some(Ok(Message::Text(text))) = message {
                let frame: Value = serde_json::from_str(&text).expect("json");
                assert_eq!(frame["type"], "ack", "{frame}");
                resent_acks.insert(
                    frame["client_msg_id"].as_str().expect("id").to_owned(),
                    frame,
                );
                got += 1;
            }
        }
    }

    eprintln!(
        "after restart: {committed} committed before the kill ({} of them unacknowledged), {} resent",
        committed - total_acked,
        resent_acks.len()
    );
    // The store after the restart: every message once, seqs 1..N without gaps, every ack
    // given before the kill still true, each sender's messages in the order sent.
    let stored = all_messages(&server.base, &conversation, &tokens[0]).await;
    let by_id: BTreeMap<String, &Value> = stored
        .iter()
        .filter(|m| m["kind"] == "text")
        .map(|m| (text_of(m).to_owned(), m))
        .collect();
    let texts: Vec<&str> = stored
        .iter()
        .filter(|m| m["kind"] == "text")
        .map(text_of)
        .collect();
    assert_eq!(texts.len(), by_id.len(), "a message was stored twice");
    assert_eq!(
        texts.len(),
        total_sent,
        "every sent message is stored exactly once"
    );
    for (i, m) in stored.iter().enumerate() {
        assert_eq!(m["seq"], i as i64 + 1, "seqs have no gaps");
    }
    for (_, acked) in &before {
        for (id, ack) in acked {
            let m = by_id.get(id).unwrap_or_else(|| panic!("acked {id} lost"));
            assert_eq!(
                (&m["seq"], &m["msg_id"]),
                (&ack["seq"], &ack["msg_id"]),
                "{id}"
            );
        }
    }
    for (id, ack) in &resent_acks {
        let m = by_id.get(id).expect("resent message stored");
        assert_eq!(
            m["seq"], ack["seq"],
            "{id}: a resend answers with the stored position"
        );
    }
    for (i, (_, acked)) in before.iter().enumerate() {
        let prefix = format!("c{i}-");
        let order: Vec<usize> = texts
            .iter()
            .filter_map(|t| t.strip_prefix(&prefix))
            .map(|n| n.parse().expect("n"))
            .collect();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        let unique: HashSet<usize> = order.iter().copied().collect();
        assert_eq!(unique.len(), order.len());
        // Messages acked before the kill keep their send order; resent ones follow them.
        let acked_order: Vec<usize> = order
            .iter()
            .copied()
            .filter(|n| acked.contains_key(&format!("c{i}-{n}")))
            .collect();
        assert!(
            acked_order.windows(2).all(|w| w[0] < w[1]),
            "sender {i} out of order: {acked_order:?}"
        );
    }
    drop(server);
}

async fn sigterm_drains_sessions_and_idle_sessions_close(backend: Backend) {
    let storage = Storage::new(backend).await;
    let port = free_port();
    let server = start(&storage, port, &[("SWITCHBOARD_IM_IDLE_SECS", "5")]).await;
    let admin = login(&server.base, "admin", ADMIN_PASSWORD).await;
    let people = employees(&server.base, &admin, 1).await;
    let token = login(&server.base, &people[0].1, "demo1234").await;
    let url = format!("{}?token={token}", im_support::ws_url(&server.base));
    let close_code = |mut ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >| async move {
        loop {
            match tokio::time::timeout(Duration::from_secs(30), ws.next())
                .await
                .expect("closed in time")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    };
    // Silent for longer than the idle limit: 4000. The server pings at half the limit; a
    // client that reads answers pings by itself and stays, so this one reads nothing.
    let (idle, _) = connect_async(&url).await.expect("connects");
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(close_code(idle).await, Some(4000));

    let (ws, _) = connect_async(format!("{url}&device=b"))
        .await
        .expect("connects");
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    assert_eq!(close_code(ws).await, Some(1001));
    let mut server = server;
    let exited = tokio::task::spawn_blocking(move || {
        let status = server.child.wait();
        (server, status)
    });
    let (_server, status) = tokio::time::timeout(Duration::from_secs(30), exited)
        .await
        .expect("exits after draining")
        .expect("join");
    assert!(status.expect("status").success());
}
