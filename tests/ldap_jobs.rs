//! LDAP sync runs as background jobs against a real slapd: the dry run predicts the run, runs
//! outlive the request that started them and keep one lease, a starting node leaves another
//! node's run alone, incremental runs refuse an empty base, `group_roles` reach their group in
//! every run, and a change of search or mapping settings makes the next run a full one.

use crate::common;

use std::time::Duration;

use common::{
    Backend, Storage, TestApp,
    ldap_api::{person, start_sync, sync, wait_run},
    slapd::Slapd,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

on_both_backends!(
    the_dry_run_counts_what_the_next_run_does,
    group_roles_reach_their_group_in_every_run,
    an_incremental_run_against_an_empty_or_wrong_base_does_not_succeed,
    syncs_run_as_background_jobs_under_one_lease,
    a_starting_node_leaves_another_nodes_running_sync_alone,
    the_lease_is_renewed_while_a_run_lasts_and_a_dead_nodes_run_is_failed,
    a_change_of_mapping_makes_the_next_run_read_everything,
);

async fn start(storage: &Storage, slapd: &Slapd) -> TestApp {
    TestApp::start_config(storage.config_with(false, Some(slapd.config("read_only")))).await
}

async fn dry_run(app: &TestApp) -> Value {
    let reply = app
        .admin(Method::POST, "/api/v1/admin/ldap/test", None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn create_role(app: &TestApp, name: &str) -> String {
    let reply = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": name, "is_admin": false})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// The sample config maps `employee_no`, a custom field nobody has defined yet: the run
/// defines it before applying, so the dry run must count as if it had.
async fn the_dry_run_counts_what_the_next_run_does(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    let app = start(&storage, &slapd).await;

    let report = dry_run(&app).await;
    let run = sync(&app, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["added"], 40, "{run}");
    assert_eq!(
        report["dry_run"], run["counts"],
        "dry run {report}\nrun {run}"
    );
    assert_eq!(report["failures"], run["failures"], "{report}");

    // After changes in LDAP, with the field now defined, the prediction holds again.
    slapd.add("dn: uid=newbie,ou=QA,ou=RD,ou=Stellar,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: newbie\ncn: Newbie\nsn: N\nemployeeNumber: S9999\n");
    slapd.modify("dn: uid=alice,ou=Frontend,ou=RD,ou=Stellar,dc=example,dc=com\nchangetype: modify\nreplace: title\ntitle: Lead\n");
    slapd.delete("uid=bob,ou=Backend,ou=RD,ou=Stellar,dc=example,dc=com");
    create_role(&app, "IT").await;
    let report = dry_run(&app).await;
    let run = sync(&app, "full").await;
    assert_eq!(run["counts"]["added"], 1, "{run}");
    assert_eq!(run["counts"]["disabled"], 1, "{run}");
    assert_eq!(
        report["dry_run"], run["counts"],
        "dry run {report}\nrun {run}"
    );
    assert_eq!(report["failures"], run["failures"], "{report}");
}

/// A role named in `group_roles` that is created after the first sync reaches its group at
/// the next run, even one in which no group changed; until then it is a reported failure.
async fn group_roles_reach_their_group_in_every_run(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    let app = start(&storage, &slapd).await;
    let group = "cn=it-admins,ou=groups,dc=example,dc=com";

    let report = dry_run(&app).await;
    let said = |body: &Value| {
        body["failures"].as_array().unwrap().iter().any(|f| {
            f["dn"].as_str().unwrap().eq_ignore_ascii_case(group)
                && f["reason"].as_str().unwrap().contains("\"IT\"")
                && f["reason"].as_str().unwrap().contains("does not exist")
        })
    };
    assert!(said(&report), "ldap test names the missing role: {report}");
    let first = sync(&app, "incremental").await;
    assert_eq!(first["status"], "succeeded", "{first}");
    assert!(said(&first), "the run names the missing role: {first}");

    // modifyTimestamp has a one-second resolution and a run re-reads the second of its mark
    // (here: the bulk load, groups included): move the mark past it with a change of one
    // person, so that the next run sees no group changed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    slapd.modify("dn: uid=alice,ou=Frontend,ou=RD,ou=Stellar,dc=example,dc=com\nchangetype: modify\nreplace: title\ntitle: Lead\n");
    sync(&app, "incremental").await;
    let role = create_role(&app, "IT").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let next = sync(&app, "incremental").await;
    assert_eq!(next["kind"], "incremental", "{next}");
    assert_eq!(next["counts"]["groups"], 0, "no group changed: {next}");
    assert!(!said(&next), "{next}");
    let assignments = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/assignments?role_id={role}"),
            None,
        )
        .await;
    assert!(
        assignments
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["subject"] == group),
        "the group holds the role: {}",
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
    assert!(
        roles
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "IT"),
        "a member holds the role: {}",
        roles.body
    );
}

/// A full run whose staff search finds nobody is blocked; an incremental one must not report
/// `succeeded` with nothing changed either — by content sync or by the change attribute.
async fn an_incremental_run_against_an_empty_or_wrong_base_does_not_succeed(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    for content_sync in [true, false] {
        let mut config = slapd.config("read_only");
        config.content_sync = content_sync;
        let app = TestApp::start_config(storage.config_with(false, Some(config.clone()))).await;
        let first = sync(&app, "incremental").await;
        assert_eq!(first["status"], "succeeded", "{first}");
        app.stop().await;

        // A base that exists but holds no people.
        let mut empty = config.clone();
        empty.staff.base_dn = "ou=Groups,dc=example,dc=com".into();
        let app = TestApp::start_config(storage.config_with(false, Some(empty))).await;
        let run = sync(&app, "incremental").await;
        // Another staff base is other settings: the run reads everything, and the safety
        // check holds for full runs as well.
        assert_eq!(run["kind"], "full", "{run}");
        assert_eq!(
            run["status"], "blocked",
            "content_sync={content_sync}: {run}"
        );
        assert!(
            run["message"].as_str().unwrap().contains("returned nobody"),
            "{run}"
        );
        assert_eq!(person(&app, "zhangwei").await.unwrap()["status"], "active");
        app.stop().await;

        // A base that does not exist.
        let mut wrong = config.clone();
        wrong.staff.base_dn = "ou=Nowhere,dc=example,dc=com".into();
        let app = TestApp::start_config(storage.config_with(false, Some(wrong))).await;
        let run = sync(&app, "incremental").await;
        assert_eq!(
            run["status"], "failed",
            "content_sync={content_sync}: {run}"
        );
        assert_eq!(person(&app, "zhangwei").await.unwrap()["status"], "active");
        app.stop().await;
    }
}

/// A TCP proxy in front of slapd that holds every chunk from the server for `delay`, and after
/// `budget` bytes stops passing anything on (the connection stays open: a stalled server).
async fn slow_proxy(target: String, delay: Duration, budget: usize) -> String {
    let (_, open) = tokio::sync::watch::channel(true);
    gated_proxy(target, delay, budget, open).await
}

/// [`slow_proxy`] that passes nothing from the server while `gate` says `false`.
async fn gated_proxy(
    target: String,
    delay: Duration,
    budget: usize,
    gate: tokio::sync::watch::Receiver<bool>,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let target = target.trim_start_matches("ldap://").to_owned();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let target = target.clone();
            let mut gate = gate.clone();
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.split();
                let (mut server_read, mut server_write) = server.split();
                let upstream = tokio::io::copy(&mut client_read, &mut server_write);
                let downstream = async {
                    let mut sent = 0usize;
                    let mut buffer = vec![0u8; 4096];
                    while let Ok(n) = server_read.read(&mut buffer).await {
                        if n == 0 {
                            break;
                        }
                        if sent + n > budget {
                            std::future::pending::<()>().await;
                        }
                        tokio::time::sleep(delay).await;
                        if gate.wait_for(|open| *open).await.is_err() {
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

/// `POST /sync` answers `202` at once with a running run; its progress shows in
/// `GET /runs/{id}`; a second start meanwhile is `409`; whatever way a run ends (success, a
/// stalled server), the lease is free for the next one.
async fn syncs_run_as_background_jobs_under_one_lease(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    let mut config = slapd.config("read_only");
    config.url = slow_proxy(slapd.url(), Duration::from_millis(40), usize::MAX).await;
    let app = TestApp::start_config(storage.config_with(false, Some(config))).await;

    let (status, started) = start_sync(&app, "full").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["status"], "running", "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    let (busy, body) = start_sync(&app, "full").await;
    assert_eq!(busy, StatusCode::CONFLICT, "one run at a time: {body}");
    let progress = app
        .admin(Method::GET, &format!("/api/v1/admin/ldap/runs/{id}"), None)
        .await;
    assert_eq!(progress.body["status"], "running", "{}", progress.body);
    assert!(
        !progress.body["message"].as_str().unwrap().is_empty(),
        "a running run says how far it is: {}",
        progress.body
    );
    let done = wait_run(&app, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["counts"]["added"], 40, "{done}");
    app.stop().await;

    // A server that stops answering mid-read: the run fails on its own (operation timeout),
    // and the lease is free again.
    let mut config = slapd.config("read_only");
    config.url = slow_proxy(slapd.url(), Duration::ZERO, 3_000).await;
    let app = TestApp::start_config(storage.config_with(false, Some(config))).await;
    let stalled = sync(&app, "full").await;
    assert_eq!(stalled["status"], "failed", "{stalled}");
    app.stop().await;
    let app = start(&storage, &slapd).await;
    let (status, body) = start_sync(&app, "full").await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "the lease was released: {body}"
    );
    let run = wait_run(&app, body["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run}");
}

/// Two nodes on one database: a node that starts while another runs a sync must not mark that
/// run failed (its lease is alive); the run ends as it would have.
async fn a_starting_node_leaves_another_nodes_running_sync_alone(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    let mut config = slapd.config("read_only");
    // The first node's run reads through a gate the test holds shut until the second node
    // has started (and the run has waited longer than a lease renewal would need).
    let (open, gate) = tokio::sync::watch::channel(true);
    config.url = gated_proxy(slapd.url(), Duration::ZERO, usize::MAX, gate).await;
    config.operation_timeout_secs = 120;
    let first = TestApp::start_config(storage.config_with(false, Some(config))).await;
    open.send_replace(false);
    let (status, started) = start_sync(&first, "full").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();

    let second = start(&storage, &slapd).await;
    let seen = second
        .admin(Method::GET, &format!("/api/v1/admin/ldap/runs/{id}"), None)
        .await;
    assert_eq!(
        seen.body["status"], "running",
        "the second node left the first node's run alone: {}",
        seen.body
    );
    let (busy, body) = start_sync(&second, "full").await;
    assert_eq!(busy, StatusCode::CONFLICT, "the lease spans nodes: {body}");
    open.send_replace(true);
    let done = wait_run(&first, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
}

/// The lease row as the database has it: (holder, expires_at).
async fn lease(storage: &Storage) -> (String, i64) {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(storage.database_url()).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT holder, expires_at FROM ldap_lease WHERE id = 1",
        ))
        .await
        .unwrap()
        .expect("the lease row");
    (
        row.try_get::<String>("", "holder").unwrap(),
        row.try_get::<i64>("", "expires_at").unwrap(),
    )
}

/// While a run lasts longer than a renewal period, its lease is renewed; once it ends, the
/// lease is free. A node that died mid-run (its lease lost, not renewed) has its run marked
/// failed by the next node to start.
async fn the_lease_is_renewed_while_a_run_lasts_and_a_dead_nodes_run_is_failed(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    let mut config = slapd.config("read_only");
    let (open, gate) = tokio::sync::watch::channel(true);
    config.url = gated_proxy(slapd.url(), Duration::ZERO, usize::MAX, gate).await;
    config.operation_timeout_secs = 120;
    let first = TestApp::start_config(storage.config_with(false, Some(config.clone()))).await;
    open.send_replace(false);
    let (_, started) = start_sync(&first, "full").await;
    let id = started["id"].as_str().unwrap().to_owned();
    let (holder, taken) = lease(&storage).await;
    assert_eq!(holder, id, "the lease names the run holding it");
    // Renewed every 20 s (a third of its 60 s).
    tokio::time::sleep(Duration::from_secs(21)).await;
    let (_, renewed) = lease(&storage).await;
    assert!(
        renewed > taken,
        "the lease was renewed: {taken} -> {renewed}"
    );
    open.send_replace(true);
    let done = wait_run(&first, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let (_, released) = lease(&storage).await;
    assert!(
        released < chrono_now(),
        "the lease is released when the run ends"
    );

    // A run whose node is gone: its lease was not renewed and has run out.
    open.send_replace(false);
    let (_, started) = start_sync(&first, "full").await;
    let orphan = started["id"].as_str().unwrap().to_owned();
    {
        use sea_orm::{ConnectionTrait, Database};
        let db = Database::connect(storage.database_url()).await.unwrap();
        db.execute_unprepared(
            "UPDATE ldap_lease SET holder = 'a-node-that-died', expires_at = 0 WHERE id = 1",
        )
        .await
        .unwrap();
    }
    let next = TestApp::start_config(storage.config_with(false, Some(config))).await;
    let seen = next
        .admin(
            Method::GET,
            &format!("/api/v1/admin/ldap/runs/{orphan}"),
            None,
        )
        .await;
    assert_eq!(seen.body["status"], "failed", "{}", seen.body);
    assert!(
        seen.body["message"]
            .as_str()
            .unwrap()
            .contains("interrupted"),
        "{}",
        seen.body
    );
    // The cut-off run, should its node wake up, applies nothing on top of the lease's holder.
    open.send_replace(true);
    let late = wait_run(&first, &orphan).await;
    assert_eq!(late["status"], "failed", "{late}");
    assert_eq!(late["counts"]["added"], 0, "{late}");
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Where an incremental run starts from belongs to the settings it was reached with: after IT
/// maps `title` from another attribute, the next run must re-read people whose LDAP entries
/// did not change, or they would keep titles from the old mapping until some later full run.
async fn a_change_of_mapping_makes_the_next_run_read_everything(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    let app = start(&storage, &slapd).await;
    let run = sync(&app, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(person(&app, "zhangwei").await.unwrap()["title"], "Engineer");
    let unchanged = sync(&app, "incremental").await;
    assert_eq!(
        unchanged["kind"], "incremental",
        "same settings: {unchanged}"
    );
    app.stop().await;

    let mut remapped = slapd.config("read_only");
    remapped.staff_attributes.title = "employeeNumber".into();
    let app = TestApp::start_config(storage.config_with(false, Some(remapped))).await;
    let run = sync(&app, "incremental").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["kind"], "full", "new mapping, no valid mark: {run}");
    assert_eq!(
        person(&app, "zhangwei").await.unwrap()["title"],
        "S0006",
        "the new mapping reached an entry that did not change in LDAP"
    );
    let next = sync(&app, "incremental").await;
    assert_eq!(
        next["kind"], "incremental",
        "the mark is valid again: {next}"
    );
}
