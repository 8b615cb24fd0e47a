//! The load tool's clients: one task per simulated person, a real WebSocket (tokio-tungstenite)
//! speaking protocol v1, driven by commands and counting into shared atomics.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::Instant,
};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::{connect_async_with_config, tungstenite::Message};

/// What the clients count, shared with the controller.
pub struct Shared {
    pub start: Instant,
    pub delivered: AtomicU64,
    pub acked: AtomicU64,
    pub errors: AtomicU64,
    pub synced: AtomicUsize,
    /// Messages received inside `messages` frames (sync).
    pub synced_messages: AtomicU64,
    pub recording: AtomicBool,
    pub latencies: Mutex<Vec<u32>>,
    /// For the same messages: send → the server's commit timestamp (µs, ms resolution).
    pub to_commit: Mutex<Vec<u32>>,
    /// The wall clock at `start`, in µs since the epoch (server timestamps are wall-clock ms).
    pub start_wall_us: u64,
    /// Fan-out probes: the current tag, how many received it, when the last one did (µs).
    pub probe: AtomicU64,
    pub probe_count: AtomicUsize,
    pub probe_last_us: AtomicU64,
    /// Clients whose sync after the reconnect has delivered everything expected.
    pub caught_up: AtomicUsize,
}

impl Shared {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            delivered: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            synced: AtomicUsize::new(0),
            synced_messages: AtomicU64::new(0),
            recording: AtomicBool::new(false),
            latencies: Mutex::new(Vec::new()),
            to_commit: Mutex::new(Vec::new()),
            start_wall_us: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64),
            probe: AtomicU64::new(0),
            probe_count: AtomicUsize::new(0),
            probe_last_us: AtomicU64::new(0),
            caught_up: AtomicUsize::new(0),
        })
    }

    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
}

/// What the controller asks of a client.
#[derive(Debug, Clone)]
pub enum Cmd {
    /// Send a direct message to one of the client's peers (by index), stamped with the time.
    Direct(usize),
    /// Keep `window` sends to random peers in flight (0 stops).
    ClosedLoop(usize),
    /// Send a probe (`p:<tag>`) to a conversation.
    Probe { conversation: String, tag: u64 },
    /// Close the connection and wait for `Reconnect`.
    Disconnect,
    /// Connect again, sync with the cursors held, expect `expect` missed messages.
    Reconnect { expect: u64 },
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default, borrow)]
    conversation: Option<&'a str>,
    #[serde(default)]
    seq: Option<i64>,
    #[serde(default, borrow)]
    sender: Option<&'a str>,
    #[serde(default, borrow)]
    body: Option<Body<'a>>,
    #[serde(default)]
    ts: Option<u64>,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(default, borrow)]
    text: Option<&'a str>,
}

