//! The outbox against a real SMTP server (tests/common/smtp.rs): a server that is down makes
//! mails wait, not fail, and they go out once it is back — across a restart of the service in
//! between, with nothing lost and nothing sent twice; the settings API and its test mail
//! (with an SMTP login); alerts to IT when an LDAP run fails or is blocked (a real slapd). On
//! SQLite and PostgreSQL.

use std::collections::HashMap;

use crate::common;
use crate::mail::{mail_config, outbox_idle, start};

use common::{
    Backend, Storage, TestApp,
    ldap_api::{person, sync},
    slapd::Slapd,
    smtp::{SmtpSink, to},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn entry(app: &TestApp, id: &str) -> Value {
    let reply = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/mail/outbox/{id}"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// Polls a mail of the outbox until `done` holds.
async fn wait_entry(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        last = entry(app, id).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("mail {id} did not get there within a minute: {last}");
}

async fn test_mail(app: &TestApp, to: &str) -> Value {
    let reply = app
        .admin(
            Method::POST,
            "/api/v1/admin/mail/test",
            Some(json!({"to": to})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert!(
        reply.headers["location"]
            .to_str()
            .unwrap()
            .ends_with(reply.body["id"].as_str().unwrap())
    );
    reply.body
}

async fn metrics(app: &TestApp) -> String {
    app.client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits until `/metrics` has this line (the pending gauge is refreshed by the worker).
async fn wait_metric(app: &TestApp, line: &str) {
    let mut text = String::new();
    for _ in 0..300 {
        text = metrics(app).await;
        if text.lines().any(|l| l == line) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no '{line}' in /metrics:\n{text}");
}

async fn mails_wait_while_smtp_is_down_and_go_out_once_after_a_restart(backend: Backend) {
    let mut sink = SmtpSink::down();
    let storage = Storage::new(backend).await;
    let port = sink.port;
    let config = move || mail_config(port, |_| {});
    let app = start(&storage, config(), None).await;
    let team = app.create_department(None, "Team", "team").await;
    app.create_staff("erin", "Erin", &[&team]).await;
    let queued = test_mail(&app, "ops@example.com").await;
    assert_eq!(queued["status"], "queued", "{queued}");
    let id = queued["id"].as_str().unwrap().to_owned();
    // Refused connections are attempts that failed; the mail waits for the next. (Read
    // between attempts: during one it is `sending`.)
    let waiting = wait_entry(&app, &id, |e| {
        e["attempts"].as_i64() >= Some(2) && e["status"] != "sending"
    })
    .await;
    assert_eq!(waiting["status"], "queued", "{waiting}");
    assert!(waiting["last_error"].is_string(), "{waiting}");
    // Meanwhile the API answers as ever.
    let me = app.admin(Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(me.status, StatusCode::OK);
    let listed = app
        .admin(Method::GET, "/api/v1/admin/mail/outbox", None)
        .await;
    let welcome = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "welcome")
        .cloned()
        .expect("the welcome mail is queued");
    assert_eq!(welcome["recipient"], "erin@example.com");
    wait_metric(&app, "switchboard_mail_pending 2").await;
    app.stop().await;

    // A restart in between: the mails are still there, and go out once the server is back.
    let app = start(&storage, config(), None).await;
    assert_ne!(entry(&app, &id).await["status"], "sent");
    sink.up().await;
    let sent = wait_entry(&app, &id, |e| e["status"] == "sent").await;
    let welcome = wait_entry(&app, welcome["id"].as_str().unwrap(), |e| {
        e["status"] == "sent"
    })
    .await;
    outbox_idle(&app).await;
    let received = sink.messages();
    assert_eq!(received.len(), 2, "{received:#?}");
    let test = received
        .iter()
        .find(|m| to(m, "ops@example.com"))
        .expect("the test mail");
    assert_eq!(
        test["message_id"], sent["message_id"],
        "the Message-ID was fixed when queued"
    );
    assert_eq!(test["subject"], "Switchboard test mail");
    assert!(
        received
            .iter()
            .any(|m| to(m, "erin@example.com") && m["message_id"] == welcome["message_id"])
    );
    wait_metric(&app, "switchboard_mail_sent_total 2").await;
    wait_metric(&app, "switchboard_mail_pending 0").await;
    app.stop().await;

    // Another restart sends nothing again; a new mail goes out alone.
    let app = start(&storage, config(), None).await;
    let fresh = test_mail(&app, "ops2@example.com").await;
    wait_entry(&app, fresh["id"].as_str().unwrap(), |e| {
        e["status"] == "sent"
    })
    .await;
    outbox_idle(&app).await;
    let received = sink.messages();
    assert_eq!(received.len(), 3, "{received:#?}");
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for message in &received {
        *per_id
            .entry(message["message_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert!(per_id.values().all(|n| *n == 1), "{per_id:?}");

    // A permanent refusal is not retried.
    let refused = test_mail(&app, "rejected@example.com").await;
    let failed = wait_entry(&app, refused["id"].as_str().unwrap(), |e| {
        e["status"] == "failed"
    })
    .await;
    assert_eq!(failed["attempts"], 1, "{failed}");
    assert!(
        failed["last_error"].as_str().unwrap().contains("550"),
        "{failed}"
    );
    let retried = app
        .admin(
            Method::POST,
            &format!(
                "/api/v1/admin/mail/outbox/{}/retry",
                refused["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    app.stop().await;
}

async fn settings_change_at_run_time_and_the_password_is_never_shown(backend: Backend) {
    let sink = SmtpSink::start(Some("sb:right-password")).await;
    let storage = Storage::new(backend).await;
    // No SMTP server configured (but the tests' short timeouts).
    let mail_off = || {
        mail_config(sink.port, |raw| {
            raw.smtp_host = None;
            raw.from_address = None;
        })
    };
    let app = start(&storage, mail_off(), None).await;
    let shown = app
        .admin(Method::GET, "/api/v1/admin/mail/settings", None)
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body["smtp_host"].is_null(), "{}", shown.body);
    let off = app
        .admin(
            Method::POST,
            "/api/v1/admin/mail/test",
            Some(json!({"to": "it@example.com"})),
        )
        .await;
    assert_eq!(
        off.status,
        StatusCode::CONFLICT,
        "mail is off: {}",
        off.body
    );
    let team = app.create_department(None, "Team", "team").await;
    let frank = app.create_staff("frank", "Frank", &[&team]).await;
    let frank_t = app.staff_token(&frank, "frank").await;
    let denied = app
        .call(
            Method::GET,
            "/api/v1/admin/mail/settings",
            Some(&frank_t),
            None,
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    let settings = |password: Option<&str>, from: &str| {
        let mut body = json!({
            "smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_security": "none",
            "smtp_username": "sb", "from_address": from, "from_name": "IT Desk",
            "public_url": null, "language": "zh", "digest_after_minutes": 60,
            "alert_to": [], "welcome": false,
        });
        if let Some(password) = password {
            body["smtp_password"] = json!(password);
        }
        body
    };
    let bad = app
        .admin(
            Method::PUT,
            "/api/v1/admin/mail/settings",
            Some(settings(None, "not an address")),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["error"]["field"], "from_address");
    let saved = app
        .admin(
            Method::PUT,
            "/api/v1/admin/mail/settings",
            Some(settings(Some("wrong-password"), "it-desk@example.com")),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(saved.body["smtp_password_set"], true);
    assert!(!saved.body.to_string().contains("wrong-password"));
    let refused = test_mail(&app, "it@example.com").await;
    let refused = wait_entry(&app, refused["id"].as_str().unwrap(), |e| {
        e["last_error"].is_string()
    })
    .await;
    assert_ne!(refused["status"], "sent", "{refused}");

    // The right password; other settings kept when the password is left out later.
    let saved = app
        .admin(
            Method::PUT,
            "/api/v1/admin/mail/settings",
            Some(settings(Some("right-password"), "it-desk@example.com")),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let kept = app
        .admin(
            Method::PUT,
            "/api/v1/admin/mail/settings",
            Some(settings(None, "it-desk@example.com")),
        )
        .await;
    assert_eq!(kept.body["smtp_password_set"], true, "{}", kept.body);
    let accepted = test_mail(&app, "it@example.com").await;
    let sent = wait_entry(&app, accepted["id"].as_str().unwrap(), |e| {
        e["status"] == "sent"
    })
    .await;
    let received = sink
        .wait_for(1, |m| m["message_id"] == sent["message_id"])
        .await;
    assert!(
        received[0]["headers"]["from"]
            .as_str()
            .unwrap()
            .contains("IT Desk")
    );
    assert_eq!(received[0]["mail_from"], "it-desk@example.com");
    assert_eq!(
        received[0]["subject"], "Switchboard 测试邮件",
        "the default language"
    );
    assert_eq!(received[0]["headers"]["auto-submitted"], "auto-generated");
    app.stop().await;

    // Stored: a restart keeps them (the configuration gave none).
    let app = start(&storage, mail_off(), None).await;
    let shown = app
        .admin(Method::GET, "/api/v1/admin/mail/settings", None)
        .await;
    assert_eq!(shown.body["smtp_host"], "127.0.0.1", "{}", shown.body);
    assert_eq!(shown.body["smtp_password_set"], true);
    assert!(!shown.body.to_string().contains("right-password"));
    // Sealed at rest: the database holds no trace of it, yet the server still logs in with it.
    let stored = storage
        .stored_text("SELECT value FROM mail_settings WHERE key = 'smtp'")
        .await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].contains("127.0.0.1"), "{stored:?}");
    assert!(!stored[0].contains("right-password"), "{stored:?}");
    app.stop().await;

    // A password an older version stored in clear is sealed at the next start, and works.
    let sealed = stored[0].clone();
    let settings: Value = serde_json::from_str(&sealed).unwrap();
    let column = settings["smtp_password"].as_str().unwrap();
    let clear = sealed.replace(column, "right-password");
    storage
        .execute(&format!(
            "UPDATE mail_settings SET value = '{clear}' WHERE key = 'smtp'"
        ))
        .await;
    let app = start(&storage, mail_off(), None).await;
    let resealed = storage
        .stored_text("SELECT value FROM mail_settings WHERE key = 'smtp'")
        .await;
    assert!(!resealed[0].contains("right-password"), "{resealed:?}");
    let accepted = test_mail(&app, "it@example.com").await;
    wait_entry(&app, accepted["id"].as_str().unwrap(), |e| {
        e["status"] == "sent"
    })
    .await;
    app.stop().await;
}

async fn it_hears_of_ldap_runs_that_fail_or_are_blocked(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let sink = SmtpSink::start(None).await;
    let storage = Storage::new(backend).await;
    let mail = || {
        mail_config(sink.port, |raw| {
            raw.alert_to = Some(vec!["alerts@example.com".into()]);
            raw.welcome = Some(false);
        })
    };
    let config = slapd.config("read_only");
    let app = start(&storage, mail(), Some(config.clone())).await;
    let first = sync(&app, "full").await;
    assert_eq!(first["status"], "succeeded", "{first}");
    // Zhang Wei (from LDAP, with an address) holds the access power.
    let role = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": "IT operators", "admin_powers": ["access"]})),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    let zhangwei = person(&app, "zhangwei").await.expect("zhangwei");
    let assigned = app
        .admin(
            Method::POST,
            "/api/v1/admin/assignments",
            Some(json!({"role_id": role.body["id"], "subject_kind": "staff", "subject": zhangwei["id"]})),
        )
        .await;
    assert!(assigned.status.is_success(), "{}", assigned.body);
    app.stop().await;

    // A base that does not exist: the run fails.
    let mut wrong = config.clone();
    wrong.staff.base_dn = "ou=Nowhere,dc=example,dc=com".into();
    let app = start(&storage, mail(), Some(wrong)).await;
    let failed = sync(&app, "incremental").await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let run_id = failed["id"].as_str().unwrap().to_owned();
    let alerts = sink
        .wait_for(2, |m| m["subject"] == "[Switchboard] LDAP sync failed")
        .await;
    assert!(alerts.iter().any(|m| to(m, "alerts@example.com")));
    assert!(alerts.iter().any(|m| to(m, "zhangwei@example.com")));
    assert!(alerts[0]["text"].as_str().unwrap().contains(&run_id));
    app.stop().await;

    // A base that holds nobody: the run is blocked, waiting for approval.
    let mut empty = config.clone();
    empty.staff.base_dn = "ou=Groups,dc=example,dc=com".into();
    let app = start(&storage, mail(), Some(empty)).await;
    let blocked = sync(&app, "incremental").await;
    assert_eq!(blocked["status"], "blocked", "{blocked}");
    sink.wait_for(2, |m| {
        m["subject"] == "[Switchboard] LDAP sync blocked: approval needed"
    })
    .await;
    outbox_idle(&app).await;
    // One alert per run and address, also after the restarts (the catch-up at start).
    let alerts = sink.matching(|m| m["subject"].as_str().unwrap_or("").contains("LDAP sync"));
    assert_eq!(alerts.len(), 4, "{alerts:#?}");
    app.stop().await;
}

/// A person added while no mail worker ran (a one-off command, or a stop between the
/// directory's commit and the mail's) is welcomed at the next start; the demo company, present
/// when mail first started, is not mailed at all.
async fn a_welcome_missed_while_mail_was_not_running_is_caught_up_at_start(backend: Backend) {
    let sink = SmtpSink::start(None).await;
    let storage = Storage::new(backend).await;
    let mut config = storage.config(true);
    config.mail = mail_config(sink.port, |_| {});
    // As `switchboard ldap sync` does: the services without their background tasks.
    let state = switchboard::app::open_services(config.clone(), false)
        .await
        .expect("services");
    let department = state
        .directory
        .read()
        .departments()
        .next()
        .map(|d| d.id)
        .expect("a demo department");
    let grace: switchboard::directory::NewStaff = serde_json::from_value(json!({
        "login": "grace", "display_name": "Grace", "staff_type": "employee",
        "emails": ["grace@example.com"], "departments": [{"department_id": department}],
    }))
    .unwrap();
    state
        .directory
        .write(&switchboard::store::Actor::system(), |stage| {
            stage.create_staff(grace)
        })
        .await
        .expect("grace is added");
    // As the CLI does before it exits: the contacts persister's last writes land first, so
    // the server below does not start beside them.
    state.contacts.flush().await;
    state.mail.shutdown().await;
    state.im.shutdown().await;
    drop(state);

    let app = start(&storage, config.mail.clone(), None).await;
    let welcome = sink.wait_for(1, |m| to(m, "grace@example.com")).await;
    assert_eq!(welcome[0]["subject"], "Welcome to Switchboard, Grace");
    outbox_idle(&app).await;
    assert_eq!(
        sink.messages().len(),
        1,
        "nobody of the demo company is welcomed"
    );
    app.stop().await;
}

on_both_backends!(
    a_welcome_missed_while_mail_was_not_running_is_caught_up_at_start,
    mails_wait_while_smtp_is_down_and_go_out_once_after_a_restart,
    settings_change_at_run_time_and_the_password_is_never_shown,
    it_hears_of_ldap_runs_that_fail_or_are_blocked,
);
