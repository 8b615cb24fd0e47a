//! HR's staff pages in a real browser, and stale department edits: the list with search, filters and keyset paging, a
//! person's page with form errors next to their fields, a stale edit caught in the portal and
//! over the API (`If-Match` → 412), disabling. On SQLite and PostgreSQL.

use crate::common;
use crate::portal_hr::sign_in;

use common::{Backend, Storage, TestApp, browser::Browser};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn rows(browser: &Browser) -> usize {
    let count = browser
        .client
        .execute(
            "return document.querySelectorAll('#staff-table tbody tr').length",
            vec![],
        )
        .await
        .expect("script");
    count.as_u64().unwrap_or(0) as usize
}

async fn wait_for_total(browser: &Browser, total: &str) {
    for _ in 0..200 {
        // Read by script: htmx may replace the element between finding and reading it.
        let now = browser
            .client
            .execute(
                "var e = document.querySelector('#staff-total strong'); return e ? e.textContent : ''",
                vec![],
            )
            .await
            .expect("script");
        if now.as_str() == Some(total) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "total never became {total}: {}",
        browser.text("#staff-total").await
    );
}

async fn the_staff_list_searches_filters_and_pages(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let sales = app.create_department(None, "销售部", "business").await;
    let east = app
        .create_department(Some(&sales), "华东区", "region")
        .await;
    for i in 0..53 {
        app.create_staff(&format!("p{i:02}"), &format!("员工{i:02}"), &[&sales])
            .await;
    }
    let zhang = app.create_staff("zhangwei", "张伟", &[&east]).await;
    let disabled = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/staff/{zhang}/disable"),
            None,
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK);

    let browser = Browser::start("en").await;
    sign_in(
        &browser,
        &app,
        "admin",
        common::ADMIN_PASSWORD,
        "/admin/staff",
    )
    .await;
    assert_eq!(browser.text(".page-title").await, "Staff");
    wait_for_total(&browser, "54").await;
    assert_eq!(rows(&browser).await, 50);
    browser
        .find("#next-page")
        .await
        .click()
        .await
        .expect("next");
    browser.wait_for_path("/admin/staff?after=").await;
    assert_eq!(rows(&browser).await, 4);
    browser
        .find("#prev-page")
        .await
        .click()
        .await
        .expect("prev");
    browser.wait_for_path("/admin/staff?before=").await;
    assert_eq!(rows(&browser).await, 50);

    // Search by initials, as typed (htmx updates the list).
    browser.goto(&format!("{}/admin/staff", app.base)).await;
    browser
        .find("#staff-q")
        .await
        .send_keys("zw")
        .await
        .expect("type");
    wait_for_total(&browser, "1").await;
    assert_eq!(browser.text("#staff-table .staff-link").await, "张伟");
    // Filters in the address: status, and a department with its subtree.
    browser
        .goto(&format!("{}/admin/staff?status=disabled", app.base))
        .await;
    wait_for_total(&browser, "1").await;
    browser
        .goto(&format!("{}/admin/staff?department={sales}", app.base))
        .await;
    wait_for_total(&browser, "53").await;
    assert!(browser.text("#department-filter").await.contains("销售部"));
    browser
        .goto(&format!(
            "{}/admin/staff?department={sales}&subtree=1",
            app.base
        ))
        .await;
    wait_for_total(&browser, "54").await;
}

