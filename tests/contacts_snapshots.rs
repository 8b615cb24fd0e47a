//! A large contact list being sent holds up nobody: a client that stops reading a snapshot
//! keeps it in flight (the body is written from a frozen view as the client reads), and
//! meanwhile an HR edit commits, search and other clients' snapshots answer with the edit;
//! when the slow client reads on, it gets the whole list exactly as it was at its version.

use crate::common;

use std::time::Duration;

use common::{Backend, Storage, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_backends!(an_edit_commits_while_a_snapshot_is_in_flight);

/// Far longer than any of these steps takes when nothing is blocked.
const GENEROUS: Duration = Duration::from_secs(120);

/// People in the list, and custom text fields of 2,000 three-byte characters each: about
/// 96 KB per person, 11 MB in all — far more than socket buffers hold.
const PEOPLE: usize = 120;
const FIELDS: usize = 16;

async fn an_edit_commits_while_a_snapshot_is_in_flight(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let ops = app.create_department(None, "Ops", "business").await;
    let role = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": "all"})),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    let role = role.body["id"].as_str().unwrap().to_owned();
    let rule = app
        .admin(
            Method::POST,
            "/api/v1/admin/rules",
            Some(json!({"role_id": role, "effect": "allow", "object": "all"})),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);
    for k in 0..FIELDS {
        let field = app
            .admin(
                Method::POST,
                "/api/v1/admin/fields",
                Some(json!({"entity": "staff", "key": format!("note{k}"), "label": "Note", "field_type": "text"})),
            )
            .await;
        assert!(field.status.is_success(), "{}", field.body);
    }
    let long: String = "档".repeat(2_000);
    let custom: serde_json::Map<String, Value> = (0..FIELDS)
        .map(|k| (format!("note{k}"), json!(long)))
        .collect();
    let mut target = String::new();
    for n in 0..PEOPLE {
        let reply = app
            .admin(
                Method::POST,
                "/api/v1/admin/staff",
                Some(json!({
                    "login": format!("p{n}"), "display_name": format!("Person {n}"),
                    "title": "Before", "staff_type": "employee", "custom": custom,
                    "departments": [{"department_id": ops}]
                })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        target = reply.body["id"].as_str().unwrap().to_owned();
    }
    let viewer = app.create_staff("viewer", "Vera Viewer", &[&ops]).await;
    let assigned = app
        .admin(
            Method::POST,
            "/api/v1/admin/assignments",
            Some(json!({"role_id": role, "subject_kind": "staff", "subject": viewer})),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    let token = app.staff_token(&viewer, "viewer").await;

    // A client that reads the headers and the first bytes of its snapshot, then stops.
    let mut slow = SlowClient::start(&app, &token).await;
    assert_eq!(slow.status, 200, "{}", slow.head);
    assert_eq!(
        in_flight(&app).await,
        1,
        "the snapshot should still be in flight (not all written into socket buffers)"
    );

    // HR edits the person while the list is in flight: the edit commits.
    let edit = tokio::time::timeout(
        GENEROUS,
        app.admin(
            Method::PATCH,
            &format!("/api/v1/admin/staff/{target}"),
            Some(json!({"title": "After"})),
        ),
    )
    .await
    .expect("the edit is held up by a snapshot in flight");
    assert_eq!(edit.status, StatusCode::OK, "{}", edit.body);
    let edited_at = edit.body["version"].as_i64().unwrap();

    // Readers see the edit while the slow client still holds its list.
    let search = app
        .call(
            Method::GET,
            &format!("/api/v1/contacts/search?q=p{}", PEOPLE - 1),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(search.status, StatusCode::OK, "{}", search.body);
    assert_eq!(search.body["staff"][0]["title"], "After", "{}", search.body);
    let fresh = app
        .call(Method::GET, "/api/v1/contacts/snapshot", Some(&token), None)
        .await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert!(fresh.body["version"].as_i64().unwrap() >= edited_at);
    assert_eq!(
        in_flight(&app).await,
        1,
        "the slow snapshot should have stayed in flight across the edit"
    );

    // The slow client reads on: the whole list, as it was at its version.
    let old = tokio::time::timeout(GENEROUS, slow.finish())
        .await
        .expect("the rest of the snapshot arrives");
    let old_version = old["version"].as_i64().unwrap();
    assert!(old_version < edited_at, "{old_version} vs {edited_at}");
    assert!(
        slow.etag.ends_with(&format!(".{old_version}\"")),
        "{}",
        slow.etag
    );
    let old_people = by_id(&old);
    let new_people = by_id(&fresh.body);
    assert_eq!(old_people.len(), PEOPLE + 1);
    assert_eq!(
        old_people.keys().collect::<Vec<_>>(),
        new_people.keys().collect::<Vec<_>>()
    );
    for (id, person) in &old_people {
        let mut now = new_people[id].clone();
        if *id == target {
            assert_eq!(person["title"], "Before");
            assert_eq!(now["title"], "After");
            now["title"] = json!("Before");
        }
        assert_eq!(*person, now, "{id} differs between the two snapshots");
    }
    assert_eq!(old["departments"], fresh.body["departments"]);
    let drained = tokio::time::timeout(GENEROUS, async {
        while in_flight(&app).await != 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        drained.is_ok(),
        "a finished snapshot is no longer in flight"
    );
}

fn by_id(snapshot: &Value) -> std::collections::BTreeMap<String, Value> {
    snapshot["staff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s.clone()))
        .collect()
}

/// What `/metrics` says about snapshot bodies being sent.
async fn in_flight(app: &TestApp) -> u64 {
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
        .find_map(|l| l.strip_prefix("switchboard_contacts_snapshots_in_flight "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no snapshots-in-flight gauge in /metrics"))
}

/// A raw HTTP/1.1 client with a tiny receive buffer that stops reading after the headers.
struct SlowClient {
    stream: tokio::net::TcpStream,
    status: u16,
    head: String,
    etag: String,
    chunked: bool,
    /// Body bytes already read.
    body: Vec<u8>,
}

impl SlowClient {
    async fn start(app: &TestApp, token: &str) -> Self {
        let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        let request = format!(
            "GET /api/v1/contacts/snapshot HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buffer = Vec::new();
        let end = loop {
            let mut chunk = [0u8; 1024];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before the headers");
            buffer.extend_from_slice(&chunk[..n]);
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
                .unwrap_or_default()
        };
        let etag = header("etag");
        let chunked = header("transfer-encoding").eq_ignore_ascii_case("chunked");
        Self {
            body: buffer[end..].to_vec(),
            stream,
            status,
            head,
            etag,
            chunked,
        }
    }

    /// Reads the rest of the body (the server closes the connection after it) and parses it.
    async fn finish(&mut self) -> Value {
        self.stream.read_to_end(&mut self.body).await.unwrap();
        let body = if self.chunked {
            dechunk(&self.body)
        } else {
            self.body.clone()
        };
        serde_json::from_slice(&body).expect("the snapshot is whole JSON")
    }
}

/// Decodes an HTTP/1.1 chunked body.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(
            std::str::from_utf8(&raw[..line_end])
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .expect("chunk size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}
