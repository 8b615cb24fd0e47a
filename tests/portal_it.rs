//! IT's portal pages: roles, visibility rules with their effect before saving, and "view as" —
//! in a real browser (headless Chromium) and over plain HTTP with a session cookie. The demo
//! company gives every kind of contact list (own-department classes, denies, masks). On SQLite
//! and PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};

use crate::common;

use common::{Backend, Storage, TestApp, browser::Browser};
use reqwest::{Method, StatusCode, header};
use serde_json::Value;

/// A portal session over plain HTTP: the session cookie of an API token, and its CSRF token
/// read from a page.
pub struct Portal {
    pub client: reqwest::Client,
    pub base: String,
    pub cookie: String,
    pub csrf: String,
    pub lang: &'static str,
}

/// An answer of the portal: status, where it redirects, the page.
pub struct Page {
    pub status: StatusCode,
    pub location: String,
    pub html: String,
}

impl Portal {
    pub async fn open(app: &TestApp, token: &str) -> Self {
        let mut portal = Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: app.base.clone(),
            cookie: format!("sb_session={token}"),
            csrf: String::new(),
            lang: "en",
        };
        let page = portal.get("/admin").await;
        portal.csrf = page
            .html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a CSRF token on the dashboard")
            .to_owned();
        portal
    }

    async fn answer(response: reqwest::Response) -> Page {
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Page {
            status,
            location,
            html: response.text().await.expect("page"),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, &self.cookie)
            .header(header::ACCEPT_LANGUAGE, self.lang)
            .send()
            .await
            .expect("get");
        Self::answer(response).await
    }

    /// Posts a form (with the CSRF token).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut pairs = vec![("csrf", self.csrf.as_str())];
        pairs.extend_from_slice(fields);
        let body = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(header::COOKIE, &self.cookie)
            .header(header::ACCEPT_LANGUAGE, self.lang)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("post");
        Self::answer(response).await
    }
}

pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of `data-<name>="…"` in a page.
pub fn data(html: &str, name: &str) -> usize {
    html.split(&format!("data-{name}=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("data-{name} in {html}"))
}

async fn role_id(app: &TestApp, name: &str) -> String {
    let roles = app.admin(Method::GET, "/api/v1/admin/roles", None).await;
    roles
        .body
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["name"].as_str().is_some_and(|n| n.ends_with(name)))
        .and_then(|r| r["id"].as_str())
        .unwrap_or_else(|| panic!("role {name}"))
        .to_owned()
}

async fn department_id(app: &TestApp, name: &str) -> String {
    let list = app
        .admin(Method::GET, "/api/v1/admin/departments", None)
        .await;
    list.body["items"]
        .as_array()
        .expect("departments")
        .iter()
        .find(|d| d["name"].as_str().is_some_and(|n| n.contains(name)))
        .and_then(|d| d["id"].as_str())
        .unwrap_or_else(|| panic!("department {name}: {}", list.body))
        .to_owned()
}

/// Active people (id, login, department ids).
async fn active_people(app: &TestApp) -> Vec<(String, String, Vec<String>)> {
    let list = app
        .admin(
            Method::GET,
            "/api/v1/admin/staff?status=active&limit=1000",
            None,
        )
        .await;
    list.body["items"]
        .as_array()
        .expect("staff")
        .iter()
        .map(|s| {
            let departments = s["memberships"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["department_id"].as_str().map(String::from))
                .collect();
            (
                s["id"].as_str().unwrap_or("").to_owned(),
                s["login"].as_str().unwrap_or("").to_owned(),
                departments,
            )
        })
        .collect()
}

/// Everyone's contact list as the admin API's preview has it (without its version).
async fn every_view(
    app: &TestApp,
    people: &[(String, String, Vec<String>)],
) -> BTreeMap<String, Value> {
    let mut views = BTreeMap::new();
    for (id, _, _) in people {
        let reply = app
            .client
            .get(format!(
                "{}/api/v1/admin/views/preview?staff_id={id}",
                app.base
            ))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .expect("preview");
        let mut body: Value = reply.json().await.expect("preview json");
        let mut view = body["view"].take();
        view.as_object_mut().expect("view").remove("version");
        view["masked"] = body["masked_fields"].take();
        views.insert(id.clone(), view);
    }
    views
}

fn ids(view: &Value, key: &str) -> BTreeSet<String> {
    view[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["id"].as_str().map(String::from))
        .collect()
}

/// What a change did, counted from everyone's lists before and after: (viewers changed,
/// viewers losing people, people hidden, viewers gaining people, people shown, viewers whose
/// hidden fields changed).
fn observed(before: &BTreeMap<String, Value>, after: &BTreeMap<String, Value>) -> [usize; 6] {
    let (mut changed, mut losing, mut gaining, mut masking) = (0, 0, 0, 0);
    let (mut hidden, mut shown) = (BTreeSet::new(), BTreeSet::new());
    for (id, old) in before {
        let new = &after[id];
        if old != new {
            changed += 1;
        }
        let (a, b) = (ids(old, "staff"), ids(new, "staff"));
        let lost: Vec<_> = a.difference(&b).cloned().collect();
        let got: Vec<_> = b.difference(&a).cloned().collect();
        losing += usize::from(!lost.is_empty());
        gaining += usize::from(!got.is_empty());
        hidden.extend(lost);
        shown.extend(got);
        masking += usize::from(old["masked"] != new["masked"]);
    }
    [changed, losing, hidden.len(), gaining, shown.len(), masking]
}

fn predicted(html: &str) -> [usize; 6] {
    [
        data(html, "viewers"),
        data(html, "hiding-viewers"),
        data(html, "hidden-staff"),
        data(html, "showing-viewers"),
        data(html, "shown-staff"),
        data(html, "masking-viewers"),
    ]
}

async fn effect_preview_equals_what_the_saved_rule_does(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let portal = Portal::open(&app, &app.admin_token).await;
    let people = active_people(&app).await;
    let (employee, contractor, hr, admin, executive) = (
        role_id(&app, "Employee").await,
        role_id(&app, "Contractor").await,
        role_id(&app, "HR").await,
        role_id(&app, "Administrator").await,
        role_id(&app, "Executive").await,
    );
    let rnd = department_id(&app, "R&D Center").await;
    // Each edit as the builder would post it: a deny of a subtree with exempt roles, a grant
    // to contractors, a global mask, and a grant that makes employees' lists depend on their
    // own departments (every employee moves to a class of their own department).
    let intern = role_id(&app, "Intern").await;
    // (whether it changes any list, the edit): the last-but-one makes employees' lists
    // depend on their own departments (every employee moves to a class of their own) without
    // changing what they see.
    let edits: Vec<(bool, Vec<(&str, &str)>)> = vec![
        (
            true,
            vec![
                ("effect", "deny"),
                ("kind", "subtree"),
                ("department", &rnd),
                ("exempt", &hr),
                ("exempt", &admin),
                ("exempt", &executive),
            ],
        ),
        (
            true,
            vec![
                ("effect", "allow"),
                ("role", &contractor),
                ("kind", "dept_type"),
                ("dept_type", "support"),
            ],
        ),
        (
            true,
            vec![
                ("effect", "mask"),
                ("role", ""),
                ("field", "title"),
                ("exempt", &hr),
            ],
        ),
        (
            false,
            vec![
                ("effect", "allow"),
                ("role", &employee),
                ("kind", "own_subtree"),
            ],
        ),
        (
            true,
            vec![("effect", "allow"), ("role", &intern), ("kind", "all")],
        ),
    ];
    let mut before = every_view(&app, &people).await;
    let mut last = [0; 6];
    for (changes, edit) in edits {
        let preview = portal.post("/admin/rules/effect", &edit).await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.html);
        let predicted = predicted(&preview.html);
        last = predicted;
        let saved = portal.post("/admin/rules", &edit).await;
        assert_eq!(
            saved.status,
            StatusCode::SEE_OTHER,
            "{edit:?}: {}",
            saved.html
        );
        let after = every_view(&app, &people).await;
        let observed = observed(&before, &after);
        assert_eq!(
            predicted, observed,
            "{edit:?}: predicted vs observed [viewers, losing, hidden, gaining, shown, masking]"
        );
        assert_eq!(observed[0] > 0, changes, "{edit:?} changed something");
        before = after;
    }

    // A rule's page tells what deleting it would do (fetched once the page is shown): for
    // the interns' grant saved last, the people it showed are hidden again.
    let rules = app
        .admin(reqwest::Method::GET, "/api/v1/admin/rules", None)
        .await;
    let granted = rules.body["items"]
        .as_array()
        .or(rules.body.as_array())
        .and_then(|all| {
            all.iter()
                .find(|r| r["role_id"] == intern.as_str() && r["object"] == "all")
        })
        .and_then(|r| r["id"].as_str())
        .expect("the interns' rule")
        .to_owned();
    let page = portal.get(&format!("/admin/rules/{granted}")).await;
    assert!(
        page.html
            .contains(&format!("/admin/rules/{granted}/delete-effect")),
        "the page fetches the effect of deleting: {}",
        page.html
    );
    let effect = portal
        .get(&format!("/admin/rules/{granted}/delete-effect"))
        .await;
    assert_eq!(effect.status, StatusCode::OK, "{}", effect.html);
    assert!(
        effect.html.contains("id=\"delete-effect\"")
            && effect.html.contains(&format!(
                "Hides {} people from {} viewers.",
                last[4], last[3]
            )),
        "deleting the grant hides whom it showed ({last:?}): {}",
        effect.html
    );
}

