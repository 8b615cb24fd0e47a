//! The test harness: every test gets the real service on an ephemeral port, with a fresh
//! SQLite file or a fresh PostgreSQL database (dropped afterwards), and typed helpers.

#![allow(dead_code)]

pub mod browser;
pub mod ldap_api;
pub mod openapi;
pub mod samba;
pub mod slapd;
pub mod smtp;

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use switchboard::{
    app::Application,
    config::{Config, RawConfig},
};
use tokio::sync::oneshot;

pub const ADMIN_PASSWORD: &str = "admin-test-password";
const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh PostgreSQL database, dropped when this is dropped.
pub struct PgDatabase {
    pub name: String,
}

impl PgDatabase {
    pub async fn create() -> Self {
        let name = format!("sb_test_{}", uuid::Uuid::now_v7().simple());
        let admin = Database::connect(PG_ADMIN_URL)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (trust auth) is needed for these tests");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        Self { name }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Runtime::new() else {
                return;
            };
            runtime.block_on(async {
                if let Ok(admin) = Database::connect(PG_ADMIN_URL).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Where a test server keeps its state, so a second server can reopen it ("restart").
pub struct Storage {
    pub dir: tempfile::TempDir,
    pub pg: Option<PgDatabase>,
}

impl Storage {
    pub async fn new(backend: Backend) -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            pg: match backend {
                Backend::Sqlite => None,
                Backend::Postgres => Some(PgDatabase::create().await),
            },
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The database the server keeps its state in, for tests that reach past the API.
    pub fn database_url(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url(),
            None => format!("sqlite://{}/switchboard.db", self.data_dir().display()),
        }
    }

    pub fn config(&self, demo: bool) -> Config {
        self.config_with(demo, None)
    }

    /// The text of the first column of every row `sql` selects, read straight from the
    /// database (for what must never be stored in clear).
    pub async fn stored_text(&self, sql: &str) -> Vec<String> {
        let db = Database::connect(self.database_url())
            .await
            .expect("the test's database");
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql,
            ))
            .await
            .expect(sql);
        rows.iter()
            .map(|row| row.try_get_by_index::<String>(0).expect("a text column"))
            .collect()
    }

    /// Runs `sql` on the stopped server's database (to stage what an older version left).
    pub async fn execute(&self, sql: &str) {
        let db = Database::connect(self.database_url())
            .await
            .expect("the test's database");
        db.execute_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .expect(sql);
    }

    /// A configuration with an `[ldap]` table.
    pub fn config_with(
        &self,
        demo: bool,
        ldap: Option<switchboard::ldap::RawLdapConfig>,
    ) -> Config {
        Config::parse(RawConfig {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(self.data_dir().display().to_string()),
            database_url: self.pg.as_ref().map(PgDatabase::url),
            admin_password: Some(ADMIN_PASSWORD.into()),
            demo: Some(demo),
            ldap,
            ..Default::default()
        })
        .expect("test config")
    }
}

/// A running server plus an HTTP client.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub admin_token: String,
    /// The served OpenAPI document, compiled; every reply is checked against it.
    contract: Mutex<Option<Arc<openapi::Contract>>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// A response's status and JSON body (`Null` when the body is empty or not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// Starts a server over `storage`.
    pub async fn start(storage: &Storage, demo: bool) -> Self {
        Self::start_config(storage.config(demo)).await
    }

    /// Starts a server with a given configuration.
    pub async fn start_config(config: Config) -> Self {
        let application = Application::build(config)
            .await
            .expect("application builds");
        let base = format!("http://{}", application.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = application
                .run_until_stopped(async {
                    let _ = stopped.await;
                })
                .await;
        });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let mut app = Self {
            base,
            client,
            admin_token: String::new(),
            contract: Mutex::new(None),
            stop: Some(stop),
            task: Some(task),
        };
        app.admin_token = app.login("admin", ADMIN_PASSWORD).await;
        app
    }

    /// Stops the server and waits until it has finished.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    pub async fn login(&self, login: &str, password: &str) -> String {
        let reply = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"login": login, "password": password})),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "login {login}: {}",
            reply.body
        );
        reply.body["token"].as_str().expect("token").to_owned()
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        self.check_contract(&method, path, status, &headers, &bytes)
            .await;
        Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            headers,
        }
    }

    /// Sends raw bytes (for malformed bodies).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        self.check_contract(&method, path, status, &headers, &bytes)
            .await;
        Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            headers,
        }
    }

    /// Fails the test when a response does not match the served OpenAPI document.
    pub async fn check_contract(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) {
        let contract = self.contract().await;
        if let Err(mismatch) = contract.check(method, path, status, headers, body) {
            panic!("response differs from /api/openapi.json: {mismatch}");
        }
        // Custom field definitions are part of the document: fetch it again after a change.
        if path.starts_with("/api/v1/admin/fields") && *method != Method::GET && status.is_success()
        {
            *self.contract.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    async fn contract(&self) -> Arc<openapi::Contract> {
        if let Some(contract) = self
            .contract
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return contract;
        }
        let document = self
            .client
            .get(format!("{}/api/openapi.json", self.base))
            .send()
            .await
            .expect("/api/openapi.json")
            .bytes()
            .await
            .expect("the document");
        let contract = openapi::Contract::for_document(&document);
        *self.contract.lock().unwrap_or_else(|e| e.into_inner()) = Some(contract.clone());
        contract
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call(method, path, Some(&self.admin_token.clone()), body)
            .await
    }

    /// Creates a department as admin and returns its id.
    pub async fn create_department(
        &self,
        parent: Option<&str>,
        name: &str,
        dept_type: &str,
    ) -> String {
        let reply = self
            .admin(
                Method::POST,
                "/api/v1/admin/departments",
                Some(json!({"parent_id": parent, "name": name, "dept_type": dept_type})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a person as admin in the given departments (first is primary); returns the id.
    pub async fn create_staff(&self, login: &str, name: &str, departments: &[&str]) -> String {
        let memberships: Vec<Value> = departments
            .iter()
            .map(|d| json!({"department_id": d}))
            .collect();
        let reply = self
            .admin(
                Method::POST,
                "/api/v1/admin/staff",
                Some(json!({
                    "login": login, "display_name": name, "staff_type": "employee",
                    "emails": [format!("{login}@example.com")], "departments": memberships
                })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().expect("id").to_owned()
    }

    /// Gives a person a local password and logs them in.
    pub async fn staff_token(&self, staff_id: &str, login: &str) -> String {
        let reply = self
            .admin(
                Method::PUT,
                &format!("/api/v1/admin/staff/{staff_id}/password"),
                Some(json!({"password": "staff-password-1"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
        self.login(login, "staff-password-1").await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Runs an async test body once per backend, as two named tests.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}
