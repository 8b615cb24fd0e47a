//! The LDAP connector against a real slapd (ldap-init/): full and incremental sync, moves and
//! renames, deletions and their safety net, faults mid-sync, login, TLS and write-back.

use crate::common;

use std::time::Duration;

use common::{Backend, Storage, TestApp, slapd::Slapd};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::{io::AsyncWriteExt, net::TcpListener};

on_both_backends!(
    full_sync_of_the_sample_company,
    moves_renames_deletions_and_reappearances_keep_identities,
    mass_deletions_and_empty_results_wait_for_approval,
    a_connection_dropped_mid_sync_applies_nothing_and_the_next_run_succeeds,
    duplicate_logins_and_bad_records_are_reported_and_the_rest_syncs,
    login_binds_as_the_user_and_resists_injection,
    starttls_and_ldaps_with_the_test_ca,
    writable_mode_writes_to_ldap_first,
    incremental_sync_by_content_sync,
    incremental_sync_by_change_attribute,
);

async fn start(storage: &Storage, slapd: &Slapd, mode: &str) -> TestApp {
    TestApp::start_config(storage.config_with(false, Some(slapd.config(mode)))).await
}

async fn sync(app: &TestApp, kind: &str) -> Value {
    common::ldap_api::sync(app, kind).await
}

async fn person(app: &TestApp, login: &str) -> Option<Value> {
    let reply = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/staff?q={login}&limit=1000"),
            None,
        )
        .await;
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["login"] == login)
        .cloned()
}

