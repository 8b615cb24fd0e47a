//! HR's portal pages in a real browser (headless Chromium over WebDriver): the org chart (tree,
//! lazy children, search by pinyin, drag and drop of departments and people, the move and
//! delete dialogs, the chart) and a person's page, stale edits caught in the portal and over the API (`If-Match`),
//! form errors next to their fields, both languages. On SQLite and PostgreSQL.

use crate::common;

use std::time::Duration;

use common::{Backend, Storage, TestApp, browser::Browser};
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A person with a local password and a role holding `powers` (and seeing everyone).
async fn person_with_role(
    app: &TestApp,
    department: &str,
    login: &str,
    name: &str,
    powers: &[&str],
) -> String {
    let staff = app.create_staff(login, name, &[department]).await;
    let _ = app.staff_token(&staff, login).await;
    let role = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": format!("role of {login}"), "admin_powers": powers})),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    let rule = app
        .admin(
            Method::POST,
            "/api/v1/admin/rules",
            Some(json!({"role_id": role.body["id"], "effect": "allow", "object": "all"})),
        )
        .await;
    assert!(rule.status.is_success(), "{}", rule.body);
    let assigned = app
        .admin(
            Method::POST,
            "/api/v1/admin/assignments",
            Some(json!({"role_id": role.body["id"], "subject_kind": "staff", "subject": staff})),
        )
        .await;
    assert!(assigned.status.is_success(), "{}", assigned.body);
    staff
}

/// Drags the element at `from` onto the element at `to` with the mouse (pointer events).
pub async fn drag(browser: &Browser, from: &str, to: &str) {
    let source = browser.find(from).await;
    let target = browser.find(to).await;
    browser
        .client
        .execute(
            "arguments[0].scrollIntoView({block: 'center'})",
            vec![serde_json::to_value(&source).expect("element")],
        )
        .await
        .expect("scroll");
    let steps = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: source,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(100)),
            x: 10.0,
            y: 10.0,
        })
        .then(PointerAction::MoveToElement {
            element: target,
            duration: Some(Duration::from_millis(200)),
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    browser.client.perform_actions(steps).await.expect("drag");
}

/// The value of `name` in the current page's query string.
pub async fn query_value(browser: &Browser, name: &str) -> Option<String> {
    let url = browser.client.current_url().await.expect("url");
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub async fn sign_in(browser: &Browser, app: &TestApp, login: &str, password: &str, path: &str) {
    browser.goto(&format!("{}/admin/login", app.base)).await;
    browser.sign_in(login, password).await;
    browser.wait_for_path("/admin").await;
    browser.goto(&format!("{}{path}", app.base)).await;
}

/// The changes of a delta as `kind:id` → data.
fn changes(delta: &Value) -> Vec<(String, String, Value)> {
    delta["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                format!(
                    "{}:{}",
                    c["op"].as_str().unwrap_or(""),
                    c["kind"].as_str().unwrap_or("")
                ),
                c["id"].as_str().unwrap_or("").to_owned(),
                c["data"].clone(),
            )
        })
        .collect()
}

