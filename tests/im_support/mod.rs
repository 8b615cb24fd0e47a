//! Helpers for the messaging tests: a real WebSocket client (tokio-tungstenite) speaking the
//! protocol of docs/protocol.md, and ways to find demo employees to play with.

#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, protocol::frame::coding::CloseCode},
};

use crate::common::TestApp;

/// How long a test waits for an expected frame.
pub const WAIT: Duration = Duration::from_secs(15);

/// A logged-in demo employee.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub login: String,
    pub token: String,
}

/// Staff of a demo department (by a part of its name), as the admin lists them.
pub async fn department_staff(app: &TestApp, name_part: &str) -> (String, Vec<Value>) {
    let departments = app
        .admin(Method::GET, "/api/v1/admin/departments", None)
        .await;
    let department = departments.body["items"]
        .as_array()
        .expect("departments")
        .iter()
        .find(|d| d["name"].as_str().unwrap_or("").contains(name_part))
        .unwrap_or_else(|| panic!("no department named like {name_part}"))
        .clone();
    let id = department["id"].as_str().expect("id").to_owned();
    let staff = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/staff?department_id={id}&limit=1000"),
            None,
        )
        .await;
    (id, staff.body["items"].as_array().expect("staff").clone())
}

/// Logs in `count` ordinary employees (staff_type employee) of a demo department.
pub async fn employees(app: &TestApp, department: &str, count: usize) -> Vec<Person> {
    let (_, staff) = department_staff(app, department).await;
    let mut out = Vec::new();
    for person in staff.iter().filter(|s| s["staff_type"] == "employee") {
        if out.len() == count {
            break;
        }
        let login = person["login"].as_str().expect("login").to_owned();
        let token = app.login(&login, "demo1234").await;
        out.push(Person {
            id: person["id"].as_str().expect("id").to_owned(),
            login,
            token,
        });
    }
    assert_eq!(out.len(), count, "not enough employees in {department}");
    out
}

/// A WebSocket session.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub welcome: Value,
    /// Frames read while waiting for another type, kept for later.
    pending: Vec<Value>,
}

pub fn ws_url(base: &str) -> String {
    base.replacen("http://", "ws://", 1) + "/ws"
}

impl Client {
    /// Connects and reads the welcome frame.
    pub async fn connect(app: &TestApp, person: &Person, device: &str) -> Self {
        Self::connect_url(&format!(
            "{}?token={}&device={device}",
            ws_url(&app.base),
            person.token
        ))
        .await
    }

    pub async fn connect_url(url: &str) -> Self {
        let (ws, _) = connect_async(url).await.expect("websocket connects");
        let mut client = Self {
            ws,
            welcome: Value::Null,
            pending: Vec::new(),
        };
        client.welcome = client.next().await;
        assert_eq!(client.welcome["type"], "welcome", "{}", client.welcome);
        client
    }

