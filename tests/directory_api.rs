//! The directory's admin API, driven over HTTP against SQLite and PostgreSQL.

use crate::common;

use common::{Backend, Storage, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    department_tree_edits,
    staff_lifecycle,
    disabling_revokes_tokens_at_once,
    every_write_is_versioned_and_audited,
    failed_writes_leave_nothing_behind,
    custom_fields_are_validated,
    state_survives_a_restart,
);

async fn department_tree_edits(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let hq = app.create_department(None, "总部 HQ", "company").await;
    let rd = app.create_department(Some(&hq), "研发部", "business").await;
    let backend_team = app.create_department(Some(&rd), "Backend", "team").await;
    let sales = app.create_department(Some(&hq), "Sales", "business").await;

    // Rename and retype.
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/departments/{rd}"),
            Some(json!({"name": "研发中心", "dept_type": "Business"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["name"], "研发中心");
    assert_eq!(reply.body["dept_type"], "business");

    // Move a team under Sales, then move HQ under its own grandchild: a conflict.
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/departments/{backend_team}"),
            Some(json!({"parent_id": sales})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["parent_id"], sales.as_str());
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/departments/{hq}"),
            Some(json!({"parent_id": backend_team})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert_eq!(reply.error_code(), "conflict");

    // Reorder: Sales before R&D.
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/departments/{sales}"),
            Some(json!({"order_key": -1})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let list = app
        .admin(Method::GET, "/api/v1/admin/departments", None)
        .await;
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["总部 HQ", "Sales", "研发中心", "Backend"]);

    // Unknown ids and a move to the top level with null.
    let unknown = uuid::Uuid::now_v7();
    let reply = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/departments/{unknown}"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error_code(), "not_found");
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/departments/{rd}"),
            Some(json!({"parent_id": unknown})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/departments/{rd}"),
            Some(json!({"parent_id": null})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["parent_id"], Value::Null);

    // Deleting a department with children and members needs a plan.
    let person = app.create_staff("li.lei", "李雷", &[&sales]).await;
    let reply = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/admin/departments/{sales}"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("move_children_to")
    );
    let reply = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/admin/departments/{sales}?move_children_to=root"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("move_members_to")
    );
    let reply = app
        .admin(
            Method::DELETE,
            &format!(
                "/api/v1/admin/departments/{sales}?move_children_to={hq}&move_members_to={hq}"
            ),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let moved = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/departments/{backend_team}"),
            None,
        )
        .await;
    assert_eq!(moved.body["parent_id"], hq.as_str());
    let member = app
        .admin(Method::GET, &format!("/api/v1/admin/staff/{person}"), None)
        .await;
    assert_eq!(member.body["memberships"][0]["department_id"], hq.as_str());
    assert_eq!(member.body["memberships"][0]["primary"], true);
    let gone = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/departments/{sales}"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

async fn staff_lifecycle(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let a = app.create_department(None, "A", "business").await;
    let b = app.create_department(None, "B", "business").await;

    let reply = app
        .admin(
            Method::POST,
            "/api/v1/admin/staff",
            Some(json!({
                "login": "Zhang.Wei", "display_name": "张伟", "title": "工程师", "staff_type": "employee",
                "emails": ["zhang.wei@example.com"], "phones": ["+86 138 0000 0000"],
                "departments": [{"department_id": a}, {"department_id": b, "primary": true}]
            })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.body["login"], "zhang.wei",
        "logins are case-insensitive"
    );
    assert_eq!(reply.body["pinyin_full"], "zhangwei");
    assert_eq!(reply.body["pinyin_initials"], "zw");
    assert_eq!(
        reply.body["memberships"][0]["department_id"],
        b.as_str(),
        "primary first"
    );

    // Duplicate login, in any case.
    let reply = app
        .admin(
            Method::POST,
            "/api/v1/admin/staff",
            Some(json!({"login": "ZHANG.WEI", "display_name": "x", "staff_type": "employee"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    // Two primaries are refused.
    let reply = app
        .admin(
            Method::PUT,
            &format!("/api/v1/admin/staff/{id}/departments"),
            Some(json!([{"department_id": a, "primary": true}, {"department_id": b, "primary": true}])),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["error"]["field"], "departments");

    // Rename: pinyin follows.
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/staff/{id}"),
            Some(json!({"display_name": "曾志伟", "title": "架构师"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["pinyin_full"], "zengzhiwei");

    // Search by initials and by phone digits.
    let found = app
        .admin(Method::GET, "/api/v1/admin/staff?q=zzw", None)
        .await;
    assert_eq!(found.body["total"], 1);
    let found = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/staff?department_id={a}"),
            None,
        )
        .await;
    assert_eq!(found.body["total"], 1);
    let found = app
        .admin(Method::GET, "/api/v1/admin/staff?q=nobody", None)
        .await;
    assert_eq!(found.body["total"], 0);

    // Disable, enable, delete.
    let reply = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/staff/{id}/disable"),
            None,
        )
        .await;
    assert_eq!(reply.body["status"], "disabled");
    assert_eq!(reply.body["disabled_by"], "admin");
    let reply = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/staff/{id}/enable"),
            None,
        )
        .await;
    assert_eq!(reply.body["status"], "active");
    assert_eq!(reply.body["disabled_by"], Value::Null);
    let reply = app
        .admin(Method::DELETE, &format!("/api/v1/admin/staff/{id}"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = app
        .admin(Method::GET, &format!("/api/v1/admin/staff/{id}"), None)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // The login is free again.
    app.create_staff("zhang.wei", "张伟", &[&a]).await;
}

async fn disabling_revokes_tokens_at_once(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let a = app.create_department(None, "A", "business").await;
    let id = app.create_staff("han.meimei", "韩梅梅", &[&a]).await;
    let token = app.staff_token(&id, "han.meimei").await;
    let me = app
        .call(Method::GET, "/api/v1/auth/me", Some(&token), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["staff_id"], id.as_str());
    assert_eq!(me.body["is_admin"], false);

    // An employee is not an admin.
    let reply = app
        .call(Method::GET, "/api/v1/admin/departments", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.error_code(), "forbidden");

    app.admin(
        Method::POST,
        &format!("/api/v1/admin/staff/{id}/disable"),
        None,
    )
    .await;
    let me = app
        .call(Method::GET, "/api/v1/auth/me", Some(&token), None)
        .await;
    assert_eq!(
        me.status,
        StatusCode::UNAUTHORIZED,
        "the old token must stop working"
    );
    let login = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "han.meimei", "password": "staff-password-1"})),
        )
        .await;
    assert_eq!(
        login.status,
        StatusCode::UNAUTHORIZED,
        "disabled staff cannot log in"
    );

    app.admin(
        Method::POST,
        &format!("/api/v1/admin/staff/{id}/enable"),
        None,
    )
    .await;
    let token = app.login("han.meimei", "staff-password-1").await;
    // Logout revokes.
    let reply = app
        .call(Method::POST, "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let me = app
        .call(Method::GET, "/api/v1/auth/me", Some(&token), None)
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
}

async fn every_write_is_versioned_and_audited(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let before = app
        .admin(Method::GET, "/api/v1/admin/departments", None)
        .await
        .body["version"]
        .as_i64()
        .unwrap();
    let a = app.create_department(None, "A", "business").await;
    let after_create = app
        .admin(Method::GET, "/api/v1/admin/departments", None)
        .await
        .body["version"]
        .as_i64()
        .unwrap();
    assert!(after_create > before);
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/departments/{a}"),
            Some(json!({"name": "A2"})),
        )
        .await;
    assert!(reply.body["version"].as_i64().unwrap() > after_create);
    // A patch that changes nothing does not create a version.
    let same = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/departments/{a}"),
            Some(json!({"name": "A2"})),
        )
        .await;
    assert_eq!(same.body["version"], reply.body["version"]);

    let audit = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/audit?entity_id={a}"),
            None,
        )
        .await;
    let entries = audit.body.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{}", audit.body);
    assert_eq!(entries[0]["action"], "department.update");
    assert_eq!(entries[0]["actor"], "admin");
    assert_eq!(entries[0]["source"], "api");
    assert_eq!(entries[0]["remote_addr"], "127.0.0.1");
    assert_eq!(entries[0]["before"]["name"], "A");
    assert_eq!(entries[0]["after"]["name"], "A2");
    assert_eq!(entries[1]["action"], "department.create");
    assert_eq!(entries[1]["before"], Value::Null);

    // Account changes are audited without the hash.
    let id = app.create_staff("wang.fang", "王芳", &[&a]).await;
    app.staff_token(&id, "wang.fang").await;
    let audit = app
        .admin(Method::GET, "/api/v1/admin/audit?limit=1", None)
        .await;
    assert_eq!(audit.body[0]["action"], "account.set_password");
    assert!(!audit.body.to_string().contains("argon2"));
}

async fn failed_writes_leave_nothing_behind(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let a = app.create_department(None, "A", "business").await;
    let version = app
        .admin(Method::GET, "/api/v1/admin/departments", None)
        .await
        .body["version"]
        .clone();
    let audit_len = app
        .admin(Method::GET, "/api/v1/admin/audit", None)
        .await
        .body
        .as_array()
        .unwrap()
        .len();

    let bad_inputs = [
        json!({"login": "x", "display_name": "", "staff_type": "employee"}),
        json!({"login": "bad login!", "display_name": "X", "staff_type": "employee"}),
        json!({"login": "x", "display_name": "X", "staff_type": "employee", "emails": ["not-an-email"]}),
        json!({"login": "x", "display_name": "X", "staff_type": "employee", "departments": [{"department_id": a}, {"department_id": a}]}),
        json!({"login": "x", "display_name": "X", "staff_type": "employee", "departments": [{"department_id": uuid::Uuid::now_v7()}]}),
        json!({"login": "x", "display_name": "X", "staff_type": "Not A Tag"}),
        json!({"login": "x", "display_name": "X", "staff_type": "employee", "custom": {"undefined": 1}}),
    ];
    for input in bad_inputs {
        let reply = app
            .admin(Method::POST, "/api/v1/admin/staff", Some(input.clone()))
            .await;
        assert!(
            reply.status == StatusCode::UNPROCESSABLE_ENTITY
                || reply.status == StatusCode::NOT_FOUND,
            "{input}: {} {}",
            reply.status,
            reply.body
        );
        assert!(reply.body["error"]["message"].is_string());
    }
    let now = app
        .admin(Method::GET, "/api/v1/admin/departments", None)
        .await
        .body["version"]
        .clone();
    assert_eq!(now, version, "no version was committed");
    let audit = app.admin(Method::GET, "/api/v1/admin/audit", None).await;
    assert_eq!(
        audit.body.as_array().unwrap().len(),
        audit_len,
        "no audit line was written"
    );
    let staff = app.admin(Method::GET, "/api/v1/admin/staff", None).await;
    assert_eq!(staff.body["total"], 0);
}

async fn custom_fields_are_validated(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let reply = app
        .admin(
            Method::POST,
            "/api/v1/admin/fields",
            Some(json!({"entity": "staff", "key": "shirt", "label": "Shirt", "field_type": "choice", "choices": ["S", "M"]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let reply = app
        .admin(
            Method::POST,
            "/api/v1/admin/fields",
            Some(json!({"entity": "staff", "key": "Bad Key", "label": "x", "field_type": "text"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);

    let a = app.create_department(None, "A", "business").await;
    let id = app.create_staff("li.na", "李娜", &[&a]).await;
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/staff/{id}"),
            Some(json!({"custom": {"shirt": "XXL"}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["error"]["field"], "custom.shirt");
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/staff/{id}"),
            Some(json!({"custom": {"shirt": "M"}})),
        )
        .await;
    assert_eq!(reply.body["custom"]["shirt"], "M");

    let reply = app
        .admin(Method::DELETE, "/api/v1/admin/fields/staff/shirt", None)
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "in use");
    app.admin(
        Method::PATCH,
        &format!("/api/v1/admin/staff/{id}"),
        Some(json!({"custom": {"shirt": null}})),
    )
    .await;
    let reply = app
        .admin(Method::DELETE, "/api/v1/admin/fields/staff/shirt", None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = app
        .admin(Method::DELETE, "/api/v1/admin/fields/staff/shirt", None)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

async fn state_survives_a_restart(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let a = app.create_department(None, "A", "business").await;
    let b = app.create_department(Some(&a), "B", "team").await;
    let id = app.create_staff("sun.li", "孙丽", &[&b, &a]).await;
    let token = app.staff_token(&id, "sun.li").await;
    let version = app
        .admin(Method::GET, "/api/v1/admin/departments", None)
        .await
        .body["version"]
        .clone();
    let person = app
        .admin(Method::GET, &format!("/api/v1/admin/staff/{id}"), None)
        .await
        .body;
    app.stop().await;

    let app = TestApp::start(&storage, false).await;
    let list = app
        .admin(Method::GET, "/api/v1/admin/departments", None)
        .await;
    // The version is the journal head: never behind what was served before the restart.
    assert!(list.body["version"].as_i64() >= version.as_i64());
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    let reloaded = app
        .admin(Method::GET, &format!("/api/v1/admin/staff/{id}"), None)
        .await
        .body;
    assert_eq!(
        reloaded, person,
        "the replica reloads exactly what was written"
    );
    // The token key is kept in the data dir: tokens issued before the restart still work.
    let me = app
        .call(Method::GET, "/api/v1/auth/me", Some(&token), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    // Versions continue from where they were.
    let c = app.create_department(None, "C", "team").await;
    let shown = app
        .admin(Method::GET, &format!("/api/v1/admin/departments/{c}"), None)
        .await;
    assert!(shown.body["version"].as_i64() > version.as_i64());
}