async fn hr_moves_a_person_by_drag_and_drop_and_the_delta_shows_it(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let head = app.create_department(None, "总部", "company").await;
    let viewer = person_with_role(&app, &head, "li.viewer", "李看", &[]).await;
    let _ = viewer;
    person_with_role(&app, &head, "hr.zhao", "赵人事", &["directory"]).await;
    let wang = app.create_staff("wang.wu", "王五", &[&head]).await;
    let viewer_token = app.login("li.viewer", "staff-password-1").await;
    let snapshot = app
        .call(
            Method::GET,
            "/api/v1/contacts/snapshot",
            Some(&viewer_token),
            None,
        )
        .await;
    assert_eq!(snapshot.status, StatusCode::OK);
    let since = snapshot.body["version"].as_i64().expect("version");

    let browser = Browser::start("en").await;
    sign_in(&browser, &app, "hr.zhao", "staff-password-1", "/admin/org").await;
    assert_eq!(browser.text(".page-title").await, "Org chart");
    browser
        .find(&format!(".tree-row[data-id='{head}'] .tree-label"))
        .await
        .click()
        .await
        .expect("select");
    browser
        .wait_for_path(&format!("/admin/org?dept={head}"))
        .await;
    assert_eq!(browser.text("#dept-name").await, "总部");
    browser
        .find("#create-name")
        .await
        .send_keys("研发部")
        .await
        .expect("type");
    browser
        .find("#create-submit")
        .await
        .click()
        .await
        .expect("create");
    browser.wait_for_path("/admin/org?dept=").await;
    for _ in 0..100 {
        if query_value(&browser, "notice").await.as_deref() == Some("created") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rnd = query_value(&browser, "dept").await.expect("new department");
    assert_ne!(rnd, head);
    assert_eq!(browser.text("#dept-name").await, "研发部");

    // Back to the head office; drag 王五 from its member list onto 研发部 in the tree.
    browser
        .goto(&format!("{}/admin/org?dept={head}", app.base))
        .await;
    drag(
        &browser,
        &format!(".member[data-id='{wang}']"),
        &format!(".tree-row[data-id='{rnd}']"),
    )
    .await;
    browser
        .wait_for_path(&format!("/admin/org?dept={rnd}&notice=person_moved"))
        .await;
    assert_eq!(
        browser.text("#notice").await,
        "The person was moved to this department."
    );
    assert!(browser.text("#member-list").await.contains("王五"));

    // And gives them a new title on their page.
    browser
        .find(&format!(".member[data-id='{wang}'] a"))
        .await
        .click()
        .await
        .expect("open");
    browser.wait_for_path(&format!("/admin/staff/{wang}")).await;
    let title = browser.find("#f-title").await;
    title.clear().await.expect("clear");
    title.send_keys("架构师").await.expect("type");
    browser
        .find("#save-staff")
        .await
        .click()
        .await
        .expect("save");
    browser
        .wait_for_path(&format!("/admin/staff/{wang}?notice=saved"))
        .await;

    // The employee's delta holds exactly the new department and the moved person.
    let delta = app
        .call(
            Method::GET,
            &format!("/api/v1/contacts/delta?since={since}"),
            Some(&viewer_token),
            None,
        )
        .await;
    assert_eq!(delta.status, StatusCode::OK, "{}", delta.body);
    let mut got = changes(&delta.body);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), 2, "{}", delta.body);
    assert_eq!(
        (got[0].0.as_str(), got[0].1.as_str()),
        ("upsert:department", rnd.as_str())
    );
    assert_eq!(got[0].2["name"], "研发部");
    assert_eq!(got[0].2["parent_id"], head.as_str());
    assert_eq!(
        (got[1].0.as_str(), got[1].1.as_str()),
        ("upsert:staff", wang.as_str())
    );
    assert_eq!(
        got[1].2["departments"],
        json!([{"department_id": rnd, "order_key": 0, "primary": true}])
    );
    assert_eq!(got[1].2["title"], "架构师");
    assert_eq!(got[1].2["display_name"], "王五");

    // The audit log names the portal as the source.
    let audit = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/audit?entity_id={wang}"),
            None,
        )
        .await;
    let last = audit
        .body
        .as_array()
        .and_then(|items| items.iter().find(|i| i["action"] == "staff.update"))
        .cloned()
        .expect("an audit entry");
    assert_eq!(last["source"], "portal", "{last}");
    assert_eq!(last["actor"], "hr.zhao", "{last}");
}