    /// Connects and syncs from nothing; returns the client and the `sync.done` frame.
    pub async fn online(app: &TestApp, person: &Person, device: &str) -> (Self, Value) {
        let mut client = Self::connect(app, person, device).await;
        let (_, done) = client.sync(json!({})).await;
        (client, done)
    }

    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("frame sent");
    }

    /// Sends unless the server has already closed the connection.
    pub async fn try_send(&mut self, frame: Value) -> bool {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_ok()
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.expect("frame sent");
    }

    /// The next frame (pending ones first), skipping presence and typing cues.
    pub async fn next(&mut self) -> Value {
        self.next_any(&["presence", "typing", "contacts.changed"])
            .await
    }

    async fn next_any(&mut self, skip: &[&str]) -> Value {
        if let Some(i) = self
            .pending
            .iter()
            .position(|f| !skip.contains(&f["type"].as_str().unwrap_or("")))
        {
            return self.pending.remove(i);
        }
        loop {
            let frame = self.read().await.expect("a frame, not a close");
            if !skip.contains(&frame["type"].as_str().unwrap_or("")) {
                return frame;
            }
        }
    }

    /// Reads one frame: `Err(close code)` when the server closed.
    pub async fn read(&mut self) -> Result<Value, Option<u16>> {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within the wait");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Ok(serde_json::from_str(&text).expect("server frames are JSON"));
                }
                Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(None),
            }
        }
    }

    fn keep(&mut self, frame: Value) {
        assert!(
            self.pending.len() < 10_000,
            "too many unexpected frames, e.g. {frame}"
        );
        self.pending.push(frame);
    }

    /// A frame within `wait`: `None` if none came, `Some(Err(code))` once closed.
    pub async fn poll(&mut self, wait: Duration) -> Option<Result<Value, Option<u16>>> {
        loop {
            let message = tokio::time::timeout(wait, self.ws.next()).await.ok()?;
            return Some(match message {
                Some(Ok(Message::Text(text))) => {
                    Ok(serde_json::from_str(&text).expect("server frames are JSON"))
                }
                Some(Ok(Message::Close(frame))) => Err(frame.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => Err(None),
            });
        }
    }

    /// The next frame of type `ty` (others are kept for `next`).
    pub async fn next_of(&mut self, ty: &str) -> Value {
        if let Some(i) = self.pending.iter().position(|f| f["type"] == ty) {
            return self.pending.remove(i);
        }
        loop {
            let frame = self.read().await.expect("a frame, not a close");
            if frame["type"] == ty {
                return frame;
            }
            self.keep(frame);
        }
    }

    /// Syncs; returns every message sent (in order) and the `sync.done` frame.
    pub async fn sync(&mut self, cursors: Value) -> (Vec<Value>, Value) {
        self.pending.retain(|f| f["type"] != "message");
        self.send(json!({"type": "sync", "id": "sync", "cursors": cursors}))
            .await;
        let mut messages = Vec::new();
        loop {
            let frame = self.next().await;
            match frame["type"].as_str() {
                Some("messages") => {
                    messages.extend(frame["items"].as_array().cloned().unwrap_or_default());
                }
                Some("sync.done") => return (messages, frame),
                _ => self.keep(frame),
            }
        }
    }

    /// Sends a text and waits for its ack (or error frame).
    pub async fn text(&mut self, conversation: &str, client_msg_id: &str, text: &str) -> Value {
        self.send(json!({"type": "send", "client_msg_id": client_msg_id,
                         "conversation": conversation, "kind": "text", "body": {"text": text}}))
            .await;
        self.answer_for(client_msg_id).await
    }

    /// The ack or error for a `client_msg_id`.
    pub async fn answer_for(&mut self, client_msg_id: &str) -> Value {
        if let Some(i) = self.pending.iter().position(|f| {
            (f["type"] == "ack" || f["type"] == "error") && f["client_msg_id"] == client_msg_id
        }) {
            return self.pending.remove(i);
        }
        loop {
            let frame = self.read().await.expect("a frame, not a close");
            if (frame["type"] == "ack" || frame["type"] == "error")
                && frame["client_msg_id"] == client_msg_id
            {
                return frame;
            }
            self.pending.push(frame);
        }
    }

    /// The ack or error answering the frame with request id `id`.
    pub async fn answer_to(&mut self, id: &str) -> Value {
        let answers = |f: &Value| (f["type"] == "ack" || f["type"] == "error") && f["id"] == id;
        if let Some(i) = self.pending.iter().position(answers) {
            return self.pending.remove(i);
        }
        loop {
            let frame = self.read().await.expect("a frame, not a close");
            if answers(&frame) {
                return frame;
            }
            self.pending.push(frame);
        }
    }

    /// The next pushed `message`.
    pub async fn message(&mut self) -> Value {
        self.next_of("message").await
    }

    /// Reads until the server closes; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) => return None,
                Err(_) => panic!("the server did not close the connection"),
            }
        }
    }

    /// Frames that arrive within `quiet` (for "nothing more comes" checks).
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut out: Vec<Value> = std::mem::take(&mut self.pending);
        while let Ok(Some(Ok(message))) = tokio::time::timeout(quiet, self.ws.next()).await {
            if let Message::Text(text) = message {
                out.push(serde_json::from_str(&text).expect("JSON"));
            }
        }
        out
    }

    pub async fn close(mut self) {
        let _ = self
            .ws
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "bye".into(),
            }))
            .await;
    }
}

/// The text of a message frame or view.
pub fn text_of(message: &Value) -> &str {
    message["body"]["text"].as_str().unwrap_or("")
}
