//! `switchboard-bench storage moves`: what the database costs when HR works one person at a time.
//! The real `switchboard serve` runs as a child process on a fresh SQLite directory; this
//! process creates people one by one through the admin API and gives each a role right after
//! (a class move per person). Every `--step` people it prints the database and WAL sizes, the
//! stored class-move history (`view_transition_diffs`), the server's memory, and the time a
//! cold start takes after `kill -9` (the run then goes on against the restarted server).

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::im_setup::{ADMIN_PASSWORD, Server, free_port};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The benchmark's knobs.
#[derive(Debug, Clone, clap::Args)]
pub struct MovesArgs {
    /// People created (and each given a role) one at a time.
    #[arg(long, default_value_t = 10_000)]
    pub people: usize,
    /// Report (and restart after `kill -9`) every this many people.
    #[arg(long, default_value_t = 2_000)]
    pub step: usize,
    /// Departments the people are spread over.
    #[arg(long, default_value_t = 20)]
    pub departments: usize,
    /// Keep the run's directory (database and server log) afterwards.
    #[arg(long)]
    pub keep: bool,
}

/// Starts `switchboard serve` over `dir` and returns it with the time until `/readyz` answered.
pub async fn start_timed(dir: &Path) -> Result<(Server, Duration), BoxError> {
    let port = free_port()?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))?;
    let started = Instant::now();
    let child = Command::new(super::server_binary()?)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data")
        .arg(dir)
        .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()?;
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    while started.elapsed() < Duration::from_secs(600) {
        if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await
            && r.status().is_success()
        {
            return Ok((server, started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err("the server did not start within 10 minutes; see server.log".into())
}

/// Size of a file in MiB (0 when absent).
pub fn file_mib(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / (1 << 20) as f64)
}

/// Runs one query against the server's SQLite file (from this process, briefly) and returns
/// the first row's integer columns.
pub async fn query_ints(dir: &Path, sql: &str) -> Result<Vec<i64>, BoxError> {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let url = format!("sqlite://{}", dir.join("switchboard.db").display());
    let db = Database::connect(url).await?;
    let row = db
        .query_one_raw(Statement::from_string(sea_orm::DbBackend::Sqlite, sql))
        .await?;
    let mut out = Vec::new();
    if let Some(row) = row {
        let mut index = 0;
        while let Ok(value) = row.try_get_by_index::<Option<i64>>(index) {
            out.push(value.unwrap_or(0));
            index += 1;
        }
    }
    db.close().await?;
    Ok(out)
}

/// Runs one statement against the server's SQLite file.
pub async fn execute(dir: &Path, sql: &str) -> Result<(), BoxError> {
    use sea_orm::{ConnectionTrait, Database};
    let url = format!("sqlite://{}", dir.join("switchboard.db").display());
    let db = Database::connect(url).await?;
    db.execute_unprepared(sql).await?;
    db.close().await?;
    Ok(())
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn login(base: &str) -> Result<Self, BoxError> {
        let client = reqwest::Client::new();
        let reply: Value = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"login": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await?
            .json()
            .await?;
        let token = reply["token"]
            .as_str()
            .ok_or_else(|| format!("admin login failed: {reply}"))?
            .to_owned();
        Ok(Self {
            client,
            base: base.to_owned(),
            token,
        })
    }

    async fn post(&self, path: &str, body: Value, expect: StatusCode) -> Result<Value, BoxError> {
        let reply = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        let status = reply.status();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        if status != expect {
            return Err(format!("POST {path}: {status} {body}").into());
        }
        Ok(body)
    }

    async fn id(&self, path: &str, body: Value) -> Result<String, BoxError> {
        let reply = self.post(path, body, StatusCode::CREATED).await?;
        Ok(reply["id"].as_str().ok_or("no id in reply")?.to_owned())
    }
}

fn scratch() -> Result<PathBuf, BoxError> {
    let dir =
        std::env::temp_dir().join(format!("switchboard-bench-storage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

pub async fn run(args: MovesArgs) -> Result<(), BoxError> {
    let dir = scratch()?;
    println!(
        "storage benchmark (moves): {} people created one by one through the API, each then given a role that sees everyone; SQLite at {}",
        args.people,
        dir.display()
    );
    let (mut server, first_start) = start_timed(&dir).await?;
    println!("first start: {:.2} s", first_start.as_secs_f64());
    let mut api = Api::login(&server.base).await?;
    let mut departments = Vec::new();
    for index in 0..args.departments.max(1) {
        departments.push(
            api.id(
                "/api/v1/admin/departments",
                json!({"name": format!("Team {index}"), "dept_type": "team"}),
            )
            .await?,
        );
    }
    let role = api
        .id("/api/v1/admin/roles", json!({"name": "everyone"}))
        .await?;
    api.id(
        "/api/v1/admin/rules",
        json!({"role_id": role, "effect": "allow", "object": "all"}),
    )
    .await?;

    println!(
        "{:>7} {:>9} {:>9} {:>9} {:>11} {:>10} {:>9} {:>11} {:>10}",
        "people",
        "people/s",
        "db MiB",
        "WAL MiB",
        "diff rows",
        "diff MiB",
        "RSS MiB",
        "kill -9 →",
        "WAL after"
    );
    let mut step_started = Instant::now();
    for index in 0..args.people {
        let staff = api
            .id(
                "/api/v1/admin/staff",
                json!({
                    "login": format!("person{index}"),
                    "display_name": format!("Person {index}"),
                    "staff_type": "employee",
                    "emails": [format!("person{index}@bench.example.com")],
                    "departments": [{"department_id": departments[index % departments.len()]}],
                }),
            )
            .await?;
        api.post(
            "/api/v1/admin/assignments",
            json!({"role_id": role, "subject_kind": "staff", "subject": staff}),
            StatusCode::OK,
        )
        .await?;
        let done = index + 1;
        if done % args.step.max(1) != 0 && done != args.people {
            continue;
        }
        let rate = args.step as f64 / step_started.elapsed().as_secs_f64();
        let rss = server.rss_kib().unwrap_or(0) as f64 / 1024.0;
        let db_mib = file_mib(&dir.join("switchboard.db"));
        let wal_mib = file_mib(&dir.join("switchboard.db-wal"));
        let diffs = query_ints(
            &dir,
            "SELECT COUNT(*), SUM(LENGTH(entries)) FROM view_transition_diffs",
        )
        .await?;
        let (rows, bytes) = (
            diffs.first().copied().unwrap_or(0),
            diffs.get(1).copied().unwrap_or(0),
        );
        // A crash now, and a cold start: SQLite replays the WAL, the views are rebuilt.
        drop(server);
        let (restarted, start) = start_timed(&dir).await?;
        server = restarted;
        println!(
            "{done:>7} {rate:>9.0} {db_mib:>9.1} {wal_mib:>9.1} {rows:>11} {:>10.1} {rss:>9.0} {:>9.2} s {:>10.1}",
            bytes as f64 / (1 << 20) as f64,
            start.as_secs_f64(),
            file_mib(&dir.join("switchboard.db-wal")),
        );
        api = Api::login(&server.base).await?;
        step_started = Instant::now();
    }
    drop(server);
    if args.keep {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