async fn staff_edits_show_errors_and_catch_stale_versions(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let dept = app.create_department(None, "研发部", "business").await;
    let other = app.create_department(None, "测试部", "business").await;
    let id = app.create_staff("liu.yang", "刘洋", &[&dept]).await;

    // API: the ETag is the version; If-Match with an older one is 412 and changes nothing.
    let read = app
        .admin(Method::GET, &format!("/api/v1/admin/staff/{id}"), None)
        .await;
    let etag = read.headers["etag"].to_str().expect("etag").to_owned();
    let patch = |tag: String, body: Value| {
        app.client
            .patch(format!("{}/api/v1/admin/staff/{id}", app.base))
            .bearer_auth(&app.admin_token)
            .header("if-match", tag)
            .json(&body)
            .send()
    };
    let ok = patch(etag.clone(), json!({"title": "工程师"}))
        .await
        .expect("patch");
    assert_eq!(ok.status(), StatusCode::OK);
    let stale = patch(etag, json!({"title": "经理"})).await.expect("patch");
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let now = app
        .admin(Method::GET, &format!("/api/v1/admin/staff/{id}"), None)
        .await;
    assert_eq!(now.body["title"], "工程师");

    // Portal: an invalid email stays in its field with the error beside it.
    let browser = Browser::start("en").await;
    sign_in(
        &browser,
        &app,
        "admin",
        common::ADMIN_PASSWORD,
        &format!("/admin/staff/{id}"),
    )
    .await;
    let emails = browser.find("#f-emails").await;
    emails.clear().await.expect("clear");
    emails.send_keys("not-an-email").await.expect("type");
    browser
        .find("#save-staff")
        .await
        .click()
        .await
        .expect("save");
    assert_eq!(
        browser.text("#f-emails-error").await,
        "One valid email address per line."
    );
    let kept = browser
        .find("#f-emails")
        .await
        .prop("value")
        .await
        .expect("value");
    assert_eq!(kept.as_deref(), Some("not-an-email"));

    // Stale: the page is loaded, someone changes the title over the API, HR saves phones.
    browser
        .goto(&format!("{}/admin/staff/{id}", app.base))
        .await;
    let changed = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/staff/{id}"),
            Some(json!({"title": "高级工程师"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    browser
        .find("#f-phones")
        .await
        .send_keys("+86 10 1234 5678")
        .await
        .expect("type");
    browser
        .find("#save-staff")
        .await
        .click()
        .await
        .expect("save");
    assert!(
        browser
            .text("#form-message")
            .await
            .contains("Someone else changed")
    );
    let phones = browser
        .find("#f-phones")
        .await
        .prop("value")
        .await
        .expect("value");
    assert_eq!(phones.as_deref(), Some("+86 10 1234 5678"));
    let now = app
        .admin(Method::GET, &format!("/api/v1/admin/staff/{id}"), None)
        .await;
    assert_eq!(now.body["title"], "高级工程师");
    assert_eq!(now.body["phones"], json!([]));

    // Saving again goes through, with a second department made primary.
    browser.find("#add-department-results").await;
    browser
        .find("#f-departments input[type=search]")
        .await
        .send_keys("ceshi")
        .await
        .expect("type");
    browser
        .find(&format!("#add-department-results input[value='{other}']"))
        .await;
    browser
        .find("#save-staff")
        .await
        .click()
        .await
        .expect("save");
    browser
        .wait_for_path(&format!("/admin/staff/{id}?notice=saved"))
        .await;
    browser
        .find(&format!(
            "#f-departments input[name=primary][value='{other}']"
        ))
        .await
        .click()
        .await
        .expect("primary");
    browser
        .find("#save-staff")
        .await
        .click()
        .await
        .expect("save");
    // The page is already at `?notice=saved` from the first save, so waiting for the path
    // proves nothing here: wait for the stored primary department instead.
    let primary_of = |body: &Value| {
        body["memberships"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m["primary"] == true))
            .map(|m| m["department_id"].clone())
    };
    let mut now = app
        .admin(Method::GET, &format!("/api/v1/admin/staff/{id}"), None)
        .await;
    for _ in 0..100 {
        if primary_of(&now.body) == Some(json!(other.as_str())) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        now = app
            .admin(Method::GET, &format!("/api/v1/admin/staff/{id}"), None)
            .await;
    }
    assert_eq!(now.body["phones"], json!(["+86 10 1234 5678"]));
    assert_eq!(now.body["title"], "高级工程师");
    let primary: Vec<&Value> = now.body["memberships"]
        .as_array()
        .expect("memberships")
        .iter()
        .filter(|m| m["primary"] == true)
        .collect();
    assert_eq!(primary[0]["department_id"], other.as_str());

    // Disable from the page.
    browser
        .find("#disable-staff")
        .await
        .click()
        .await
        .expect("disable");
    browser
        .wait_for_path(&format!("/admin/staff/{id}?notice=disabled"))
        .await;
    let now = app
        .admin(Method::GET, &format!("/api/v1/admin/staff/{id}"), None)
        .await;
    assert_eq!(now.body["status"], "disabled");
}

async fn stale_department_edits_are_caught_in_the_portal_and_the_api(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, false).await;
    let id = app.create_department(None, "财务部", "support").await;

    // API: the ETag is the version; an edit based on an older one is 412.
    let read = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/departments/{id}"),
            None,
        )
        .await;
    let etag = read.headers["etag"].to_str().expect("etag").to_owned();
    assert_eq!(etag, format!("\"{}\"", read.body["version"]));
    let patch = |tag: &str, name: &str| {
        app.client
            .patch(format!("{}/api/v1/admin/departments/{id}", app.base))
            .bearer_auth(&app.admin_token)
            .header("if-match", tag)
            .json(&json!({"name": name}))
            .send()
    };
    let first = patch(&etag, "财务中心").await.expect("patch");
    assert_eq!(first.status(), StatusCode::OK);
    let new_tag = first.headers()["etag"].to_str().expect("etag").to_owned();
    assert_ne!(new_tag, etag);
    let stale = patch(&etag, "财务二部").await.expect("patch");
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let body: Value = stale.json().await.expect("json");
    assert_eq!(body["error"]["code"], "precondition_failed");
    assert_eq!(
        patch("W/\"1\"", "x").await.expect("patch").status(),
        StatusCode::PRECONDITION_FAILED
    );
    let unconditional = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/departments/{id}"),
            Some(json!({"dept_type": "finance"})),
        )
        .await;
    assert_eq!(unconditional.status, StatusCode::OK);

    // Portal: the page is loaded, then someone renames the department over the API.
    let browser = Browser::start("en").await;
    sign_in(
        &browser,
        &app,
        "admin",
        common::ADMIN_PASSWORD,
        &format!("/admin/org?dept={id}"),
    )
    .await;
    let renamed = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/departments/{id}"),
            Some(json!({"name": "财务共享中心"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    let name = browser.find("#edit-name").await;
    name.clear().await.expect("clear");
    name.send_keys("会计部").await.expect("type");
    browser
        .find("#save-dept")
        .await
        .click()
        .await
        .expect("save");
    let message = browser.text("#edit-message").await;
    assert!(message.contains("Someone else changed"), "{message}");
    // What was typed stays; the page shows the current name; nothing was overwritten.
    let typed = browser
        .find("#edit-name")
        .await
        .prop("value")
        .await
        .expect("value");
    assert_eq!(typed.as_deref(), Some("会计部"));
    assert_eq!(browser.text("#dept-name").await, "财务共享中心");
    let now = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/departments/{id}"),
            None,
        )
        .await;
    assert_eq!(now.body["name"], "财务共享中心");
    // Saving again (now based on the current version) goes through.
    browser
        .find("#save-dept")
        .await
        .click()
        .await
        .expect("save");
    browser
        .wait_for_path(&format!("/admin/org?dept={id}&notice=saved"))
        .await;
    assert_eq!(browser.text("#dept-name").await, "会计部");
}

crate::on_both_backends!(
    the_staff_list_searches_filters_and_pages,
    staff_edits_show_errors_and_catch_stale_versions,
    stale_department_edits_are_caught_in_the_portal_and_the_api,
);