async fn departments_move_by_drag_and_drop_and_by_the_dialog(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let a = app.create_department(None, "市场部", "business").await;
    let b = app.create_department(None, "销售部", "business").await;
    let a1 = app.create_department(Some(&a), "品牌组", "team").await;
    let browser = Browser::start("en").await;
    sign_in(
        &browser,
        &app,
        "admin",
        common::ADMIN_PASSWORD,
        "/admin/org",
    )
    .await;

    // Lazy children: 市场部's child appears once expanded.
    browser
        .find(&format!(".tree-row[data-id='{a}'] .tree-toggle"))
        .await
        .click()
        .await
        .expect("expand");
    browser
        .find(&format!("#children-{a} .tree-row[data-id='{a1}']"))
        .await;
    // Drag 品牌组 onto 销售部.
    drag(
        &browser,
        &format!(".tree-row[data-id='{a1}']"),
        &format!(".tree-row[data-id='{b}'] .tree-label"),
    )
    .await;
    browser
        .wait_for_path(&format!("/admin/org?dept={b}&notice=moved"))
        .await;
    let moved = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/departments/{a1}"),
            None,
        )
        .await;
    assert_eq!(moved.body["parent_id"], b.as_str());

    // The keyboard way: the move dialog with a search by pinyin, back under 市场部.
    browser
        .goto(&format!("{}/admin/org?dept={a1}", app.base))
        .await;
    browser
        .find("#open-move")
        .await
        .click()
        .await
        .expect("open");
    browser
        .find("#move-dialog input[type=search]")
        .await
        .send_keys("shichang")
        .await
        .expect("type");
    browser
        .find(&format!("#move-results input[value='{a}']"))
        .await
        .click()
        .await
        .expect("choose");
    browser
        .find("#move-submit")
        .await
        .click()
        .await
        .expect("move");
    browser
        .wait_for_path(&format!("/admin/org?dept={a1}&notice=moved"))
        .await;
    let moved = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/departments/{a1}"),
            None,
        )
        .await;
    assert_eq!(moved.body["parent_id"], a.as_str());

    // Delete 市场部: its child goes to the top level, its member to 销售部.
    app.create_staff("zhou", "周一", &[&a]).await;
    browser
        .goto(&format!("{}/admin/org?dept={a}", app.base))
        .await;
    browser
        .find("#open-delete")
        .await
        .click()
        .await
        .expect("open");
    browser
        .find("#delete-dialog input[name=children_to][value=root]")
        .await
        .click()
        .await
        .expect("root");
    browser
        .find("#delete-dialog input[name=members_to][value=other]")
        .await
        .click()
        .await
        .expect("other");
    browser
        .find("#delete-dialog input[aria-label='Its members move to']")
        .await
        .send_keys("销售")
        .await
        .expect("type");
    browser
        .find(&format!("#members-results input[value='{b}']"))
        .await
        .click()
        .await
        .expect("choose");
    browser
        .find("#delete-submit")
        .await
        .click()
        .await
        .expect("delete");
    browser.wait_for_path("/admin/org?notice=deleted").await;
    let list = app
        .admin(Method::GET, "/api/v1/admin/departments", None)
        .await;
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, vec!["销售部", "品牌组"]);
    let members = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/departments/{b}/members"),
            None,
        )
        .await;
    assert_eq!(members.body[0]["login"], "zhou");

    // The chart draws the company.
    browser.goto(&format!("{}/admin/org/chart", app.base)).await;
    let boxes = browser.text(".orgchart").await;
    assert!(
        boxes.contains("销售部") && boxes.contains("品牌组"),
        "{boxes}"
    );
}

async fn org_forms_keep_input_escape_names_and_speak_chinese(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let evil = "<script>alert('x')</script><b>部</b>";
    let id = app.create_department(None, evil, "team").await;
    let browser = Browser::start("zh-CN").await;
    sign_in(
        &browser,
        &app,
        "admin",
        common::ADMIN_PASSWORD,
        "/admin/org",
    )
    .await;
    assert_eq!(browser.text(".page-title").await, "组织架构");
    assert_eq!(browser.text(".tree-label").await, evil);
    let injected = browser
        .client
        .execute(
            "return document.querySelectorAll('.tree b, .tree script').length",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(injected, json!(0));

    // An invalid type: the error sits next to the field, what was typed stays.
    browser
        .goto(&format!("{}/admin/org?dept={id}", app.base))
        .await;
    browser
        .find("#create-name")
        .await
        .send_keys("新部门")
        .await
        .expect("type");
    let kind = browser.find("#create-type").await;
    kind.clear().await.expect("clear");
    kind.send_keys("R&D 部").await.expect("type");
    browser
        .find("#create-submit")
        .await
        .click()
        .await
        .expect("submit");
    let error = browser.text("#create-type-error").await;
    assert!(error.contains("a-z"), "{error}");
    let kept = browser
        .find("#create-name")
        .await
        .prop("value")
        .await
        .expect("value");
    assert_eq!(kept.as_deref(), Some("新部门"));
    let list = app
        .admin(Method::GET, "/api/v1/admin/departments", None)
        .await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));

    // Search by initials finds a department by its Chinese name.
    app.create_department(None, "研发中心", "business").await;
    browser.goto(&format!("{}/admin/org", app.base)).await;
    browser
        .find("#org-search")
        .await
        .send_keys("yfzx")
        .await
        .expect("type");
    assert_eq!(
        browser.text("#org-search-results .hit-name").await,
        "研发中心"
    );
}

crate::on_both_backends!(
    hr_moves_a_person_by_drag_and_drop_and_the_delta_shows_it,
    departments_move_by_drag_and_drop_and_by_the_dialog,
    org_forms_keep_input_escape_names_and_speak_chinese,
);
