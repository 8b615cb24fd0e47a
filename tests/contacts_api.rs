//! Contact views over HTTP with the demo company: different roles see different lists, masked
//! fields never leave the server, and HR edits, rule edits and role reassignments reach
//! clients as deltas — never as resets, also across a restart.

use crate::common;

use std::collections::BTreeMap;

use common::{Backend, Storage, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::demo::DEMO_PASSWORD;

on_both_backends!(
    roles_give_different_lists_and_masked_fields_never_leave,
    bad_input_and_guard_rails,
    history_past_the_retention_resets_only_old_clients,
    edits_rules_and_roles_arrive_as_deltas,
    deltas_survive_a_restart
);

/// The demo people, as the admin API lists them.
struct Demo {
    staff: Vec<Value>,
    departments: Vec<Value>,
}

impl Demo {
    async fn load(app: &TestApp) -> Self {
        let staff = app
            .admin(Method::GET, "/api/v1/admin/staff?limit=1000", None)
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .clone();
        let departments = app
            .admin(Method::GET, "/api/v1/admin/departments", None)
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .clone();
        Self { staff, departments }
    }

    fn department(&self, prefix: &str) -> String {
        self.departments
            .iter()
            .find(|d| d["name"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("department {prefix}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The first person of a type whose primary department is the given one.
    fn person(&self, staff_type: &str, department: Option<&str>) -> Value {
        self.staff
            .iter()
            .find(|p| {
                p["staff_type"] == staff_type
                    && department.is_none_or(|d| p["memberships"][0]["department_id"] == d)
            })
            .unwrap_or_else(|| panic!("a {staff_type} in {department:?}"))
            .clone()
    }
}

async fn token_of(app: &TestApp, person: &Value) -> String {
    app.login(person["login"].as_str().unwrap(), DEMO_PASSWORD)
        .await
}

/// A syncing client: the entries it holds and the version they are at.
struct Client {
    version: i64,
    entries: BTreeMap<String, Value>,
}

fn entries_of(snapshot: &Value) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for d in snapshot["departments"].as_array().unwrap() {
        map.insert(
            format!("department:{}", d["id"].as_str().unwrap()),
            d.clone(),
        );
    }
    for s in snapshot["staff"].as_array().unwrap() {
        map.insert(format!("staff:{}", s["id"].as_str().unwrap()), s.clone());
    }
    map
}

impl Client {
    async fn start(app: &TestApp, token: &str) -> Self {
        let snapshot = app
            .call(Method::GET, "/api/v1/contacts/snapshot", Some(token), None)
            .await;
        assert_eq!(snapshot.status, StatusCode::OK, "{}", snapshot.body);
        Self {
            version: snapshot.body["version"].as_i64().unwrap(),
            entries: entries_of(&snapshot.body),
        }
    }

    /// Pulls a delta, applies it, checks it against a fresh snapshot; returns the delta.
    async fn sync(&mut self, app: &TestApp, token: &str) -> Value {
        let delta = app
            .call(
                Method::GET,
                &format!("/api/v1/contacts/delta?since={}", self.version),
                Some(token),
                None,
            )
            .await;
        assert_eq!(delta.status, StatusCode::OK, "{}", delta.body);
        assert!(
            delta.body.get("reset").is_none(),
            "a delta, never a reset: {}",
            delta.body
        );
        let version = delta.body["version"].as_i64().unwrap();
        assert!(version >= self.version, "versions never go backwards");
        for change in delta.body["changes"].as_array().unwrap() {
            let key = format!(
                "{}:{}",
                change["kind"].as_str().unwrap(),
                change["id"].as_str().unwrap()
            );
            if change["op"] == "upsert" {
                self.entries.insert(key, change["data"].clone());
            } else {
                assert!(change.get("data").is_none());
                self.entries.remove(&key);
            }
        }
        self.version = version;
        let snapshot = app
            .call(Method::GET, "/api/v1/contacts/snapshot", Some(token), None)
            .await;
        assert_eq!(snapshot.body["version"].as_i64().unwrap(), version);
        assert_eq!(
            self.entries,
            entries_of(&snapshot.body),
            "snapshot + delta == snapshot"
        );
        delta.body
    }

    fn staff(&self) -> Vec<&Value> {
        self.entries
            .iter()
            .filter(|(k, _)| k.starts_with("staff:"))
            .map(|(_, v)| v)
            .collect()
    }

    fn has(&self, kind: &str, id: &str) -> bool {
        self.entries.contains_key(&format!("{kind}:{id}"))
    }
}

async fn roles_give_different_lists_and_masked_fields_never_leave(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let demo = Demo::load(&app).await;
    let exec_office = demo.department("总裁办");
    let hr_dept = demo.department("人力资源部");
    let backend = demo.department("后端组");
    let ceo = demo.person("executive", Some(&exec_office));
    let employee = demo.person("employee", Some(&backend));
    let intern = demo.person("intern", None);
    let contractor = demo.person("contractor", None);
    let hr = demo.person("employee", Some(&hr_dept));

    let employee_token = token_of(&app, &employee).await;
    let seen_by_employee = Client::start(&app, &employee_token).await;
    let seen_by_intern = Client::start(&app, &token_of(&app, &intern).await).await;
    let seen_by_contractor = Client::start(&app, &token_of(&app, &contractor).await).await;
    let hr_token = token_of(&app, &hr).await;
    let seen_by_hr = Client::start(&app, &hr_token).await;

    // HR sees everyone, with phones and employee numbers.
    assert_eq!(seen_by_hr.staff().len(), demo.staff.len());
    assert!(seen_by_hr.has("staff", ceo["id"].as_str().unwrap()));
    assert!(
        seen_by_hr
            .staff()
            .iter()
            .all(|s| s.get("phones").is_some() && s["custom"].get("employee_no").is_some())
    );

    // Employees: no executives, no executive office, no phones, no employee numbers.
    assert!(!seen_by_employee.has("staff", ceo["id"].as_str().unwrap()));
    assert!(!seen_by_employee.has("department", &exec_office));
    assert!(
        seen_by_employee
            .staff()
            .iter()
            .all(|s| s["staff_type"] != "executive")
    );
    assert!(
        seen_by_employee
            .staff()
            .iter()
            .all(|s| s.get("phones").is_none()),
        "phones are masked"
    );
    assert!(
        seen_by_employee
            .staff()
            .iter()
            .all(|s| s.get("emails").is_some())
    );
    assert!(
        seen_by_employee
            .staff()
            .iter()
            .all(|s| s["custom"].get("employee_no").is_none())
    );
    assert!(
        seen_by_employee
            .staff()
            .iter()
            .any(|s| s["custom"].get("office").is_some())
    );
    assert!(
        !serde_json::to_string(&seen_by_employee.entries)
            .unwrap()
            .contains(ceo["phones"][0].as_str().unwrap())
    );

    // Interns and contractors see less; contractors see no custom fields at all.
    assert!(seen_by_intern.staff().len() < seen_by_employee.staff().len());
    assert!(
        seen_by_contractor.staff().len() < seen_by_intern.staff().len()
            || seen_by_contractor.staff().len() < 40
    );
    assert!(
        seen_by_contractor
            .staff()
            .iter()
            .all(|s| s["custom"].as_object().unwrap().is_empty())
    );
    let contractor_departments = seen_by_contractor
        .entries
        .keys()
        .filter(|k| k.starts_with("department:"))
        .count();
    assert_eq!(contractor_departments, 1, "own department only");

    // Outside the view, a person does not exist.
    let path = format!("/api/v1/contacts/staff/{}", ceo["id"].as_str().unwrap());
    let reply = app
        .call(Method::GET, &path, Some(&employee_token), None)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let unknown = app
        .call(
            Method::GET,
            &format!("/api/v1/contacts/staff/{}", uuid::Uuid::now_v7()),
            Some(&employee_token),
            None,
        )
        .await;
    assert_eq!(unknown.status, reply.status);
    assert_eq!(unknown.body["error"]["code"], reply.body["error"]["code"]);
    assert_eq!(
        app.call(Method::GET, &path, Some(&hr_token), None)
            .await
            .status,
        StatusCode::OK
    );

    // Search follows the view: by name, pinyin and initials; never on masked fields.
    let ceo_name = ceo["display_name"].as_str().unwrap();
    let q = |token: &str, q: &str| {
        let app = &app;
        let url = format!("/api/v1/contacts/search?q={}", urlencode(q));
        let token = token.to_owned();
        async move { app.call(Method::GET, &url, Some(&token), None).await.body }
    };
    assert_eq!(q(&employee_token, ceo_name).await["total"], 0);
    assert!(q(&hr_token, ceo_name).await["total"].as_u64().unwrap() >= 1);
    let colleague = seen_by_employee
        .staff()
        .into_iter()
        .find(|s| !s["display_name"].as_str().unwrap().is_ascii())
        .unwrap()
        .clone();
    for needle in [
        colleague["pinyin_full"].as_str().unwrap(),
        colleague["pinyin_initials"].as_str().unwrap(),
    ] {
        let found = q(&employee_token, needle).await;
        assert!(
            found["staff"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["id"] == colleague["id"]),
            "{needle}: {found}"
        );
    }
    let phone_digits: String = demo
        .staff
        .iter()
        .find(|s| s["id"] == colleague["id"])
        .unwrap()["phones"][0]
        .as_str()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert_eq!(
        q(&employee_token, &phone_digits).await["total"],
        0,
        "no search on masked phones"
    );
    assert_eq!(q(&hr_token, &phone_digits).await["total"], 1);

    // The admin preview shows the same list, and why.
    let preview = app
        .admin(
            Method::GET,
            &format!(
                "/api/v1/admin/views/preview?staff_id={}",
                employee["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK);
    assert_eq!(
        preview.body["staff_count"].as_u64().unwrap() as usize,
        seen_by_employee.staff().len()
    );
    assert!(
        preview.body["masked_fields"]
            .as_array()
            .unwrap()
            .contains(&json!("phones"))
    );
    assert_eq!(entries_of(&preview.body["view"]), seen_by_employee.entries);

    // A service account has no contact list.
    let reply = app
        .admin(Method::GET, "/api/v1/contacts/snapshot", None)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn edits_rules_and_roles_arrive_as_deltas(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let demo = Demo::load(&app).await;
    let backend_team = demo.department("后端组");
    let marketing = demo.department("市场部");
    let employee = demo.person("employee", Some(&backend_team));
    let token = token_of(&app, &employee).await;
    let mut client = Client::start(&app, &token).await;

    // An HR edit of a colleague.
    let colleague = client
        .staff()
        .into_iter()
        .find(|s| s["id"] != employee["id"])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.admin(
        Method::PATCH,
        &format!("/api/v1/admin/staff/{colleague}"),
        Some(json!({"title": "架构师 Architect"})),
    )
    .await;
    let delta = client.sync(&app, &token).await;
    let changes = delta["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "only what changed: {delta}");
    assert_eq!(changes[0]["data"]["title"], "架构师 Architect");

    // A rule edit: Marketing is hidden from everyone but HR.
    assert!(client.has("department", &marketing));
    let roles = app
        .admin(Method::GET, "/api/v1/admin/roles", None)
        .await
        .body;
    let role_id = |prefix: &str| {
        roles
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"].as_str().unwrap().starts_with(prefix))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let rule = app
        .admin(
            Method::POST,
            "/api/v1/admin/rules",
            Some(json!({"effect": "deny", "object": format!("subtree:{marketing}"), "exempt_roles": [role_id("人事")]})),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);
    let before = client.staff().len();
    let delta = client.sync(&app, &token).await;
    assert!(!client.has("department", &marketing));
    let removed = delta["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["op"] == "remove")
        .count();
    assert!(
        removed >= 3,
        "marketing and its teams and people went: {delta}"
    );
    assert!(client.staff().len() < before);
    assert!(
        delta["changes"].as_array().unwrap().len() < before,
        "a delta, not the whole list"
    );

    // Deleting the rule brings them back.
    let rule_id = rule.body["id"].as_str().unwrap();
    app.admin(
        Method::DELETE,
        &format!("/api/v1/admin/rules/{rule_id}"),
        None,
    )
    .await;
    client.sync(&app, &token).await;
    assert!(client.has("department", &marketing));

    // A role reassignment: the employee becomes an intern.
    let employee_id = employee["id"].as_str().unwrap();
    let unassign = app
        .admin(
            Method::DELETE,
            &format!(
                "/api/v1/admin/assignments?role_id={}&subject_kind=staff&subject={employee_id}",
                role_id("员工")
            ),
            None,
        )
        .await;
    assert_eq!(unassign.status, StatusCode::OK, "{}", unassign.body);
    app.admin(
        Method::POST,
        "/api/v1/admin/assignments",
        Some(
            json!({"role_id": role_id("实习生"), "subject_kind": "staff", "subject": employee_id}),
        ),
    )
    .await;
    let before = client.staff().len();
    client.sync(&app, &token).await;
    assert!(client.staff().len() < before, "interns see less");

    // A department move that takes a whole subtree under a hidden one.
    let exec_office = demo.department("总裁办");
    let product = demo.department("产品部");
    app.admin(
        Method::POST,
        "/api/v1/admin/assignments",
        Some(json!({"role_id": role_id("员工"), "subject_kind": "staff", "subject": employee_id})),
    )
    .await;
    client.sync(&app, &token).await;
    assert!(client.has("department", &product));
    app.admin(
        Method::PATCH,
        &format!("/api/v1/admin/departments/{product}"),
        Some(json!({"parent_id": exec_office})),
    )
    .await;
    client.sync(&app, &token).await;
    assert!(
        !client.has("department", &product),
        "moved under the executive office, which is hidden"
    );
}

async fn deltas_survive_a_restart(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let demo = Demo::load(&app).await;
    let employee = demo.person("employee", Some(&demo.department("前端组")));
    let token = token_of(&app, &employee).await;
    let mut client = Client::start(&app, &token).await;
    let marketing = demo.department("市场部");
    let rule = app
        .admin(
            Method::POST,
            "/api/v1/admin/rules",
            Some(json!({"effect": "deny", "object": format!("subtree:{marketing}")})),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED);
    let someone = client
        .staff()
        .into_iter()
        .find(|s| s["id"] != employee["id"])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Two people gain a role that lets them see Marketing after all, then lose it in one
    // commit (the role is deleted): both make the same class move, which is stored once.
    let colleague = demo
        .staff
        .iter()
        .find(|s| {
            s["staff_type"] == "employee"
                && s["id"] != employee["id"]
                && s["status"] == "active"
                && s["id"] != someone.as_str()
        })
        .unwrap()
        .clone();
    let colleague_token = token_of(&app, &colleague).await;
    let temp = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": "临时 Temp", "description": "", "is_admin": false})),
        )
        .await;
    assert_eq!(temp.status, StatusCode::CREATED, "{}", temp.body);
    let temp = temp.body["id"].as_str().unwrap().to_owned();
    let rule_id = rule.body["id"].as_str().unwrap();
    let exempt = app
        .admin(
            Method::PUT,
            &format!("/api/v1/admin/rules/{rule_id}"),
            Some(json!({"effect": "deny", "object": format!("subtree:{marketing}"), "exempt_roles": [temp]})),
        )
        .await;
    assert_eq!(exempt.status, StatusCode::OK, "{}", exempt.body);
    for person in [&employee, &colleague] {
        let assigned = app
            .admin(
                Method::POST,
                "/api/v1/admin/assignments",
                Some(json!({"role_id": temp, "subject_kind": "staff", "subject": person["id"]})),
            )
            .await;
        assert!(assigned.status.is_success(), "{}", assigned.body);
    }
    let mut colleague_client = Client::start(&app, &colleague_token).await;
    client.sync(&app, &token).await;
    assert!(client.has("department", &marketing));
    assert!(colleague_client.has("department", &marketing));
    let deleted = app
        .admin(Method::DELETE, &format!("/api/v1/admin/roles/{temp}"), None)
        .await;
    assert!(deleted.status.is_success(), "{}", deleted.body);
    app.admin(
        Method::POST,
        &format!("/api/v1/admin/staff/{someone}/disable"),
        None,
    )
    .await;
    app.stop().await;

    let app = TestApp::start(&storage, true).await;
    let colleague_token = token_of(&app, &colleague).await;
    colleague_client.sync(&app, &colleague_token).await;
    assert!(!colleague_client.has("department", &marketing));
    let token = token_of(&app, &employee).await;
    let delta = client.sync(&app, &token).await;
    assert!(
        delta["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == someone.as_str() && c["op"] == "remove")
    );
    assert!(!client.has("department", &marketing));
}

async fn bad_input_and_guard_rails(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let a = app.create_department(None, "A", "business").await;
    let it = app.create_staff("it.admin", "IT Admin", &[&a]).await;
    let token = app.staff_token(&it, "it.admin").await;

    let role = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": "IT", "is_admin": true})),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED);
    let role_id = role.body["id"].as_str().unwrap().to_owned();
    let dup = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": "IT"})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    app.admin(
        Method::POST,
        "/api/v1/admin/assignments",
        Some(json!({"role_id": role_id, "subject_kind": "staff", "subject": it})),
    )
    .await;
    // Admin rights through a role.
    assert_eq!(
        app.call(Method::GET, "/api/v1/admin/departments", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );

    // An unknown type is accepted but reported by the preview.
    let rule = app
        .admin(
            Method::POST,
            "/api/v1/admin/rules",
            Some(json!({"role_id": role_id, "effect": "allow", "object": "dept_type:nonexistent"})),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);
    let preview = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/views/preview?staff_id={it}"),
            None,
        )
        .await;
    assert!(
        preview.body["warnings"].to_string().contains("nonexistent"),
        "{}",
        preview.body
    );

    let useful = app
        .admin(
            Method::POST,
            "/api/v1/admin/rules",
            Some(json!({"role_id": role_id, "effect": "allow", "object": "dept_type:business"})),
        )
        .await;
    let useful_id = useful.body["id"].as_str().unwrap();
    let client = Client::start(&app, &token).await;
    assert!(client.has("department", &a));
    // Removing the only useful rule would leave every administrator blind: refused.
    let refused = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/admin/rules/{useful_id}"),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    let deny = app
        .admin(
            Method::POST,
            "/api/v1/admin/rules",
            Some(json!({"effect": "deny", "object": format!("department:{a}")})),
        )
        .await;
    assert_eq!(deny.status, StatusCode::CONFLICT, "{}", deny.body);

    // Malformed rules and unknown ids.
    for (body, status) in [
        (
            json!({"role_id": uuid::Uuid::now_v7(), "effect": "allow", "object": "all"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"role_id": role_id, "effect": "allow", "object": "everything"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"effect": "allow", "object": "all"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"role_id": role_id, "effect": "deny", "object": "all"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"role_id": role_id, "effect": "mask", "object": "field:salary"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"role_id": role_id, "effect": "maybe", "object": "all"}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let reply = app
            .admin(Method::POST, "/api/v1/admin/rules", Some(body.clone()))
            .await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
    }
    let missing = uuid::Uuid::now_v7();
    assert_eq!(
        app.admin(
            Method::DELETE,
            &format!("/api/v1/admin/rules/{missing}"),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.admin(Method::GET, &format!("/api/v1/admin/roles/{missing}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // `since` must be a version: a non-negative integer.
    for since in ["abc", "-1", "1.5"] {
        let reply = app
            .call(
                Method::GET,
                &format!("/api/v1/contacts/delta?since={since}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "since={since}: {}",
            reply.body
        );
    }
    let reply = app
        .call(Method::GET, "/api/v1/contacts/delta", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // A version newer than the newest is well-formed but not from this server's history (a
    // copy from another server, or from before a restore): a conflict, fetch a snapshot.
    let reply = app
        .call(
            Method::GET,
            &format!("/api/v1/contacts/delta?since={}", client.version + 1000),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);

    // Snapshots carry an ETag, answer 304 to it, and compress.
    let response = app
        .client
        .get(format!("{}/api/v1/contacts/snapshot", app.base))
        .bearer_auth(&token)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .client
        .get(format!("{}/api/v1/contacts/snapshot", app.base))
        .bearer_auth(&token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    app.admin(
        Method::PATCH,
        &format!("/api/v1/admin/departments/{a}"),
        Some(json!({"name": "A2"})),
    )
    .await;
    let changed = app
        .client
        .get(format!("{}/api/v1/contacts/snapshot", app.base))
        .bearer_auth(&token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
}

async fn history_past_the_retention_resets_only_old_clients(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let demo = Demo::load(&app).await;
    let employee = demo.person("employee", Some(&demo.department("前端组")));
    let token = token_of(&app, &employee).await;
    let old = Client::start(&app, &token).await;
    let someone = old
        .staff()
        .into_iter()
        .find(|s| s["id"] != employee["id"])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.admin(
        Method::POST,
        &format!("/api/v1/admin/staff/{someone}/disable"),
        None,
    )
    .await;
    let recent = Client::start(&app, &token).await;
    // Stopped, the server has written all its history: the next one reads it whole (one that
    // started while rows were still queued would see moves it never stored, and reset).
    app.stop().await;

    // Everything committed so far is a day old (by the audit log's clock, not by waiting).
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(storage.database_url())
        .await
        .unwrap();
    db.execute_unprepared("UPDATE audit_log SET at = at - 86400000")
        .await
        .unwrap();
    db.close().await.unwrap();

    // Pruning with an hour's retention forgets the removal the old client still needs.
    let application = switchboard::app::Application::build(storage.config(false))
        .await
        .unwrap();
    let state = application.state().clone();
    state
        .contacts
        .prune(
            state.directory.journal(),
            std::time::Duration::from_secs(3600),
        )
        .await
        .unwrap();
    let staff_id =
        switchboard::directory::StaffId(employee["id"].as_str().unwrap().parse().unwrap());
    let old_delta = serde_json::to_value(
        state
            .contacts
            .delta(staff_id, switchboard::store::Version(old.version))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(old_delta["reset"], true, "{old_delta}");
    let recent_delta = serde_json::to_value(
        state
            .contacts
            .delta(staff_id, switchboard::store::Version(recent.version))
            .unwrap(),
    )
    .unwrap();
    assert!(recent_delta.get("reset").is_none(), "{recent_delta}");
}
