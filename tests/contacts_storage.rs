//! What contact-sync history costs in storage, and how it is forgotten: people moved between
//! view classes one by one store what changed for the classes, not a whole view per move; the
//! changelog is compacted past the retention and clients older than it reset; start-up does not
//! read the changelog's history (a client that synced before converges without it); and the
//! SQLite WAL stays bounded while commits keep coming.

use crate::common;

use std::{collections::BTreeMap, time::Duration};

use common::{Backend, Storage, TestApp};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

on_both_backends!(
    people_moved_one_by_one_store_what_changed,
    the_changelog_is_compacted_past_the_retention,
    start_up_does_not_need_the_changelog
);

/// A syncing client over HTTP: its entries and their version.
struct Client {
    token: String,
    version: i64,
    entries: BTreeMap<String, Value>,
}

fn entries_of(snapshot: &Value) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for (kind, list) in [("department", "departments"), ("staff", "staff")] {
        for entry in snapshot[list].as_array().unwrap() {
            map.insert(
                format!("{kind}:{}", entry["id"].as_str().unwrap()),
                entry.clone(),
            );
        }
    }
    map
}

impl Client {
    async fn start(app: &TestApp, token: String) -> Self {
        let snapshot = app
            .call(Method::GET, "/api/v1/contacts/snapshot", Some(&token), None)
            .await;
        assert_eq!(snapshot.status, StatusCode::OK, "{}", snapshot.body);
        Self {
            token,
            version: snapshot.body["version"].as_i64().unwrap(),
            entries: entries_of(&snapshot.body),
        }
    }