/// One simulated person.
pub struct Person {
    pub index: usize,
    pub staff: String,
    pub url: String,
    pub peers: Vec<String>,
    /// Their department chat, once learnt from `sync.done`.
    pub department_chat: Arc<Mutex<Option<String>>>,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Option<Socket> {
    for _ in 0..50 {
        // Nagle off, as in any chat client: small frames go out at once.
        if let Ok((mut ws, _)) = connect_async_with_config(url, None, true).await {
            let _welcome = ws.next().await?;
            return Some(ws);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    None
}

/// Runs one person until the controller drops its command channel.
pub async fn run(person: Person, shared: Arc<Shared>, mut commands: mpsc::UnboundedReceiver<Cmd>) {
    let mut cursors: HashMap<String, i64> = HashMap::new();
    let mut counter = 0u64;
    let mut window = 0usize;
    let mut inflight = 0usize;
    let mut expect_sync: Option<u64> = None;
    let mut rng_state = person.index as u64 * 2_654_435_761 + 1;
    let mut next_peer = move |n: usize| {
        // xorshift: cheap and good enough to spread load over the peers.
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        (rng_state % n as u64) as usize
    };
    let Some(mut ws) = connect(&person.url).await else {
        shared.errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let sync = |cursors: &HashMap<String, i64>| {
        json!({"type": "sync", "cursors": cursors, "recent": 0}).to_string()
    };
    if ws.send(Message::Text(sync(&cursors).into())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { return };
                let mut out: Vec<String> = Vec::new();
                match command {
                    Cmd::Direct(peer) => {
                        counter += 1;
                        let peer = &person.peers[peer % person.peers.len()];
                        out.push(direct(person.index, counter, peer, shared.now_us()));
                    }
                    Cmd::ClosedLoop(w) => {
                        window = w;
                        while inflight < window {
                            counter += 1;
                            inflight += 1;
                            let peer = &person.peers[next_peer(person.peers.len())];
                            out.push(direct(person.index, counter, peer, shared.now_us()));
                        }
                    }
                    Cmd::Probe { conversation, tag } => {
                        counter += 1;
                        out.push(json!({"type": "send", "client_msg_id": format!("{}-{counter}", person.index),
                            "conversation": conversation, "kind": "text", "body": {"text": format!("p:{tag}")}}).to_string());
                    }
                    Cmd::Disconnect => {
                        let _ = ws.close(None).await;
                        // Wait for the reconnect order (commands in between are dropped).
                        let expect = loop {
                            match commands.recv().await {
                                Some(Cmd::Reconnect { expect }) => break expect,
                                Some(_) => continue,
                                None => return,
                            }
                        };
                        let Some(again) = connect(&person.url).await else {
                            shared.errors.fetch_add(1, Ordering::Relaxed);
                            return;
                        };
                        ws = again;
                        expect_sync = Some(expect);
                        out.push(sync(&cursors));
                    }
                    Cmd::Reconnect { .. } => {}
                }
                for text in out {
                    if ws.feed(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                if ws.flush().await.is_err() {
                    return;
                }
            }
            message = ws.next() => {
                let Some(Ok(message)) = message else {
                    // The server went away (or closed us); wait for orders to reconnect.
                    if commands.recv().await.is_none() { return; }
                    continue;
                };
                let Message::Text(text) = message else { continue };
                let Ok(frame) = serde_json::from_str::<Frame<'_>>(&text) else {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let mut advance = |conversation: Option<&str>, seq: Option<i64>| {
                    if let (Some(c), Some(s)) = (conversation, seq) {
                        let cursor = cursors.entry(c.to_owned()).or_insert(0);
                        *cursor = (*cursor).max(s);
                    }
                };
                match frame.kind {
                    "ack" => {
                        advance(frame.conversation, frame.seq);
                        shared.acked.fetch_add(1, Ordering::Relaxed);
                        inflight = inflight.saturating_sub(1);
                        if inflight < window {
                            counter += 1;
                            inflight += 1;
                            let peer = &person.peers[next_peer(person.peers.len())];
                            let text = direct(person.index, counter, peer, shared.now_us());
                            if ws.send(Message::Text(text.into())).await.is_err() {
                                return;
                            }
                        }
                    }
                    "message" => {
                        advance(frame.conversation, frame.seq);
                        if frame.sender == Some(person.staff.as_str()) {
                            continue;
                        }
                        shared.delivered.fetch_add(1, Ordering::Relaxed);
                        let text = frame.body.and_then(|b| b.text).unwrap_or_default();
                        if let Some(sent) = text.strip_prefix("t:").and_then(|t| t.parse::<u64>().ok()) {
                            if shared.recording.load(Ordering::Relaxed) {
                                let latency = shared.now_us().saturating_sub(sent) as u32;
                                shared.latencies.lock().unwrap_or_else(|e| e.into_inner()).push(latency);
                                if let Some(ts) = frame.ts {
                                    let committed = (ts * 1000).saturating_sub(shared.start_wall_us);
                                    shared.to_commit.lock().unwrap_or_else(|e| e.into_inner())
                                        .push(committed.saturating_sub(sent) as u32);
                                }
                            }
                        } else if let Some(tag) = text.strip_prefix("p:").and_then(|t| t.parse::<u64>().ok())
                            && tag == shared.probe.load(Ordering::Acquire)
                        {
                            shared.probe_last_us.fetch_max(shared.now_us(), Ordering::AcqRel);
                            shared.probe_count.fetch_add(1, Ordering::AcqRel);
                        }
                    }
                    "messages" => {
                        let value: Value = serde_json::from_str(&text).unwrap_or_default();
                        let items = value["items"].as_array().map_or(0, Vec::len) as u64;
                        shared.synced_messages.fetch_add(items, Ordering::Relaxed);
                        for item in value["items"].as_array().into_iter().flatten() {
                            advance(item["conversation"].as_str(), item["seq"].as_i64());
                        }
                        if let Some(expect) = expect_sync.as_mut() {
                            *expect = expect.saturating_sub(items);
                        }
                    }
                    "sync.done" => {
                        shared.synced.fetch_add(1, Ordering::Relaxed);
                        let value: Value = serde_json::from_str(&text).unwrap_or_default();
                        for c in value["conversations"].as_array().into_iter().flatten() {
                            if c["kind"] == "department" {
                                *person.department_chat.lock().unwrap_or_else(|e| e.into_inner()) =
                                    c["id"].as_str().map(str::to_owned);
                            }
                            // Conversations first seen now: start from their last seq.
                            if let (Some(id), Some(last)) = (c["id"].as_str(), c["last_seq"].as_i64()) {
                                cursors.entry(id.to_owned()).or_insert(last);
                            }
                        }
                        if expect_sync.take() == Some(0) {
                            shared.caught_up.fetch_add(1, Ordering::AcqRel);
                        }
                    }
                    "error" => {
                        shared.errors.fetch_add(1, Ordering::Relaxed);
                        inflight = inflight.saturating_sub(1);
                    }
                    _ => {}
                }
            }
        }
    }
}

fn direct(me: usize, counter: u64, peer: &str, now_us: u64) -> String {
    format!(
        r#"{{"type":"send","client_msg_id":"{me}-{counter}","to":"{peer}","kind":"text","body":{{"text":"t:{now_us}"}}}}"#
    )
}
