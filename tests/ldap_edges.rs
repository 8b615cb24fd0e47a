//! LDAP edges against a real slapd: a second entry with a synced person's login, a server
//! that refuses StartTLS, write-back kept in step with the directory write (LDAP refuses, the
//! directory refuses, storing fails after LDAP accepted), escaped characters in OU names.

use crate::common;

use common::{
    Backend, Storage, TestApp,
    ldap_api::{department_by_dn, person, sync},
    slapd::Slapd,
};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

on_both_backends!(
    a_second_entry_with_the_same_login_does_not_lock_the_first_person_out,
    a_server_that_refuses_starttls_is_named_for_it,
    an_untrusted_certificate_is_named_for_it,
    an_escaped_comma_in_an_ou_name_is_part_of_the_department_name,
    write_back_and_the_directory_write_stay_in_step,
);

async fn login(app: &TestApp, login: &str, password: &str) -> common::Reply {
    app.call(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"login": login, "password": password})),
    )
    .await
}

/// The sync keeps the first of two entries with one login and reports the second; the first
/// person must still log in (binding as their own entry, found by their stable id), and the
/// second entry's password must not open the first person's account.
async fn a_second_entry_with_the_same_login_does_not_lock_the_first_person_out(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    let app =
        TestApp::start_config(storage.config_with(false, Some(slapd.config("read_only")))).await;
    let run = sync(&app, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let before = login(&app, "zhangwei", "password").await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);

    slapd.add("dn: uid=zhangwei2,ou=HR,ou=Stellar,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: zhangwei\ncn: Another Zhang\nsn: Zhang\nuserPassword: other-password\n");
    let run = sync(&app, "full").await;
    assert!(
        run["failures"].as_array().unwrap().iter().any(|f| f["dn"]
            == "uid=zhangwei2,ou=HR,ou=Stellar,dc=example,dc=com"
            && f["reason"].as_str().unwrap().contains("taken")),
        "the second entry is reported: {run}"
    );
    let zhangwei = person(&app, "zhangwei").await.unwrap();
    let ok = login(&app, "zhangwei", "password").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let me = app
        .call(
            Method::GET,
            "/api/v1/auth/me",
            Some(ok.body["token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(me.body["staff_id"], zhangwei["id"], "{}", me.body);
    assert_eq!(
        login(&app, "zhangwei", "other-password").await.status,
        StatusCode::UNAUTHORIZED,
        "the other entry's password does not open this account"
    );
}

/// A server without TLS refuses StartTLS: the run and the test say so, not "unreachable".
async fn a_server_that_refuses_starttls_is_named_for_it(backend: Backend) {
    let slapd = Slapd::start_with(&[], &["--no-tls"]);
    let storage = Storage::new(backend).await;
    let mut config = slapd.config("read_only");
    config.start_tls = true;
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
    let message = test.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("refused StartTLS"), "{message}");
    assert!(!message.contains("unreachable"), "{message}");
    let run = sync(&app, "full").await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["message"]
            .as_str()
            .unwrap()
            .contains("refused StartTLS"),
        "{run}"
    );
}

/// A certificate not signed by the configured CA is a TLS failure, said as such.
async fn an_untrusted_certificate_is_named_for_it(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
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
    let message = test.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("TLS handshake"), "{message}");
    assert!(message.contains("ca_file"), "{message}");
}

/// An OU whose name has an escaped comma and no `description`: the department is named after
/// the RDN value as LDAP means it, `Sales, EMEA`.
async fn an_escaped_comma_in_an_ou_name_is_part_of_the_department_name(backend: Backend) {
    let slapd = Slapd::start(&[]);
    slapd.add("dn: ou=Sales\\, EMEA,ou=Stellar,dc=example,dc=com\nobjectClass: organizationalUnit\nou: Sales, EMEA\n");
    slapd.add("dn: uid=emea1,ou=Sales\\, EMEA,ou=Stellar,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: emea1\ncn: Emea One\nsn: One\n");
    let storage = Storage::new(backend).await;
    let app =
        TestApp::start_config(storage.config_with(false, Some(slapd.config("read_only")))).await;
    let run = sync(&app, "full").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let emea = department_by_dn(&app, "ou=Sales\\, EMEA,ou=Stellar,dc=example,dc=com")
        .await
        .expect("the OU is a department");
    assert_eq!(emea["name"], "Sales, EMEA");
    let one = person(&app, "emea1").await.unwrap();
    assert_eq!(one["memberships"][0]["department_id"], emea["id"], "{one}");
}

