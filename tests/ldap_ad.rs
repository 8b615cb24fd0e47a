//! The LDAP connector against a real Active Directory (a Samba AD DC), configured as the AD
//! section of docs/ldap.md says: objectGUID ids, uSNChanged marks, sAMAccountName logins,
//! department names from `ou`. An OU with an escaped comma, an OU renamed (AD leaves its
//! children's uSNChanged alone), `group_roles` for a role created later, login, write-back.

use crate::common;

use common::{
    Backend, Storage, TestApp,
    ldap_api::{department_by_dn, person, sync},
    samba::{ADMIN_DN, ADMIN_PASSWORD, BASE, SambaAd},
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard::ldap::RawLdapConfig;

on_both_backends!(active_directory_as_the_docs_configure_it);

const USER_PASSWORD: &str = "Us3r-Passw0rd!";
const GROUP: &str = "CN=IT Admins,OU=Groups,DC=corp,DC=example,DC=com";

/// The docs' AD example, pointed at the test DC.
fn config(ad: &SambaAd, mode: &str) -> RawLdapConfig {
    let toml = format!(
        r#"
url = "{url}"
bind_dn = "{ADMIN_DN}"
bind_password = "{ADMIN_PASSWORD}"
mode = "{mode}"
operation_timeout_secs = 10
stable_id = "objectGUID"
change_attribute = "uSNChanged"
departments = {{ base_dn = "OU=Company,{BASE}", filter = "(objectClass=organizationalUnit)" }}
staff = {{ base_dn = "OU=Company,{BASE}", filter = "(&(objectCategory=person)(objectClass=user))" }}
groups = {{ base_dn = "OU=Groups,{BASE}", filter = "(objectClass=group)" }}
department_attributes = {{ name = "ou" }}

[staff_attributes]
login = "sAMAccountName"
display_name = "displayName"
staff_type = "employeeType"

[group_roles]
"{GROUP}" = "IT"
"#,
        url = ad.url(),
    );
    toml::from_str(&toml).expect("AD config")
}

fn user(cn: &str, ou_dn: &str, login: &str, title: &str) -> String {
    format!(
        "dn: CN={cn},{ou_dn}\nobjectClass: user\nsAMAccountName: {login}\ndisplayName: {cn}\ntitle: {title}\nmail: {login}@corp.example.com\nemployeeType: Employee\nuserAccountControl: 512\n{}\n",
        SambaAd::password_ldif(USER_PASSWORD)
    )
}

fn seed(ad: &SambaAd) {
    let company = format!("OU=Company,{BASE}");
    let sales = format!("OU=Sales\\, EMEA,{company}");
    let finance = format!("OU=Finance,{company}");
    ad.add(&format!(
        "dn: {company}\nobjectClass: organizationalUnit\nou: Company\ndescription: The company\n\n\
         dn: {sales}\nobjectClass: organizationalUnit\nou: Sales, EMEA\n\n\
         dn: {finance}\nobjectClass: organizationalUnit\nou: Finance\ndescription: Finance department (cost centre 700)\n\n\
         dn: OU=Groups,{BASE}\nobjectClass: organizationalUnit\nou: Groups\n\n{}\n{}\n{}",
        user("Zhang Wei", &sales, "zhangwei", "Engineer"),
        user("Li Na", &sales, "lina", "Sales lead"),
        user("Wang Fang", &finance, "wangfang", "Controller"),
    ));
    ad.add(&format!(
        "dn: {GROUP}\nobjectClass: group\nsAMAccountName: it-admins\nmember: CN=Zhang Wei,{sales}\n"
    ));
}

async fn active_directory_as_the_docs_configure_it(backend: Backend) {
    let ad = SambaAd::start();
    seed(&ad);
    let storage = Storage::new(backend).await;
    let app =
        TestApp::start_config(storage.config_with(false, Some(config(&ad, "writable")))).await;

    // The dry run predicts the first run, and both name the role that does not exist yet.
    let report = app
        .admin(Method::POST, "/api/v1/admin/ldap/test", None)
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let run = sync(&app, "incremental").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["kind"], "full", "{run}");
    assert_eq!(run["counts"]["added"], 3, "{run}");
    assert_eq!(run["counts"]["departments_added"], 3, "{run}");
    assert_eq!(report.body["dry_run"], run["counts"], "{}", report.body);
    let missing_role =
        |body: &serde_json::Value| {
            body["failures"].as_array().unwrap().iter().any(|f| {
                f["dn"] == GROUP && f["reason"].as_str().unwrap().contains("does not exist")
            })
        };
    assert!(missing_role(&run), "{run}");
    assert!(missing_role(&report.body), "{}", report.body);

    // Names come from `ou`, unescaped; the OU's free-text description is not the name.
    let sales = department_by_dn(&app, &format!("OU=Sales\\, EMEA,OU=Company,{BASE}"))
        .await
        .expect("the OU with a comma is a department");
    assert_eq!(sales["name"], "Sales, EMEA");
    let finance = department_by_dn(&app, &format!("OU=Finance,OU=Company,{BASE}"))
        .await
        .unwrap();
    assert_eq!(finance["name"], "Finance");
    let zhangwei = person(&app, "zhangwei").await.expect("synced");
    assert_eq!(zhangwei["memberships"][0]["department_id"], sales["id"]);
    let guid = zhangwei["ldap"]["stable_id"].as_str().unwrap();
    assert_eq!(guid.len(), 36, "objectGUID as AD shows it: {guid}");
    assert_eq!(zhangwei["staff_type"], "employee");

    // Login with the AD password.
    let ok = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "zhangwei", "password": USER_PASSWORD})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);

    // The role is created later; the OU is renamed (AD leaves the people's uSNChanged alone).
    let role = app
        .admin(
            Method::POST,
            "/api/v1/admin/roles",
            Some(json!({"name": "IT", "is_admin": false})),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    ad.modify(&format!(
        "dn: OU=Sales\\, EMEA,OU=Company,{BASE}\nchangetype: modrdn\nnewrdn: OU=Sales and Marketing\ndeleteoldrdn: 1\n"
    ));
    let run = sync(&app, "incremental").await;
    assert_eq!(run["kind"], "incremental", "{run}");
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(!missing_role(&run), "{run}");
    let new_dn = format!("CN=Zhang Wei,OU=Sales and Marketing,OU=Company,{BASE}");
    let zhangwei = person(&app, "zhangwei").await.unwrap();
    assert!(
        zhangwei["ldap"]["dn"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(&new_dn),
        "the stored DN followed the OU: {zhangwei}"
    );
    let renamed = department_by_dn(&app, &format!("OU=Sales and Marketing,OU=Company,{BASE}"))
        .await
        .unwrap();
    assert_eq!(
        renamed["id"], sales["id"],
        "a renamed OU is the same department"
    );
    assert_eq!(renamed["name"], "Sales and Marketing");
    let assignments = app
        .admin(
            Method::GET,
            &format!(
                "/api/v1/admin/assignments?role_id={}",
                role.body["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert!(
        assignments
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["subject"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(GROUP))),
        "the group holds the role created after the first run: {}",
        assignments.body
    );

    // Write-back reaches the person at their new DN.
    let reply = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/staff/{}", zhangwei["id"].as_str().unwrap()),
            Some(json!({"title": "Architect"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(ad.read(&new_dn, "title"), vec!["Architect"]);

    // A full run finds nothing left to catch up on.
    let full = sync(&app, "full").await;
    assert_eq!(full["status"], "succeeded", "{full}");
    assert_eq!(full["counts"]["updated"], 0, "{full}");
    assert_eq!(full["counts"]["added"], 0, "{full}");
}

/// LDAPS to a DC by an address its certificate does not name: a TLS failure that says so.
#[tokio::test]
async fn ldaps_to_a_name_the_certificate_does_not_carry_is_a_tls_failure() {
    let ad = SambaAd::start();
    let storage = Storage::new(Backend::Sqlite).await;
    let mut config = config(&ad, "read_only");
    config.url = ad.ldaps_url();
    config.ca_file = Some(ad.ca_file().display().to_string());
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
}