async fn it_adds_a_rule_and_view_as_reflects_it(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let people = active_people(&app).await;
    let frontend = department_id(&app, "Frontend").await;
    let backend_team = department_id(&app, "Backend").await;
    let viewer = people
        .iter()
        .find(|(_, _, d)| d.contains(&backend_team))
        .map(|(_, login, _)| login.clone())
        .expect("someone in Backend");
    // People whose only department is Frontend (others stay visible through their other one).
    let frontenders: Vec<&String> = people
        .iter()
        .filter(|(_, _, d)| d == std::slice::from_ref(&frontend))
        .map(|(_, login, _)| login)
        .collect();
    assert!(!frontenders.is_empty());

    let browser = Browser::start("en").await;
    browser.goto(&format!("{}/admin/login", app.base)).await;
    browser.sign_in("admin", common::ADMIN_PASSWORD).await;
    browser.wait_for_path("/admin").await;
    let view_of_frontend = format!("{}/admin/view-as?staff={viewer}&dept={frontend}", app.base);
    browser.goto(&view_of_frontend).await;
    let listed = browser
        .find(&format!(
            "#view-as-list tr[data-login=\"{}\"]",
            frontenders[0]
        ))
        .await;
    assert!(
        listed
            .text()
            .await
            .expect("row")
            .contains(frontenders[0].as_str())
    );
    let seen_before: usize = browser
        .text("#view-as-people")
        .await
        .parse()
        .expect("count");

    // The builder: deny the Frontend subtree; its effect shows before saving.
    browser.goto(&format!("{}/admin/rules/new", app.base)).await;
    browser
        .find("input[name=effect][value=deny]")
        .await
        .click()
        .await
        .expect("deny");
    browser
        .find("#rule-kind")
        .await
        .select_by_value("subtree")
        .await
        .expect("kind");
    browser
        .find("#rule-department")
        .await
        .select_by_value(&frontend)
        .await
        .expect("department");
    browser
        .find("#rule-description")
        .await
        .send_keys("<script>alert(1)</script> no frontend")
        .await
        .expect("description");
    let mut hidden = String::new();
    for _ in 0..100 {
        hidden = browser
            .client
            .execute(
                "var e = document.getElementById('effect-figures'); return e ? e.dataset.hiddenStaff : '';",
                vec![],
            )
            .await
            .expect("script")
            .as_str()
            .unwrap_or("")
            .to_owned();
        if !hidden.is_empty() && hidden != "0" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let hidden: usize = hidden.parse().expect("the effect's figures");
    assert!(hidden >= frontenders.len(), "{hidden}");
    let sentence = browser.text("#effect-lines").await;
    assert!(
        sentence.contains(&format!("Hides {hidden} people from")),
        "{sentence}"
    );
    browser
        .find("#save-rule")
        .await
        .click()
        .await
        .expect("save");
    browser.wait_for_path("/admin/rules").await;
    let page = browser.client.source().await.expect("source");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt; no frontend"),
        "escaped"
    );
    assert!(
        browser.client.get_alert_text().await.is_err(),
        "no script ran"
    );

    // "View as" shows the list without them.
    browser.goto(&view_of_frontend).await;
    let seen_after: usize = browser
        .text("#view-as-people")
        .await
        .parse()
        .expect("count");
    assert_eq!(seen_after, seen_before - frontenders.len());
    let source = browser.client.source().await.expect("source");
    assert!(
        !source.contains(&format!("data-login=\"{}\"", frontenders[0])),
        "{} is no longer listed",
        frontenders[0]
    );
    assert!(!source.contains(&format!("data-department=\"{frontend}\"")));
}