/// Makes every update of the `staff` table fail (a storage failure between the LDAP write and
/// the directory write), or lifts that again.
async fn break_staff_updates(storage: &Storage, broken: bool) {
    let (url, statements): (String, Vec<&str>) = match &storage.pg {
        None => (
            storage.database_url(),
            if broken {
                vec![
                    "CREATE TRIGGER sb_test_fail BEFORE UPDATE ON staff BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
                ]
            } else {
                vec!["DROP TRIGGER sb_test_fail"]
            },
        ),
        Some(_) => (
            storage.database_url(),
            if broken {
                vec![
                    "CREATE FUNCTION sb_test_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
                    "CREATE TRIGGER sb_test_fail BEFORE UPDATE ON staff FOR EACH ROW EXECUTE FUNCTION sb_test_fail()",
                ]
            } else {
                vec![
                    "DROP TRIGGER sb_test_fail ON staff",
                    "DROP FUNCTION sb_test_fail()",
                ]
            },
        ),
    };
    let db = Database::connect(url).await.expect("database");
    for statement in statements {
        db.execute_unprepared(statement).await.expect(statement);
    }
}

async fn write_back_and_the_directory_write_stay_in_step(backend: Backend) {
    let slapd = Slapd::start(&[]);
    let storage = Storage::new(backend).await;
    slapd.add("dn: ou=Annex,ou=Stellar,dc=example,dc=com\nobjectClass: organizationalUnit\nou: Annex\ndescription: Annex\n");
    let app =
        TestApp::start_config(storage.config_with(false, Some(slapd.config("writable")))).await;
    sync(&app, "full").await;
    let zhangwei = person(&app, "zhangwei").await.unwrap();
    let id = zhangwei["id"].as_str().unwrap().to_owned();
    let dn = "uid=zhangwei,ou=Backend,ou=RD,ou=Stellar,dc=example,dc=com";
    let path = format!("/api/v1/admin/staff/{id}");
    let title = |why: &str| {
        assert_eq!(slapd.read(dn, "title"), vec!["Engineer"], "{why}");
    };

    // The directory refuses the edit (an invalid email): LDAP is not touched either.
    let reply = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"title": "Architect", "emails": ["not-an-email"]})),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    title("an edit the directory refuses is not written to LDAP");

    // LDAP refuses the move (the target OU is gone from LDAP): the title written just before
    // is put back, and nothing is stored.
    let annex = department_by_dn(&app, "ou=Annex,ou=Stellar,dc=example,dc=com")
        .await
        .unwrap();
    slapd.delete("ou=Annex,ou=Stellar,dc=example,dc=com");
    let reply = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"title": "Architect", "departments": [{"department_id": annex["id"]}]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("move"),
        "{}",
        reply.body
    );
    title("a refused move puts the modify before it back");
    let stored = person(&app, "zhangwei").await.unwrap();
    assert_eq!(stored["title"], zhangwei["title"]);
    assert_eq!(stored["memberships"], zhangwei["memberships"]);

    // Storing fails after LDAP accepted: LDAP is restored and the answer says so.
    break_staff_updates(&storage, true).await;
    let reply = app
        .admin(Method::PATCH, &path, Some(json!({"title": "Architect"})))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("LDAP was restored"),
        "{}",
        reply.body
    );
    title("LDAP is put back when the directory write fails");
    assert_eq!(
        person(&app, "zhangwei").await.unwrap()["title"],
        zhangwei["title"]
    );
    break_staff_updates(&storage, false).await;

    // And with nothing failing, both change.
    let reply = app
        .admin(Method::PATCH, &path, Some(json!({"title": "Architect"})))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(slapd.read(dn, "title"), vec!["Architect"]);
    assert_eq!(
        person(&app, "zhangwei").await.unwrap()["title"],
        "Architect"
    );
}