async fn departments(app: &TestApp) -> Vec<Value> {
    app.admin(Method::GET, "/api/v1/admin/departments", None)
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn full_sync_of_the_sample_company(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    let app = start(&storage, &slapd, "read_only").await;
    let it = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": "IT", "is_admin": true})),
        )
        .await;
    let it_role = it.body["id"].as_str().unwrap().to_owned();

    let run = sync(&app, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["added"], 40, "{run}");
    assert_eq!(run["counts"]["departments_added"], 13, "{run}");

    let zhangwei = person(&app, "zhangwei").await.expect("zhangwei synced");
    assert_eq!(zhangwei["display_name"], "张伟");
    assert_eq!(zhangwei["pinyin_initials"], "zw");
    assert_eq!(zhangwei["source"], "ldap");
    assert_eq!(zhangwei["custom"]["employee_no"], "S0006");
    assert_eq!(
        zhangwei["ldap"]["dn"],
        "uid=zhangwei,ou=Backend,ou=RD,ou=Stellar,dc=example,dc=com"
    );
    let depts = departments(&app).await;
    let backend_team = depts
        .iter()
        .find(|d| d["ldap"]["dn"] == "ou=Backend,ou=RD,ou=Stellar,dc=example,dc=com")
        .unwrap();
    let rd = depts
        .iter()
        .find(|d| d["ldap"]["dn"] == "ou=RD,ou=Stellar,dc=example,dc=com")
        .unwrap();
    assert_eq!(
        backend_team["parent_id"], rd["id"],
        "the OU tree becomes the department tree"
    );
    assert_eq!(
        zhangwei["memberships"][0]["department_id"],
        backend_team["id"]
    );
    assert!(
        rd["name"].as_str().unwrap().contains("研发"),
        "names come from description"
    );

    // Groups: nested members resolved (managers contains it-admins), the loop is cut.
    let assignments = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/assignments?role_id={it_role}"),
            None,
        )
        .await;
    assert_eq!(
        assignments.body[0]["subject"], "cn=it-admins,ou=groups,dc=example,dc=com",
        "{}",
        assignments.body
    );
    let songlin = person(&app, "songlin").await.unwrap();
    let roles = app
        .admin(
            Method::GET,
            &format!(
                "/api/v1/admin/staff/{}/roles",
                songlin["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        roles.body[0]["name"], "IT",
        "group members hold the group's role: {}",
        roles.body
    );

    // The audit log says where it came from.
    let audit = app
        .admin(
            Method::GET,
            &format!(
                "/api/v1/admin/audit?entity_id={}",
                zhangwei["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(audit.body[0]["source"], "ldap");

    // A second run changes nothing.
    let again = sync(&app, "full").await;
    assert_eq!(again["counts"]["added"], 0);
    assert_eq!(again["counts"]["updated"], 0, "{again}");

    // Read-only mode: LDAP-owned fields cannot be edited here.
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/staff/{}", zhangwei["id"].as_str().unwrap()),
            Some(json!({"title": "Boss"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("title"),
        "{}",
        reply.body
    );
}

async fn moves_renames_deletions_and_reappearances_keep_identities(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    let app = start(&storage, &slapd, "read_only").await;
    sync(&app, "full").await;
    let before = person(&app, "zhangwei").await.unwrap();
    let backend_before = departments(&app)
        .await
        .into_iter()
        .find(|d| d["ldap"]["dn"] == "ou=Backend,ou=RD,ou=Stellar,dc=example,dc=com")
        .unwrap();

    // Move the Backend OU under Sales and rename a user (new uid, new RDN).
    slapd.modify("dn: ou=Backend,ou=RD,ou=Stellar,dc=example,dc=com\nchangetype: modrdn\nnewrdn: ou=Backend\ndeleteoldrdn: 1\nnewsuperior: ou=Sales,ou=Stellar,dc=example,dc=com\n");
    slapd.modify("dn: uid=zhangwei,ou=Backend,ou=Sales,ou=Stellar,dc=example,dc=com\nchangetype: modrdn\nnewrdn: uid=zhang.wei\ndeleteoldrdn: 1\n");
    let run = sync(&app, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(person(&app, "zhangwei").await.is_none());
    let after = person(&app, "zhang.wei").await.expect("renamed");
    assert_eq!(
        after["id"], before["id"],
        "a rename is an update: the same person"
    );
    let backend_after = departments(&app)
        .await
        .into_iter()
        .find(|d| d["id"] == backend_before["id"])
        .unwrap();
    let sales = departments(&app)
        .await
        .into_iter()
        .find(|d| d["ldap"]["dn"] == "ou=Sales,ou=Stellar,dc=example,dc=com")
        .unwrap();
    assert_eq!(
        backend_after["parent_id"], sales["id"],
        "a moved OU is a moved department"
    );
    assert_eq!(run["counts"]["added"], 0);
    assert_eq!(run["counts"]["departments_added"], 0);

    // Delete two people: disabled, not removed.
    slapd.delete("uid=alice,ou=Frontend,ou=RD,ou=Stellar,dc=example,dc=com");
    slapd.delete("uid=bob,ou=Backend,ou=Sales,ou=Stellar,dc=example,dc=com");
    let run = sync(&app, "full").await;
    assert_eq!(run["counts"]["disabled"], 2, "{run}");
    let alice = person(&app, "alice").await.expect("still there");
    assert_eq!(alice["status"], "disabled");
    assert_eq!(alice["disabled_by"], "ldap");

    // Alice comes back (a new entry, a new entryUUID, the same login): her record returns.
    slapd.add("dn: uid=alice,ou=Frontend,ou=RD,ou=Stellar,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice Smith\nsn: Smith\ndisplayName: Alice Smith\nmail: alice@example.com\n");
    let run = sync(&app, "full").await;
    assert_eq!(run["counts"]["re_enabled"], 1, "{run}");
    let back = person(&app, "alice").await.unwrap();
    assert_eq!(back["id"], alice["id"]);
    assert_eq!(back["status"], "active");

    // An admin's disabling is not undone by LDAP.
    let carol = person(&app, "carol").await.unwrap();
    app.admin(
        Method::POST,
        &format!(
            "/api/v1/admin/staff/{}/disable",
            carol["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    sync(&app, "full").await;
    assert_eq!(person(&app, "carol").await.unwrap()["disabled_by"], "admin");
}

async fn mass_deletions_and_empty_results_wait_for_approval(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    let app = start(&storage, &slapd, "read_only").await;
    sync(&app, "full").await;

    // Ten of forty people vanish: over the 20% threshold.
    let doomed = [
        "wangfang",
        "zhaolei",
        "ouyangxue",
        "yangyang",
        "huangting",
        "zhoujie",
        "wuhao",
        "xumin",
        "carol",
        "chenming",
    ];
    let mut dns = Vec::new();
    for login in doomed {
        dns.push(
            person(&app, login).await.unwrap()["ldap"]["dn"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for dn in &dns {
        slapd.delete(dn);
    }
    let run = sync(&app, "full").await;
    assert_eq!(run["status"], "blocked", "{run}");
    assert!(run["message"].as_str().unwrap().contains("threshold"));
    assert_eq!(
        person(&app, "wangfang").await.unwrap()["status"],
        "active",
        "nothing applied"
    );

    let approved = app
        .admin(
            Method::POST,
            &format!(
                "/api/v1/admin/ldap/runs/{}/approve",
                run["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(approved.status, StatusCode::ACCEPTED, "{}", approved.body);
    let approved = common::ldap_api::wait_run(&app, approved.body["id"].as_str().unwrap()).await;
    assert_eq!(approved["status"], "succeeded");
    assert_eq!(approved["counts"]["disabled"], 10);
    assert_eq!(
        person(&app, "wangfang").await.unwrap()["status"],
        "disabled"
    );
    let runs = app
        .admin(Method::GET, "/api/v1/admin/ldap/runs", None)
        .await;
    assert!(
        runs.body
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["approved"] == true)
    );

    // A search that returns nobody (here: a filter that matches nothing) blocks too.
    app.stop().await;
    let mut config = slapd.config("read_only");
    config.staff.filter = "(&(objectClass=inetOrgPerson)(uid=nobody-at-all))".into();
    let app = TestApp::start_config(storage.config_with(false, Some(config))).await;
    let run = sync(&app, "full").await;
    assert_eq!(run["status"], "blocked", "{run}");
    assert!(run["message"].as_str().unwrap().contains("returned nobody"));
    assert_eq!(person(&app, "zhangwei").await.unwrap()["status"], "active");
}

/// A TCP proxy in front of slapd that cuts the connection after `budget` bytes from the server.
async fn cutting_proxy(target: String, budget: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let target = target.trim_start_matches("ldap://").to_owned();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.split();
                let (mut server_read, mut server_write) = server.split();
                let upstream = tokio::io::copy(&mut client_read, &mut server_write);
                let downstream = async {
                    let mut sent = 0usize;
                    let mut buffer = vec![0u8; 1024];
                    loop {
                        use tokio::io::AsyncReadExt;
                        let Ok(n) = server_read.read(&mut buffer).await else {
                            break;
                        };
                        if n == 0 || sent + n > budget {
                            break;
                        }
                        if client_write.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                        sent += n;
                    }
                };
                tokio::select! { _ = upstream => {}, _ = downstream => {} }
            });
        }
    });
    format!("ldap://{address}")
}

async fn a_connection_dropped_mid_sync_applies_nothing_and_the_next_run_succeeds(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    // The proxy lets the bind and the first pages through, then drops the connection.
    let mut config = slapd.config("read_only");
    config.url = cutting_proxy(slapd.url(), 6_000).await;
    let app = TestApp::start_config(storage.config_with(false, Some(config))).await;
    let run = sync(&app, "full").await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(departments(&app).await.len(), 0, "nothing half-applied");
    assert!(person(&app, "zhangwei").await.is_none());
    app.stop().await;

    // Unreachable and stalled servers fail cleanly too.
    let mut config = slapd.config("read_only");
    config.url = "ldap://127.0.0.1:1".into();
    let app = TestApp::start_config(storage.config_with(false, Some(config))).await;
    let run = sync(&app, "full").await;
    assert_eq!(run["status"], "failed");
    assert!(
        run["message"].as_str().unwrap().contains("unreachable"),
        "{run}"
    );
    app.stop().await;

    let app = start(&storage, &slapd, "read_only").await;
    let run = sync(&app, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["added"], 40);

    // slapd killed: the run fails, the directory keeps what it had.
    let mut slapd = slapd;
    slapd.stop();
    let run = sync(&app, "full").await;
    assert_eq!(run["status"], "failed");
    assert_eq!(person(&app, "zhangwei").await.unwrap()["status"], "active");
}

async fn duplicate_logins_and_bad_records_are_reported_and_the_rest_syncs(backend: Backend) {
    let slapd = Slapd::start(&[]);
    slapd.add("dn: uid=dup,ou=HR,ou=Stellar,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: zhangwei\ncn: Another Zhang\nsn: Zhang\n");
    slapd.add("dn: uid=noname,ou=HR,ou=Stellar,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: noname\ncn: X\nsn: X\nmail: not-an-email\n");
    let storage = Storage::new(backend).await;
    let app = start(&storage, &slapd, "read_only").await;
    let run = sync(&app, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["added"], 40, "{run}");
    let failures = run["failures"].as_array().unwrap();
    assert!(
        failures
            .iter()
            .any(|f| f["dn"].as_str().unwrap().starts_with("uid=")
                && f["reason"].as_str().unwrap().contains("taken")),
        "{run}"
    );
    assert!(
        failures.iter().any(
            |f| f["dn"] == "uid=noname,ou=HR,ou=Stellar,dc=example,dc=com"
                && f["reason"].as_str().unwrap().contains("email")
        ),
        "{run}"
    );
}

async fn login_binds_as_the_user_and_resists_injection(backend: Backend) {
    let mut slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    let app = start(&storage, &slapd, "read_only").await;
    sync(&app, "full").await;
    let login = |l: &str, p: &str| {
        let body = json!({"login": l, "password": p});
        let app = &app;
        async move {
            app.call(Method::POST, "/api/v1/auth/login", None, Some(body))
                .await
        }
    };
    let ok = login("zhangwei", "password").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let me = app
        .call(
            Method::GET,
            "/api/v1/auth/me",
            Some(ok.body["token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(me.body["name"], "zhangwei");
    assert_eq!(
        login("zhangwei", "wrong").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login("zhangwei", "").await.status,
        StatusCode::UNAUTHORIZED,
        "an empty password is not an anonymous bind"
    );
    for attack in [
        "*)(uid=*))(|(uid=*",
        "*",
        "zhangwei)(|(uid=*",
        "*)(objectClass=*",
    ] {
        assert_eq!(
            login(attack, "password").await.status,
            StatusCode::UNAUTHORIZED,
            "{attack}"
        );
    }
    assert_eq!(
        login("xumin", "password").await.status,
        StatusCode::UNAUTHORIZED,
        "no password in LDAP"
    );

    // A disabled person cannot log in, even with the right LDAP password.
    let alice = person(&app, "alice").await.unwrap();
    app.admin(
        Method::POST,
        &format!(
            "/api/v1/admin/staff/{}/disable",
            alice["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(
        login("alice", "password").await.status,
        StatusCode::UNAUTHORIZED
    );

    // LDAP down: people from LDAP get a clear 503, the local admin still gets in.
    slapd.stop();
    let down = login("zhangwei", "password").await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.body
    );
    assert_eq!(
        login("admin", common::ADMIN_PASSWORD).await.status,
        StatusCode::OK
    );
}

async fn starttls_and_ldaps_with_the_test_ca(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    let ca = slapd.get("LDAP_CA");
    for (url, start_tls) in [(slapd.get("LDAPS_URL"), false), (slapd.url(), true)] {
        let mut config = slapd.config("read_only");
        config.url = url.clone();
        config.start_tls = start_tls;
        config.ca_file = Some(ca.clone());
        let app = TestApp::start_config(storage.config_with(false, Some(config))).await;
        let test = app
            .admin(Method::POST, "/api/v1/admin/ldap/test", None)
            .await;
        assert_eq!(
            test.status,
            StatusCode::OK,
            "{url} starttls={start_tls}: {}",
            test.body
        );
        assert_eq!(test.body["staff"], 40);
        assert!(test.body["paging"].as_bool().unwrap());
        assert!(test.body["sample"]["login"].is_string());
        app.stop().await;
    }
    // Without our CA the server's certificate is not trusted.
    let mut config = slapd.config("read_only");
    config.url = slapd.get("LDAPS_URL");
    let app = TestApp::start_config(storage.config_with(false, Some(config))).await;
    let test = app
        .admin(Method::POST, "/api/v1/admin/ldap/test", None)
        .await;
    assert_eq!(
        test.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        test.body
    );
}

async fn writable_mode_writes_to_ldap_first(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    let app = start(&storage, &slapd, "writable").await;
    sync(&app, "full").await;
    let zhangwei = person(&app, "zhangwei").await.unwrap();
    let id = zhangwei["id"].as_str().unwrap();
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/staff/{id}"),
            Some(json!({"title": "Architect", "phones": ["+86 10 1234 5678"]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let dn = "uid=zhangwei,ou=Backend,ou=RD,ou=Stellar,dc=example,dc=com";
    assert_eq!(slapd.read(dn, "title"), vec!["Architect"]);
    assert_eq!(slapd.read(dn, "telephoneNumber"), vec!["+86 10 1234 5678"]);

    // A move to another department is a modrdn in LDAP.
    let hr = departments(&app)
        .await
        .into_iter()
        .find(|d| d["ldap"]["dn"] == "ou=HR,ou=Stellar,dc=example,dc=com")
        .unwrap();
    let reply = app
        .admin(
            Method::PUT,
            &format!("/api/v1/admin/staff/{id}/departments"),
            Some(json!([{"department_id": hr["id"]}])),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body["ldap"]["dn"],
        "uid=zhangwei,ou=HR,ou=Stellar,dc=example,dc=com"
    );
    assert_eq!(
        slapd.read("uid=zhangwei,ou=HR,ou=Stellar,dc=example,dc=com", "uid"),
        vec!["zhangwei"]
    );
    let run = sync(&app, "full").await;
    assert_eq!(
        run["counts"]["updated"], 0,
        "LDAP and Switchboard agree: {run}"
    );

    // LDAP refuses (the entry is gone): a clear error, nothing stored.
    slapd.delete("uid=zhangwei,ou=HR,ou=Stellar,dc=example,dc=com");
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/staff/{id}"),
            Some(json!({"title": "Ghost"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert_eq!(
        person(&app, "zhangwei").await.unwrap()["title"],
        "Architect"
    );
}

async fn incremental_sync_by_content_sync(backend: Backend) {
    incremental_sync_picks_up_adds_modifies_moves_and_deletes(backend, true).await;
}

async fn incremental_sync_by_change_attribute(backend: Backend) {
    incremental_sync_picks_up_adds_modifies_moves_and_deletes(backend, false).await;
}

/// With `content_sync`, slapd's syncprov (RFC 4533) names who changed and who left; without,
/// the run compares modifyTimestamp and lists every id. Both must reach the same directory.
async fn incremental_sync_picks_up_adds_modifies_moves_and_deletes(
    backend: Backend,
    content_sync: bool,
) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    let mut config = slapd.config("read_only");
    config.content_sync = content_sync;
    let app = TestApp::start_config(storage.config_with(false, Some(config))).await;
    let first = sync(&app, "incremental").await;
    assert_eq!(first["kind"], "full", "the first run is full: {first}");
    let alice_before = person(&app, "alice").await.unwrap();
    let yangyang_before = person(&app, "yangyang").await.unwrap();
    // modifyTimestamp has a one-second resolution.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    slapd.add("dn: uid=newbie,ou=QA,ou=RD,ou=Stellar,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: newbie\ncn: 新人\nsn: 新\ndisplayName: 新人\n");
    slapd.modify("dn: uid=alice,ou=Frontend,ou=RD,ou=Stellar,dc=example,dc=com\nchangetype: modify\nreplace: title\ntitle: Lead\n");
    slapd.delete("uid=bob,ou=Backend,ou=RD,ou=Stellar,dc=example,dc=com");
    // A move to another department is a modrdn.
    slapd.modify("dn: uid=yangyang,ou=Frontend,ou=RD,ou=Stellar,dc=example,dc=com\nchangetype: modrdn\nnewrdn: uid=yangyang\ndeleteoldrdn: 1\nnewsuperior: ou=QA,ou=RD,ou=Stellar,dc=example,dc=com\n");
    let run = sync(&app, "incremental").await;
    assert_eq!(run["kind"], "incremental", "{run}");
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["content_sync"], content_sync, "{run}");
    assert_eq!(run["counts"]["added"], 1, "{run}");
    assert_eq!(run["counts"]["disabled"], 1, "{run}");
    assert_eq!(run["counts"]["moved"], 1, "{run}");
    assert_eq!(
        person(&app, "newbie").await.unwrap()["display_name"],
        "新人"
    );
    let yangyang = person(&app, "yangyang").await.unwrap();
    assert_eq!(yangyang["id"], yangyang_before["id"], "a move is an update");
    let qa = departments(&app)
        .await
        .into_iter()
        .find(|d| d["ldap"]["dn"] == "ou=QA,ou=RD,ou=Stellar,dc=example,dc=com")
        .unwrap();
    assert!(
        yangyang["memberships"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["department_id"] == qa["id"]),
        "{yangyang}"
    );
    // modifyTimestamp has one-second resolution, so a run re-reads the second it stopped at
    // (here: the bulk load); the next one reads only what changed since.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let quiet = sync(&app, "incremental").await;
    assert!(
        quiet["counts"]["read"].as_u64().unwrap() < 20,
        "only what changed is read in full: {quiet}"
    );
    if content_sync {
        // The server names what changed since the cookie: nothing, not the last second again.
        assert_eq!(quiet["counts"]["read"], 0, "{quiet}");
    }
    assert_eq!(quiet["counts"]["updated"], 0, "{quiet}");
    assert_eq!(quiet["counts"]["disabled"], 0, "{quiet}");
    assert_eq!(person(&app, "alice").await.unwrap()["title"], "Lead");
    assert_eq!(person(&app, "bob").await.unwrap()["status"], "disabled");

    // Alice leaves and comes back as a new entry (a new entryUUID, the same login).
    slapd.delete("uid=alice,ou=Frontend,ou=RD,ou=Stellar,dc=example,dc=com");
    let run = sync(&app, "incremental").await;
    assert_eq!(run["counts"]["disabled"], 1, "{run}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    slapd.add("dn: uid=alice,ou=Frontend,ou=RD,ou=Stellar,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice Smith\nsn: Smith\ndisplayName: Alice Smith\n");
    let run = sync(&app, "incremental").await;
    assert_eq!(run["counts"]["re_enabled"], 1, "{run}");
    let back = person(&app, "alice").await.unwrap();
    assert_eq!(back["id"], alice_before["id"], "{back}");
    assert_eq!(back["status"], "active");

    if content_sync {
        // A cookie older than the server's session log: the server cannot name who left, so
        // it lists everyone still there (the present phase) and the rest are gone.
        let db = sea_orm::Database::connect(storage.database_url())
            .await
            .expect("database");
        let old = hex::encode("rid=000,csn=20200101000000.000000Z#000000#000#000000");
        sea_orm::ConnectionTrait::execute_unprepared(
            &db,
            &format!("UPDATE ldap_state SET sync_cookie = '{old}'"),
        )
        .await
        .expect("cookie set back");
        slapd.delete("uid=carol,ou=QA,ou=RD,ou=Stellar,dc=example,dc=com");
        let run = sync(&app, "incremental").await;
        assert_eq!(run["counts"]["content_sync"], true, "{run}");
        assert_eq!(run["counts"]["disabled"], 1, "{run}");
        assert_eq!(person(&app, "carol").await.unwrap()["status"], "disabled");
        assert_eq!(person(&app, "alice").await.unwrap()["status"], "active");
    }
}