    /// The delta since this client's version, unapplied.
    async fn delta(&self, app: &TestApp) -> Value {
        let reply = app
            .call(
                Method::GET,
                &format!("/api/v1/contacts/delta?since={}", self.version),
                Some(&self.token),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    /// Pulls a delta (never a reset), applies it and checks it against a fresh snapshot.
    async fn sync(&mut self, app: &TestApp) {
        let delta = self.delta(app).await;
        assert!(delta.get("reset").is_none(), "a reset: {delta}");
        for change in delta["changes"].as_array().unwrap() {
            let key = format!(
                "{}:{}",
                change["kind"].as_str().unwrap(),
                change["id"].as_str().unwrap()
            );
            if change["op"] == "upsert" {
                self.entries.insert(key, change["data"].clone());
            } else {
                self.entries.remove(&key);
            }
        }
        self.version = delta["version"].as_i64().unwrap();
        let now = Client::start(app, self.token.clone()).await;
        assert_eq!(now.version, self.version);
        assert_eq!(self.entries, now.entries, "snapshot + delta == snapshot");
    }
}

async fn database(storage: &Storage) -> DatabaseConnection {
    Database::connect(storage.database_url())
        .await
        .expect("the test's database")
}

/// The first row of a query whose columns are integers.
async fn ints(db: &DatabaseConnection, sql: &str) -> Vec<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect(sql)
        .expect("a row");
    (0..)
        .map_while(|i| row.try_get_by_index::<Option<i64>>(i).ok())
        .map(Option::unwrap_or_default)
        .collect()
}

/// A department, a role that sees everything, and its id.
async fn company(app: &TestApp) -> (String, String) {
    let team = app.create_department(None, "Team", "team").await;
    let role = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": "everyone"})),
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
    (team, role)
}

async fn assign(app: &TestApp, role: &str, staff: &str) {
    let reply = app
        .admin(
            Method::POST,
            "/api/v1/admin/assignments",
            Some(json!({"role_id": role, "subject_kind": "staff", "subject": staff})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

async fn retitle(app: &TestApp, staff: &str, title: &str) {
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/staff/{staff}"),
            Some(json!({"title": title})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// HR creates people one at a time and gives each the role right after: each move's diff is
/// about the whole view, but consecutive ones differ by one person, and that is what is stored.
async fn people_moved_one_by_one_store_what_changed(backend: Backend) {
    const PEOPLE: usize = 40;
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let (team, role) = company(&app).await;
    let mut movers = Vec::new();
    for i in 0..PEOPLE {
        let login = format!("person{i}");
        let id = app
            .create_staff(&login, &format!("Person {i}"), &[&team])
            .await;
        // Two people sync before their move (they see nobody yet) and after it.
        if i == 0 || i == PEOPLE / 2 {
            movers.push(Client::start(&app, app.staff_token(&id, &login).await).await);
        }
        assign(&app, &role, &id).await;
    }
    for client in &mut movers {
        assert!(
            client.entries.is_empty(),
            "nobody is visible without a role"
        );
    }
    let mut before_restart: Vec<Client> = Vec::new();
    for client in &movers {
        before_restart.push(Client {
            token: client.token.clone(),
            version: client.version,
            entries: client.entries.clone(),
        });
    }
    for client in &mut movers {
        client.sync(&app).await;
        assert_eq!(client.entries.len(), PEOPLE + 1, "everyone and the team");
    }
    app.stop().await;

    let db = database(&storage).await;
    let sums = ints(
        &db,
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(LENGTH(entries)), 0) AS BIGINT) \
         FROM view_transition_diffs",
    )
    .await;
    let (rows, bytes) = (sums[0], sums[1]);
    assert_eq!(rows, PEOPLE as i64, "one diff per move");
    // 25 bytes an entry. Whole views would be 2 + 3 + ... + 41 = 860 entries (21,500 bytes);
    // what changed between consecutive moves is about one entry each.
    let entries = bytes / 25;
    assert!(
        entries <= 4 * PEOPLE as i64 + 64,
        "{rows} diffs store {entries} entries ({bytes} bytes): a whole view per move"
    );

    // After a restart the stored chains give the same deltas.
    let app = TestApp::start(&storage, false).await;
    for mut client in before_restart {
        client.sync(&app).await;
        assert_eq!(client.entries.len(), PEOPLE + 1);
    }
    app.stop().await;
}

/// History older than the retention is forgotten: its changelog rows are deleted (at start, by
/// the pruning task), clients older than it reset — even when nothing they need was in a class
/// log — and clients within it keep receiving deltas, across a restart too.
async fn the_changelog_is_compacted_past_the_retention(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let (team, role) = company(&app).await;
    let viewer = app.create_staff("viewer", "Vera Viewer", &[&team]).await;
    let other = app.create_staff("other", "Otto Other", &[&team]).await;
    let third = app.create_staff("third", "Tess Third", &[&team]).await;
    assign(&app, &role, &viewer).await;
    let token = app.staff_token(&viewer, "viewer").await;
    let old = Client::start(&app, token.clone()).await;
    // What the old client misses is an edit nothing later supersedes.
    retitle(&app, &third, "Architect").await;
    let mut recent = Client::start(&app, token.clone()).await;
    retitle(&app, &other, "Chief Architect").await;
    app.stop().await;

    // Everything up to the recent client's version is now 40 days old.
    let db = database(&storage).await;
    db.execute_unprepared(&format!(
        "UPDATE audit_log SET at = at - {} WHERE version <= {}",
        40_i64 * 86_400_000,
        recent.version
    ))
    .await
    .unwrap();
    let old_rows = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM changes WHERE version <= {}",
        recent.version
    );
    assert!(ints(&db, &old_rows).await[0] > 0);

    let app = TestApp::start(&storage, false).await;
    // The pruning task runs at start, in the background: wait for it.
    let mut waited = Duration::ZERO;
    while ints(&db, &old_rows).await[0] > 0 {
        assert!(
            waited < Duration::from_secs(60),
            "the changelog past the retention was never compacted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    assert!(
        ints(&db, "SELECT CAST(COUNT(*) AS BIGINT) FROM changes").await[0] > 0,
        "the newest change is kept"
    );
    let delta = old.delta(&app).await;
    assert_eq!(delta["reset"], true, "older than the retention: {delta}");
    recent.sync(&app).await;
    assert_eq!(
        recent.entries[&format!("staff:{other}")]["title"],
        "Chief Architect"
    );
    assert_eq!(
        recent.entries[&format!("staff:{third}")]["title"],
        "Architect"
    );
    retitle(&app, &other, "Founder").await;
    app.stop().await;

    let app = TestApp::start(&storage, false).await;
    let delta = old.delta(&app).await;
    assert_eq!(delta["reset"], true, "still older after a restart: {delta}");
    recent.sync(&app).await;
    assert_eq!(
        recent.entries[&format!("staff:{other}")]["title"],
        "Founder"
    );
    app.stop().await;
}

/// The changelog's rows are not what deltas are made of: with the table emptied under a stopped
/// server, a client that synced before still receives every change it missed.
async fn start_up_does_not_need_the_changelog(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let (team, role) = company(&app).await;
    let viewer = app.create_staff("viewer", "Vera Viewer", &[&team]).await;
    let other = app.create_staff("other", "Otto Other", &[&team]).await;
    assign(&app, &role, &viewer).await;
    let mut client = Client::start(&app, app.staff_token(&viewer, "viewer").await).await;
    retitle(&app, &other, "Architect").await;
    let third = app.create_staff("third", "Tess Third", &[&team]).await;
    app.stop().await;

    database(&storage)
        .await
        .execute_unprepared("DELETE FROM changes")
        .await
        .unwrap();
    let app = TestApp::start(&storage, false).await;
    client.sync(&app).await;
    assert_eq!(
        client.entries[&format!("staff:{other}")]["title"],
        "Architect"
    );
    assert!(client.entries.contains_key(&format!("staff:{third}")));
    app.stop().await;
}