async fn it_forms_are_validated_next_to_the_field(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let portal = Portal::open(&app, &app.admin_token).await;

    let empty = portal
        .post("/admin/roles", &[("name", ""), ("description", "kept")])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        empty.html.contains("id=\"error-name\">Enter a name."),
        "{}",
        empty.html
    );
    assert!(
        empty.html.contains("value=\"kept\""),
        "what was typed stays"
    );

    let created = portal
        .post(
            "/admin/roles",
            &[("name", "<script>alert(2)</script>"), ("powers", "access")],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.html);
    let role = portal.get(&created.location).await;
    assert!(
        role.html
            .contains("value=\"&#60;script&#62;alert(2)&#60;/script&#62;\""),
    );
    assert!(!role.html.contains("<script>alert(2)"));
    let list = portal.get("/admin/roles").await;
    assert!(
        list.html
            .contains("&#60;script&#62;alert(2)&#60;/script&#62;")
    );

    let taken = portal
        .post(
            "/admin/roles",
            &[
                ("name", "<script>alert(2)</script>"),
                ("description", "again"),
            ],
        )
        .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        taken.html.contains("Another role has this name."),
        "{}",
        taken.html
    );
    assert!(taken.html.contains("value=\"again\""));

    let nobody = portal
        .post(
            &format!("{}/assign", created.location),
            &[("kind", "staff"), ("person_q", "no-such-login")],
        )
        .await;
    assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        nobody
            .html
            .contains("id=\"error-person\">Nobody has the login &#39;no-such-login&#39;."),
        "{}",
        nobody.html
    );
    assert!(nobody.html.contains("value=\"no-such-login\""));

    // Rules: the API's own checks, shown next to the field they concern.
    let no_role = portal
        .post(
            "/admin/rules",
            &[("effect", "allow"), ("role", ""), ("kind", "all")],
        )
        .await;
    assert_eq!(no_role.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_role
            .html
            .contains("id=\"error-role\">an allow rule needs a role"),
        "{}",
        no_role.html
    );
    let no_type = portal
        .post(
            "/admin/rules",
            &[
                ("effect", "deny"),
                ("kind", "dept_type"),
                ("dept_type", ""),
                ("description", "typed"),
            ],
        )
        .await;
    assert_eq!(no_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_type.html.contains("Enter a type."));
    assert!(no_type.html.contains("value=\"typed\""));
    let bad_type = portal
        .post(
            "/admin/rules",
            &[
                ("effect", "deny"),
                ("kind", "dept_type"),
                ("dept_type", "no spaces allowed"),
            ],
        )
        .await;
    assert!(
        bad_type.html.contains("id=\"error-object\">"),
        "{}",
        bad_type.html
    );

    // The effect panel says why a form cannot be saved yet, before saving.
    let unsaveable = [("effect", "mask"), ("role", ""), ("field", "salary!")];
    let preview = portal.post("/admin/rules/effect", &unsaveable).await;
    assert!(
        preview.html.contains("id=\"effect-error\""),
        "{}",
        preview.html
    );

    // HR (the directory power only) reads these pages but may not change them.
    let hr_admins = portal
        .post(
            "/admin/roles",
            &[("name", "HR admins"), ("powers", "directory")],
        )
        .await;
    assert_eq!(hr_admins.status, StatusCode::SEE_OTHER);
    let someone = active_people(&app).await[0].1.clone();
    let assigned = portal
        .post(
            &format!("{}/assign", hr_admins.location),
            &[("kind", "staff"), ("person_q", &someone)],
        )
        .await;
    assert_eq!(assigned.status, StatusCode::SEE_OTHER, "{}", assigned.html);
    let token = app.login(&someone, switchboard::demo::DEMO_PASSWORD).await;
    let hr = Portal::open(&app, &token).await;
    assert_eq!(hr.get("/admin/rules").await.status, StatusCode::OK);
    let refused = hr
        .post("/admin/rules", &[("effect", "allow"), ("kind", "all")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        hr.get("/admin/rules")
            .await
            .html
            .contains("Visibility rules")
    );
}

