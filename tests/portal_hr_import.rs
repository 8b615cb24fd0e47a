//! Staff import: the portal's CSV import (preview, then apply, with bad rows reported) and
//! export in a real browser, and the JSON API twin (`POST /api/v1/admin/staff/import`): many
//! people with departments, roles and initial passwords in one call. SQLite and PostgreSQL.

use crate::common;
use crate::portal_hr::sign_in;

use common::{Backend, Storage, TestApp, browser::Browser};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn staff_by_login(app: &TestApp, login: &str) -> Option<Value> {
    let list = app
        .admin(Method::GET, &format!("/api/v1/admin/staff?q={login}"), None)
        .await;
    list.body["items"]
        .as_array()
        .and_then(|items| items.iter().find(|s| s["login"] == login).cloned())
}

async fn csv_import_previews_applies_and_reports_bad_rows(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let head = app.create_department(None, "总部", "company").await;
    let rnd = app
        .create_department(Some(&head), "研发中心", "business")
        .await;
    app.create_staff("old.li", "李旧", &[&head]).await;

    let csv = "login,display_name,title,staff_type,emails,departments,initial_password\n\
new.wang,王新,工程师,employee,new.wang@example.com,总部/研发中心,Welcome-2026\n\
old.li,,架构师,,,,\n\
bad.one,坏行,,employee,not-an-email,总部,\n\
no.dept,无部门,,employee,,不存在的部门,";
    let browser = Browser::start("en").await;
    sign_in(
        &browser,
        &app,
        "admin",
        common::ADMIN_PASSWORD,
        "/admin/staff",
    )
    .await;
    browser
        .find("#open-import")
        .await
        .click()
        .await
        .expect("open");
    browser.wait_for_path("/admin/staff/import").await;
    browser
        .find("#import-csv")
        .await
        .send_keys(csv)
        .await
        .expect("type");
    browser
        .find("#preview-import")
        .await
        .click()
        .await
        .expect("preview");
    assert_eq!(browser.text("#count-created").await, "1");
    assert_eq!(browser.text("#count-updated").await, "1");
    assert_eq!(browser.text("#count-failed").await, "2");
    let bad = browser.text("tr[data-line='4'] .row-error").await;
    assert!(bad.contains("not-an-email"), "{bad}");
    let missing = browser.text("tr[data-line='5'] .row-error").await;
    assert!(missing.contains("不存在的部门"), "{missing}");
    assert!(browser.text("tr[data-line='3']").await.contains("title"));
    // A preview changes nothing.
    assert!(staff_by_login(&app, "new.wang").await.is_none());

    browser
        .find("#apply-import")
        .await
        .click()
        .await
        .expect("apply");
    assert_eq!(browser.text(".card-header h2").await, "Import done");
    assert_eq!(browser.text("#count-created").await, "1");
    assert_eq!(browser.text("#count-failed").await, "2");
    let wang = staff_by_login(&app, "new.wang").await.expect("created");
    assert_eq!(wang["memberships"][0]["department_id"], rnd.as_str());
    assert_eq!(wang["title"], "工程师");
    let li = staff_by_login(&app, "old.li").await.expect("kept");
    assert_eq!(li["title"], "架构师");
    assert_eq!(li["display_name"], "李旧");
    assert!(staff_by_login(&app, "bad.one").await.is_none());
    let _ = app.login("new.wang", "Welcome-2026").await;

    // The export has the same columns, departments as paths.
    let token = app.login("admin", common::ADMIN_PASSWORD).await;
    let export = reqwest::Client::new()
        .get(format!("{}/admin/staff/export", app.base))
        .header("cookie", format!("sb_session={token}"))
        .send()
        .await
        .expect("export");
    assert_eq!(export.status(), StatusCode::OK);
    assert!(
        export.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/csv")
    );
    let text = export.text().await.expect("csv");
    assert!(
        text.starts_with(
            "\u{feff}login,display_name,title,staff_type,emails,phones,departments,status"
        ),
        "{text}"
    );
    assert!(
        text.contains("new.wang,王新,工程师,employee,new.wang@example.com,,总部/研发中心,active"),
        "{text}"
    );
}

