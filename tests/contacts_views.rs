//! What a contact view shows, over HTTP, where the rules overlap or the view cuts a person's
//! departments: every rule stands on its own (deleting or replacing one never takes away what
//! an identical rule grants or hides, in snapshots, deltas, lookups, search or the admin
//! preview, nor across a restart); a person whose primary department is hidden arrives without
//! a primary membership; `delta?since=0` answers `reset`.

use crate::common;

use std::collections::BTreeMap;

use common::{Backend, Storage, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    an_identical_allow_rule_keeps_granting,
    an_identical_mask_keeps_hiding,
    hidden_primary_departments_and_since_zero
);

/// The phone of the person everybody looks at; masked, these digits must appear nowhere.
const PHONE: &str = "+86 139 2468 1357";
const DIGITS: &str = "24681357";

/// A small company: one department, a viewer holding one role, and a target with a phone.
struct Company {
    app: TestApp,
    role: String,
    viewer: String,
    target: String,
    token: String,
}

async fn company(storage: &Storage) -> Company {
    let app = TestApp::start(storage, false).await;
    let ops = app.create_department(None, "Ops", "business").await;
    let role = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": "viewers"})),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    let role = role.body["id"].as_str().unwrap().to_owned();
    let viewer = app.create_staff("viewer", "Vera Viewer", &[&ops]).await;
    let target = app
        .admin(
            Method::POST,
            "/api/v1/admin/staff",
            Some(json!({
                "login": "target", "display_name": "Tom Target", "staff_type": "employee",
                "phones": [PHONE], "departments": [{"department_id": ops}]
            })),
        )
        .await;
    assert_eq!(target.status, StatusCode::CREATED, "{}", target.body);
    let target = target.body["id"].as_str().unwrap().to_owned();
    let assigned = app
        .admin(
            Method::POST,
            "/api/v1/admin/assignments",
            Some(json!({"role_id": role, "subject_kind": "staff", "subject": viewer})),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    let token = app.staff_token(&viewer, "viewer").await;
    Company {
        app,
        role,
        viewer,
        target,
        token,
    }
}

impl Company {
    async fn rule(&self, body: Value) -> String {
        let reply = self
            .app
            .admin(Method::POST, "/api/v1/admin/rules", Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    async fn replace_rule(&self, id: &str, body: Value) {
        let reply = self
            .app
            .admin(
                Method::PUT,
                &format!("/api/v1/admin/rules/{id}"),
                Some(body),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    async fn delete_rule(&self, id: &str) {
        let reply = self
            .app
            .admin(Method::DELETE, &format!("/api/v1/admin/rules/{id}"), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    async fn get(&self, path: &str) -> common::Reply {
        self.app
            .call(Method::GET, path, Some(&self.token), None)
            .await
    }

    /// The target as each way of reading the view shows it (`None`: absent there).
    async fn target_everywhere(&self, client: &mut Client) -> Vec<(&'static str, Option<Value>)> {
        let delta = client.sync(self).await;
        let in_delta = delta["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == self.target.as_str())
            .cloned();
        let snapshot = self.get("/api/v1/contacts/snapshot").await.body;
        let lookup = self
            .get(&format!("/api/v1/contacts/staff/{}", self.target))
            .await;
        let by_name = self.get("/api/v1/contacts/search?q=tom").await.body;
        let by_phone = self
            .get(&format!("/api/v1/contacts/search?q={DIGITS}"))
            .await
            .body;
        let preview = self
            .app
            .admin(
                Method::GET,
                &format!("/api/v1/admin/views/preview?staff_id={}", self.viewer),
                None,
            )
            .await
            .body;
        let find = |list: &Value| {
            list.as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == self.target.as_str())
                .cloned()
        };
        vec![
            ("client copy", client.entries.get(&self.target).cloned()),
            ("delta", in_delta),
            ("snapshot", find(&snapshot["staff"])),
            (
                "lookup",
                (lookup.status == StatusCode::OK).then_some(lookup.body),
            ),
            ("search by name", find(&by_name["staff"])),
            ("search by phone", find(&by_phone["staff"])),
            ("preview", find(&preview["view"]["staff"])),
        ]
    }
}

/// A client that syncs the viewer's list by deltas.
struct Client {
    version: i64,
    entries: BTreeMap<String, Value>,
}

impl Client {
    async fn start(company: &Company) -> Self {
        let snapshot = company.get("/api/v1/contacts/snapshot").await.body;
        Self {
            version: snapshot["version"].as_i64().unwrap(),
            entries: snapshot["staff"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["id"].as_str().unwrap().to_owned(), s.clone()))
                .collect(),
        }
    }

    /// Pulls and applies a delta (never a reset); returns it.
    async fn sync(&mut self, company: &Company) -> Value {
        let delta = company
            .get(&format!("/api/v1/contacts/delta?since={}", self.version))
            .await;
        assert_eq!(delta.status, StatusCode::OK, "{}", delta.body);
        assert!(delta.body.get("reset").is_none(), "{}", delta.body);
        for change in delta.body["changes"].as_array().unwrap() {
            if change["kind"] != "staff" {
                continue;
            }
            let id = change["id"].as_str().unwrap().to_owned();
            if change["op"] == "upsert" {
                self.entries.insert(id, change["data"].clone());
            } else {
                self.entries.remove(&id);
            }
        }
        self.version = delta.body["version"].as_i64().unwrap();
        delta.body
    }
}

/// The snapshot with its version, for comparing before and after a restart.
async fn snapshot(company: &Company) -> Value {
    let reply = company.get("/api/v1/contacts/snapshot").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// A snapshot's version and entries by id (the order of a list is not part of the promise).
fn by_id(snapshot: &Value) -> (Value, BTreeMap<String, Value>) {
    let mut entries = BTreeMap::new();
    for kind in ["departments", "staff"] {
        for entry in snapshot[kind].as_array().unwrap() {
            entries.insert(entry["id"].as_str().unwrap().to_owned(), entry.clone());
        }
    }
    (snapshot["version"].clone(), entries)
}

/// Restarts the server over the same storage and logs the viewer in again.
async fn restart(company: Company, storage: &Storage) -> Company {
    let Company {
        app,
        role,
        viewer,
        target,
        ..
    } = company;
    app.stop().await;
    let app = TestApp::start(storage, false).await;
    let token = app.login("viewer", "staff-password-1").await;
    Company {
        app,
        role,
        viewer,
        target,
        token,
    }
}

fn assert_seen(seen: &[(&'static str, Option<Value>)], step: &str) {
    for (how, target) in seen {
        // Nothing changed for the target in this step: the delta may leave it out.
        if *how == "delta" || *how == "search by phone" {
            continue;
        }
        assert!(
            target.is_some(),
            "{step}: the target is missing from the {how}"
        );
    }
}

async fn an_identical_allow_rule_keeps_granting(backend: Backend) {
    let storage = Storage::new(backend).await;
    let company = company(&storage).await;
    let allow = json!({"role_id": company.role, "effect": "allow", "object": "all"});
    let first = company.rule(allow.clone()).await;
    let second = company.rule(allow.clone()).await;
    let mut client = Client::start(&company).await;
    assert!(client.entries.contains_key(&company.target));

    // Replacing the second rule by another grant leaves the first granting.
    company
        .replace_rule(
            &second,
            json!({"role_id": company.role, "effect": "allow", "object": "dept_type:nothing"}),
        )
        .await;
    let seen = company.target_everywhere(&mut client).await;
    assert_seen(&seen, "after replacing the identical rule");

    // Back to identical, then deleted: the first still grants.
    company.replace_rule(&second, allow.clone()).await;
    company.delete_rule(&second).await;
    let seen = company.target_everywhere(&mut client).await;
    assert_seen(&seen, "after deleting the identical rule");

    // A third copy, and the first goes: the third grants.
    let third = company.rule(allow.clone()).await;
    company.delete_rule(&first).await;
    let seen = company.target_everywhere(&mut client).await;
    assert_seen(&seen, "after deleting the original rule");

    // A restart rebuilds the policy from the tables: the same view at the same version.
    let before = snapshot(&company).await;
    let company = restart(company, &storage).await;
    assert_eq!(
        by_id(&snapshot(&company).await),
        by_id(&before),
        "the view changed across a restart"
    );
    let delta = client.sync(&company).await;
    assert_eq!(delta["changes"], json!([]), "{delta}");
    assert_seen(
        &company.target_everywhere(&mut client).await,
        "after a restart",
    );

    // The last rule goes: now the target is out of the view everywhere.
    company.delete_rule(&third).await;
    for (how, target) in company.target_everywhere(&mut client).await {
        if how == "delta" {
            let removal = target.expect("the removal is in the delta");
            assert_eq!(removal["op"], "remove", "{removal}");
        } else {
            assert!(
                target.is_none(),
                "no rule grants, yet the {how} shows the target"
            );
        }
    }
}

async fn an_identical_mask_keeps_hiding(backend: Backend) {
    let storage = Storage::new(backend).await;
    let company = company(&storage).await;
    company
        .rule(json!({"role_id": company.role, "effect": "allow", "object": "all"}))
        .await;
    let mask = json!({"role_id": company.role, "effect": "mask", "object": "field:phones"});
    let first = company.rule(mask.clone()).await;
    let second = company.rule(mask.clone()).await;
    let mut client = Client::start(&company).await;
    let hidden = |seen: &[(&'static str, Option<Value>)], step: &str| {
        for (how, target) in seen {
            if *how == "search by phone" {
                assert!(target.is_none(), "{step}: a masked phone was searchable");
                continue;
            }
            if let Some(target) = target {
                assert!(
                    !target.to_string().contains("2468 1357"),
                    "{step}: the masked phone appeared in the {how}: {target}"
                );
            } else if *how != "delta" {
                panic!("{step}: the target is missing from the {how}");
            }
        }
    };
    hidden(
        &company.target_everywhere(&mut client).await,
        "with two masks",
    );

    company.delete_rule(&second).await;
    hidden(
        &company.target_everywhere(&mut client).await,
        "after deleting the identical mask",
    );

    // A third copy; the first is replaced by a mask of another field: phones stay hidden.
    let third = company.rule(mask.clone()).await;
    company
        .replace_rule(
            &first,
            json!({"role_id": company.role, "effect": "mask", "object": "field:emails"}),
        )
        .await;
    hidden(
        &company.target_everywhere(&mut client).await,
        "after replacing the original mask",
    );

    let before = snapshot(&company).await;
    let company = restart(company, &storage).await;
    assert_eq!(
        by_id(&snapshot(&company).await),
        by_id(&before),
        "the view changed across a restart"
    );
    hidden(
        &company.target_everywhere(&mut client).await,
        "after a restart",
    );

    // The last phone mask goes: now the phone is shown, and found.
    company.delete_rule(&third).await;
    for (how, target) in company.target_everywhere(&mut client).await {
        let target = target.unwrap_or_else(|| panic!("the target is missing from the {how}"));
        assert!(target.to_string().contains("2468 1357"), "{how}: {target}");
    }
}

async fn hidden_primary_departments_and_since_zero(backend: Backend) {
    let storage = Storage::new(backend).await;
    let company = company(&storage).await;
    let app = &company.app;
    let secret = app.create_department(None, "Secret", "secret").await;
    let open = app.create_department(None, "Open", "open").await;
    let both = app
        .admin(
            Method::POST,
            "/api/v1/admin/staff",
            Some(json!({
                "login": "both", "display_name": "Bo Both", "staff_type": "employee",
                "departments": [{"department_id": secret, "primary": true}, {"department_id": open}]
            })),
        )
        .await;
    assert_eq!(both.status, StatusCode::CREATED, "{}", both.body);
    let both = both.body["id"].as_str().unwrap().to_owned();
    company
        .rule(json!({"role_id": company.role, "effect": "allow", "object": "dept_type:open"}))
        .await;

    // Seen through the open department only: no membership is primary.
    let snapshot = snapshot(&company).await;
    let person = snapshot["staff"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == both.as_str())
        .unwrap_or_else(|| panic!("visible through Open: {snapshot}"));
    assert_eq!(
        person["departments"],
        json!([{"department_id": open, "order_key": 0, "primary": false}]),
        "{person}"
    );
    let lookup = company.get(&format!("/api/v1/contacts/staff/{both}")).await;
    assert_eq!(lookup.body["departments"], person["departments"]);

    // `since=0` is older than any view: a reset, whatever the history.
    let delta = company.get("/api/v1/contacts/delta?since=0").await;
    assert_eq!(delta.status, StatusCode::OK, "{}", delta.body);
    assert_eq!(
        delta.body,
        json!({"version": snapshot["version"], "reset": true, "changes": []})
    );
}