async fn it_pages_render_in_chinese_and_english(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let mut portal = Portal::open(&app, &app.admin_token).await;
    let rule = app
        .admin(Method::GET, "/api/v1/admin/rules", None)
        .await
        .body[0]["id"]
        .as_str()
        .expect("a rule")
        .to_owned();
    let role = role_id(&app, "Employee").await;
    let someone = active_people(&app).await[0].1.clone();
    for (lang, titles) in [
        (
            "en",
            [
                "Roles",
                "Visibility rules",
                "New rule",
                "Edit rule",
                "View as",
                "Employee",
            ],
        ),
        (
            "zh-CN",
            [
                "角色",
                "可见性规则",
                "新建规则",
                "编辑规则",
                "以他人视角查看",
                "员工",
            ],
        ),
    ] {
        portal.lang = lang;
        for (path, title) in [
            ("/admin/roles".to_owned(), titles[0]),
            ("/admin/rules".to_owned(), titles[1]),
            ("/admin/rules/new".to_owned(), titles[2]),
            (format!("/admin/rules/{rule}"), titles[3]),
            ("/admin/view-as".to_owned(), titles[4]),
            (format!("/admin/roles/{role}"), titles[5]),
            (format!("/admin/view-as?staff={someone}"), titles[4]),
        ] {
            let page = portal.get(&path).await;
            assert_eq!(page.status, StatusCode::OK, "{lang} {path}");
            let h1 = page
                .html
                .split("class=\"page-title\">")
                .nth(1)
                .and_then(|r| r.split('<').next())
                .unwrap_or("");
            assert!(
                h1.contains(title) || path.contains("staff="),
                "{lang} {path}: {h1}"
            );
            assert!(
                !page.html.contains("[?]"),
                "{lang} {path}: a string is missing"
            );
        }
    }
}

crate::on_both_backends!(
    effect_preview_equals_what_the_saved_rule_does,
    it_adds_a_rule_and_view_as_reflects_it,
    it_forms_are_validated_next_to_the_field,
    it_pages_render_in_chinese_and_english,
);