async fn the_import_api_creates_and_updates_many_people_in_one_call(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let head = app.create_department(None, "总部", "company").await;
    let sales = app
        .create_department(Some(&head), "销售部", "business")
        .await;
    let role = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": "销售"})),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED);
    let people = json!([
        {"login": "a.zhao", "display_name": "赵一", "staff_type": "employee",
         "departments": [{"department": "总部/销售部"}, {"department": head, "primary": true}],
         "roles": ["销售"], "initial_password": "Welcome-2026", "title": "销售代表"},
        {"login": "b.qian", "display_name": "钱二", "staff_type": "intern",
         "departments": [{"department": sales}], "emails": ["b.qian@example.com"]},
        {"login": "c.sun", "display_name": "孙三", "staff_type": "employee",
         "departments": [{"department": "总部/没有"}]},
        {"login": "A.Zhao", "display_name": "重复", "staff_type": "employee"},
        {"login": "d.li", "staff_type": "employee"},
    ]);
    let dry = app
        .admin(
            Method::POST,
            "/api/v1/admin/staff/import",
            Some(json!({"dry_run": true, "people": people})),
        )
        .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.body);
    assert_eq!(
        (dry.body["created"].as_u64(), dry.body["failed"].as_u64()),
        (Some(2), Some(3))
    );
    assert!(
        staff_by_login(&app, "a.zhao").await.is_none(),
        "a dry run changes nothing"
    );

    let done = app
        .admin(
            Method::POST,
            "/api/v1/admin/staff/import",
            Some(json!({"people": people})),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let results = done.body["results"].as_array().expect("results");
    let outcomes: Vec<&str> = results
        .iter()
        .map(|r| r["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        outcomes,
        ["created", "created", "failed", "failed", "failed"]
    );
    assert_eq!(results[2]["error"]["field"], "departments");
    assert_eq!(results[3]["error"]["field"], "login");
    assert_eq!(results[4]["error"]["field"], "display_name");
    let zhao = results[0]["id"].as_str().expect("id").to_owned();
    let person = app
        .admin(Method::GET, &format!("/api/v1/admin/staff/{zhao}"), None)
        .await;
    assert_eq!(
        person.body["memberships"][0]["department_id"],
        head.as_str()
    );
    assert_eq!(person.body["memberships"][0]["primary"], true);
    let roles = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/staff/{zhao}/roles"),
            None,
        )
        .await;
    assert_eq!(roles.body[0]["name"], "销售", "{}", roles.body);
    let _ = app.login("a.zhao", "Welcome-2026").await;

    // Again: unchanged; a new title is an update naming the field.
    let again = app
        .admin(
            Method::POST,
            "/api/v1/admin/staff/import",
            Some(json!({"people": [
                {"login": "a.zhao", "roles": ["销售"], "title": "销售代表"},
                {"login": "b.qian", "title": "助理"},
            ]})),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["results"][0]["outcome"], "unchanged");
    assert_eq!(again.body["results"][1]["outcome"], "updated");
    assert_eq!(again.body["results"][1]["changes"], json!(["title"]));

    // Roles need IT's power too; an empty or oversized call is refused.
    let hr = app.create_staff("hr.only", "人事", &[&head]).await;
    let _ = app.staff_token(&hr, "hr.only").await;
    let hr_role = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": "HR", "admin_powers": ["directory"]})),
        )
        .await;
    let assigned = app
        .admin(
            Method::POST,
            "/api/v1/admin/assignments",
            Some(json!({"role_id": hr_role.body["id"], "subject_kind": "staff", "subject": hr})),
        )
        .await;
    assert!(assigned.status.is_success());
    // A new login: the role's powers are read when the token is issued.
    let hr_token = app.login("hr.only", "staff-password-1").await;
    let refused = app
        .call(
            Method::POST,
            "/api/v1/admin/staff/import",
            Some(&hr_token),
            Some(json!({"people": [{"login": "b.qian", "roles": ["销售"]}]})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let allowed = app
        .call(
            Method::POST,
            "/api/v1/admin/staff/import",
            Some(&hr_token),
            Some(json!({"people": [{"login": "b.qian", "title": "专员"}]})),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK);
    let empty = app
        .admin(
            Method::POST,
            "/api/v1/admin/staff/import",
            Some(json!({"people": []})),
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
}

crate::on_both_backends!(
    csv_import_previews_applies_and_reports_bad_rows,
    the_import_api_creates_and_updates_many_people_in_one_call,
);
