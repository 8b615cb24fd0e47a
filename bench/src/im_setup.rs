//! The messaging benchmark's company and server: N people (one department of `fanout` people,
//! the rest in departments of 100), who all see each other, with accounts and tokens minted
//! from the installation's key (logging 10,000 people in through argon2 would take minutes);
//! then the real `switchboard serve` as a child process, so its memory and CPU are its own.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use switchboard::{
    access::{Assignment, Effect, Object, PolicyChange, Role, RoleId, Rule, RuleId, Subject},
    app,
    auth::{Claims, TokenSigner, password},
    config::{Config, RawConfig},
    directory::{DepartmentId, MembershipInput, NewDepartment, NewStaff, StaffId},
    store::{Actor, Source},
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub const ADMIN_PASSWORD: &str = "bench-admin-password";

/// What the load tool needs to know about the company.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Company {
    /// Staff id and token of each person.
    pub people: Vec<(StaffId, String)>,
    /// The department of each person (index into `departments`).
    pub department_of: Vec<usize>,
    pub departments: Vec<DepartmentId>,
    /// A server-API key (to post missed messages during the reconnect storm).
    pub api_key: String,
}

pub fn config(dir: &Path, listen: &str) -> Result<Config, BoxError> {
    Ok(Config::parse(RawConfig {
        listen: Some(listen.into()),
        data_dir: Some(dir.display().to_string()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        ..Default::default()
    })?)
}

/// Creates the company in `dir` through the ordinary write paths.
pub async fn prepare(dir: &Path, users: usize, fanout: usize) -> Result<Company, BoxError> {
    let state = app::open_services(config(dir, "127.0.0.1:0")?, false).await?;
    let actor = Actor::new("bench", Source::Api);
    let teams = (users.saturating_sub(fanout)).div_ceil(100);
    let (departments, _) = state
        .directory
        .write(&actor, |stage| {
            let mut ids = Vec::new();
            for index in 0..=teams {
                let name = if index == 0 {
                    "全员 Fan-out".to_owned()
                } else {
                    format!("团队 Team {index}")
                };
                ids.push(
                    stage
                        .create_department(NewDepartment {
                            parent_id: None,
                            name,
                            dept_type: "team".into(),
                            order_key: Some(index as i64),
                            custom: Default::default(),
                            source: None,
                            ldap: None,
                        })?
                        .id,
                );
            }
            Ok(ids)
        })
        .await?;
    let department_of: Vec<usize> = (0..users)
        .map(|i| {
            if i < fanout {
                0
            } else {
                1 + (i - fanout) / 100
            }
        })
        .collect();
    let mut staff = Vec::with_capacity(users);
    for chunk in (0..users).collect::<Vec<_>>().chunks(2_000) {
        let (ids, _) = state
            .directory
            .write(&actor, |stage| {
                let mut ids = Vec::new();
                for &i in chunk {
                    ids.push(
                        stage
                            .create_staff(NewStaff {
                                login: format!("user{i}"),
                                display_name: format!("User {i}"),
                                title: "Engineer".into(),
                                emails: vec![],
                                phones: vec![],
                                staff_type: "employee".into(),
                                custom: Default::default(),
                                departments: vec![MembershipInput {
                                    department_id: departments[department_of[i]],
                                    order_key: None,
                                    primary: true,
                                }],
                                source: None,
                                ldap: None,
                            })?
                            .id,
                    );
                }
                Ok(ids)
            })
            .await?;
        staff.extend(ids);
    }
    // Everyone sees everyone, so any pair may chat.
    let role = Role {
        id: RoleId(uuid::Uuid::now_v7()),
        name: "everyone".into(),
        description: "benchmark".into(),
        powers: switchboard::auth::Powers::NONE,
    };
    let mut changes = vec![
        PolicyChange::PutRole(role.clone()),
        PolicyChange::PutRule(Rule {
            id: RuleId(uuid::Uuid::now_v7()),
            role_id: Some(role.id),
            effect: Effect::Allow,
            object: Object::All,
            exempt_roles: Default::default(),
            description: "everything".into(),
        }),
    ];
    changes.extend(staff.iter().map(|s| {
        PolicyChange::Assign(Assignment {
            role_id: role.id,
            subject: Subject::Staff(*s),
        })
    }));
    state.access.apply(&actor, changes).await?;
    let hash = password::hash("bench-password").await?;
    state
        .auth
        .create_staff_accounts(&actor, &staff, &hash)
        .await?;
    let key = switchboard::auth::load_token_key(None, dir)?;
    let signer = TokenSigner::new(&key);
    let exp = chrono::Utc::now().timestamp() + 24 * 3600;
    let mut people = Vec::with_capacity(users);
    for id in &staff {
        let account = state
            .auth
            .staff_account(*id)
            .ok_or("an account was not created")?;
        let token = signer.sign(&Claims {
            sub: account.id,
            epoch: account.token_epoch,
            exp,
        });
        people.push((*id, token));
    }
    let system = switchboard::store::Actor::system();
    let (_, api_key) = state.im.create_api_key(&system, "bench").await?;
    state.im.shutdown().await;
    drop(state);
    Ok(Company {
        people,
        department_of,
        departments,
        api_key,
    })
}

/// The server process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `switchboard serve` over `dir` and waits for it to answer.
    pub async fn start(dir: &Path, port: u16) -> Result<Self, BoxError> {
        let log = std::fs::File::create(dir.join("server.log"))?;
        let child = Command::new(super::server_binary()?)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data")
            .arg(dir)
            .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            // Logs go to stdout, panics to stderr: both into the log.
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()?;
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await
                && r.status().is_success()
            {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("the server did not start; see server.log".into())
    }

    /// Resident memory of the server process, in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        super::status_kib(&self.child.id().to_string(), "VmRSS")
    }

    /// CPU seconds the server used so far (user + system).
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some(ticks / 100.0)
    }
}

/// The company for `users`/`fanout`, prepared once into a cache directory and copied into
/// `dir` for each run (so runs start alike, and setup does not repeat).
pub async fn company(dir: &Path, users: usize, fanout: usize) -> Result<Company, BoxError> {
    let cache = std::env::temp_dir().join(format!("switchboard-bench-im-cache-{users}-{fanout}"));
    let manifest = cache.join("company.json");
    if !manifest.exists() {
        let _ = std::fs::remove_dir_all(&cache);
        std::fs::create_dir_all(&cache)?;
        let company = prepare(&cache, users, fanout).await?;
        std::fs::write(&manifest, serde_json::to_vec(&company)?)?;
    }
    copy_files(&cache, dir)?;
    Ok(serde_json::from_slice(&std::fs::read(&manifest)?)?)
}

/// Copies the files (not the folders) of a prepared company's cache into a run's directory.
pub fn copy_files(cache: &Path, dir: &Path) -> Result<(), BoxError> {
    for entry in std::fs::read_dir(cache)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), dir.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// A scratch directory for one run.
pub fn scratch() -> Result<PathBuf, BoxError> {
    let dir = std::env::temp_dir().join(format!("switchboard-bench-im-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

pub fn free_port() -> Result<u16, BoxError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
