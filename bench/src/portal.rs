//! Admin portal speed on a generated company (default 100,000 staff in 5,000 departments, 20
//! roles with rules): the real `switchboard serve` as a child process, signed in as the
//! administrator, and each page as HR and IT open it — the dashboard, the org chart at the
//! top and at a department, the drawn chart, the staff list (first page, a deep page, a
//! department's subtree), staff search (a Chinese name, full pinyin, initials, a login, an
//! email), a person's page, roles, rules, "view as" and the audit log.
//!
//! Per page: the first request after start-up (cold), then `--samples` requests one after
//! another (p50/p95/p99/max of the time to the last byte on loopback: server time plus a
//! loopback round trip). Then an open-loop mix of every page at fixed offered rates, so the
//! figures are what people meet while others use the portal too. Goals (issue 13): every page
//! p95 ≤ 100 ms, staff search p95 ≤ 50 ms. Prints; asserts nothing.

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use switchboard::{
    access::{Assignment, Effect, Object, PolicyChange, Role, RoleId, Rule, RuleId, Subject},
    app,
    demo::names::People,
    directory::{DepartmentId, StaffId},
    store::{Actor, Source},
};

use super::directory_import::{department_inputs, generated_staff};
use super::im_setup::{ADMIN_PASSWORD, Server, config, copy_files, free_port};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the measuring half needs from the prepared company.
#[derive(serde::Serialize, serde::Deserialize)]
struct Company {
    departments: Vec<DepartmentId>,
    /// A few people to open and to search for: (id, display name, login, email).
    samples: Vec<(StaffId, String, String, String)>,
    roles: Vec<RoleId>,
    rules: Vec<RuleId>,
}

async fn prepare(dir: &Path, staff: usize, departments: usize) -> Result<Company, BoxError> {
    let state = app::open_services(config(dir, "127.0.0.1:0")?, false).await?;
    let actor = Actor::new("bench", Source::Api);
    let inputs = department_inputs(departments);
    let (dept_ids, _) = state
        .directory
        .write(&actor, |stage| {
            let mut ids: Vec<DepartmentId> = Vec::with_capacity(inputs.len());
            for (parent, mut input) in inputs {
                input.parent_id = parent.map(|p| ids[p]);
                ids.push(stage.create_department(input)?.id);
            }
            Ok(ids)
        })
        .await?;
    let mut people = People::new(13, "portal.example.com");
    let mut samples = Vec::new();
    let mut staff_ids: Vec<StaffId> = Vec::with_capacity(staff);
    for start in (0..staff).step_by(5_000) {
        let batch: Vec<_> = (start..(start + 5_000).min(staff))
            .map(|index| generated_staff(&mut people, index, &dept_ids))
            .collect();
        let names: Vec<_> = batch
            .iter()
            .map(|s| {
                (
                    s.display_name.clone(),
                    s.login.clone(),
                    s.emails.first().cloned().unwrap_or_default(),
                )
            })
            .collect();
        let (ids, _) = state
            .directory
            .write(&actor, |stage| {
                batch
                    .into_iter()
                    .map(|s| stage.create_staff(s).map(|p| p.id))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        // A few samples per batch, from the middle of the company as well as its start.
        for at in (7..ids.len()).step_by(1_000) {
            let (name, login, email) = names[at].clone();
            samples.push((ids[at], name, login, email));
        }
        staff_ids.extend(ids);
    }
    // Twenty roles, each seeing its own slice of the tree with phones masked for half, and
    // everyone in one of them: the IT pages and "view as" have real work to show.
    let mut changes = Vec::new();
    let mut roles = Vec::new();
    let mut rules = Vec::new();
    for index in 0..20 {
        let role = Role {
            id: RoleId(uuid::Uuid::now_v7()),
            name: format!("角色 Role {index}"),
            description: "benchmark".into(),
            powers: switchboard::auth::Powers::NONE,
        };
        let allow = RuleId(uuid::Uuid::now_v7());
        changes.push(PolicyChange::PutRole(role.clone()));
        changes.push(PolicyChange::PutRule(Rule {
            id: allow,
            role_id: Some(role.id),
            effect: Effect::Allow,
            object: Object::Subtree(dept_ids[(1 + index % 10).min(dept_ids.len() - 1)]),
            exempt_roles: Default::default(),
            description: String::new(),
        }));
        rules.push(allow);
        roles.push(role.id);
    }
    changes.extend(staff_ids.iter().enumerate().map(|(i, s)| {
        PolicyChange::Assign(Assignment {
            role_id: roles[i % roles.len()],
            subject: Subject::Staff(*s),
        })
    }));
    state.access.apply(&actor, changes).await?;
    state.im.shutdown().await;
    drop(state);
    Ok(Company {
        departments: dept_ids,
        samples,
        roles,
        rules,
    })
}

/// The company prepared once into a cache directory and copied for each run.
async fn company(dir: &Path, staff: usize, departments: usize) -> Result<Company, BoxError> {
    let cache =
        std::env::temp_dir().join(format!("switchboard-bench-portal-{staff}-{departments}"));
    let manifest = cache.join("company.json");
    if !manifest.exists() {
        let _ = std::fs::remove_dir_all(&cache);
        std::fs::create_dir_all(&cache)?;
        let started = Instant::now();
        let company = prepare(&cache, staff, departments).await?;
        println!(
            "  (company prepared in {:.1} s, cached in {})",
            started.elapsed().as_secs_f64(),
            cache.display()
        );
        std::fs::write(&manifest, serde_json::to_vec(&company)?)?;
    }
    copy_files(&cache, dir)?;
    Ok(serde_json::from_slice(&std::fs::read(&manifest)?)?)
}

/// Full pinyin (no tones) and initials of a name, as an employee would type them.
fn pinyin_of(name: &str) -> (String, String) {
    use pinyin::ToPinyin;
    let mut full = String::new();
    let mut initials = String::new();
    for p in name.to_pinyin().flatten() {
        full.push_str(p.plain());
        initials.push_str(&p.plain()[..1]);
    }
    (full, initials)
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The pages, by name, in the order they are reported.
fn pages(company: &Company) -> Result<Vec<(String, String)>, BoxError> {
    let dept = company.departments.get(123).or(company.departments.first());
    let dept = dept.map(|d| d.0.to_string()).unwrap_or_default();
    let top = company
        .departments
        .first()
        .map(|d| d.0.to_string())
        .unwrap_or_default();
    let chinese = company
        .samples
        .iter()
        .find(|s| !s.1.is_ascii())
        .or(company.samples.first());
    let (person, name, login, email) = chinese.cloned().ok_or("the company has no people")?;
    let (full, initials) = pinyin_of(&name);
    let role = company
        .roles
        .first()
        .map(|r| r.0.to_string())
        .unwrap_or_default();
    let rule = company
        .rules
        .first()
        .map(|r| r.0.to_string())
        .unwrap_or_default();
    let viewer = company
        .samples
        .get(3)
        .map(|s| s.0.0.to_string())
        .ok_or("the company has too few people")?;
    Ok(vec![
        ("dashboard".into(), "/admin".into()),
        ("org chart (top)".into(), "/admin/org".into()),
        (
            "org chart (a department)".into(),
            format!("/admin/org?dept={dept}"),
        ),
        ("org tree children".into(), format!("/admin/org/tree/{top}")),
        (
            "org search (pinyin)".into(),
            "/admin/org/search?q=bumen".into(),
        ),
        ("drawn chart".into(), format!("/admin/org/chart?dept={top}")),
        ("staff list".into(), "/admin/staff".into()),
        (
            "staff list (department subtree)".into(),
            format!("/admin/staff?department={top}&subtree=1"),
        ),
        (
            "staff list (contractors)".into(),
            "/admin/staff?type=contractor".into(),
        ),
        (
            "staff search: name".into(),
            format!("/admin/staff?q={}", encode(&name)),
        ),
        (
            "staff search: full pinyin".into(),
            format!("/admin/staff?q={}", encode(&full)),
        ),
        (
            "staff search: initials".into(),
            format!("/admin/staff?q={}", encode(&initials)),
        ),
        (
            "staff search: login".into(),
            format!("/admin/staff?q={}", encode(&login)),
        ),
        (
            "staff search: email".into(),
            format!("/admin/staff?q={}", encode(&email)),
        ),
        (
            "staff search: no match".into(),
            "/admin/staff?q=zzqqxx".into(),
        ),
        ("a person".into(), format!("/admin/staff/{}", person.0)),
        ("roles".into(), "/admin/roles".into()),
        ("a role".into(), format!("/admin/roles/{role}")),
        ("rules".into(), "/admin/rules".into()),
        ("a rule".into(), format!("/admin/rules/{rule}")),
        ("view as".into(), format!("/admin/view-as?staff={viewer}")),
        (
            "view as, filtered".into(),
            format!("/admin/view-as?staff={viewer}&q=li"),
        ),
        ("audit log".into(), "/admin/audit".into()),
    ])
}

fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// One page request: the time to its last byte (ms) and the size of the page (bytes).
async fn fetch(
    client: &reqwest::Client,
    base: &str,
    cookie: &str,
    path: &str,
) -> Result<(f64, usize), BoxError> {
    let started = Instant::now();
    let reply = client
        .get(format!("{base}{path}"))
        .header(reqwest::header::COOKIE, cookie)
        .header(reqwest::header::ACCEPT_LANGUAGE, "zh-CN")
        .send()
        .await?;
    let status = reply.status();
    let body = reply.bytes().await?;
    let elapsed = started.elapsed().as_secs_f64() * 1e3;
    if !status.is_success() {
        return Err(format!(
            "{path}: {status} {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )
        .into());
    }
    Ok((elapsed, body.len()))
}

pub async fn run(
    staff: usize,
    departments: usize,
    samples: usize,
    rates: Vec<f64>,
) -> Result<(), BoxError> {
    let dir = std::env::temp_dir().join(format!(
        "switchboard-bench-portal-run-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir)?;
    println!("portal benchmark: {staff} staff, {departments} departments, 20 roles");
    let company = company(&dir, staff, departments).await?;
    let started = Instant::now();
    let server = Server::start(&dir, free_port()?).await?;
    println!(
        "  server ready in {:.2} s (from a cold process on the prepared database)",
        started.elapsed().as_secs_f64()
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let login: serde_json::Value = client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&serde_json::json!({"login": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = login["token"]
        .as_str()
        .ok_or("no token in the login answer")?;
    let cookie = format!("sb_session={token}");
    let pages = pages(&company)?;

    println!("\n  closed loop, one request at a time ({samples} per page), ms to the last byte:");
    println!(
        "  {:<34} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "page", "KiB", "cold", "p50", "p95", "p99", "max"
    );
    let mut worst: Vec<(String, f64)> = Vec::new();
    for (name, path) in &pages {
        let (cold, size) = fetch(&client, &server.base, &cookie, path).await?;
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            times.push(fetch(&client, &server.base, &cookie, path).await?.0);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let p95 = quantile(&times, 0.95);
        println!(
            "  {name:<34} {:>6.1} {cold:>8.2} {:>8.2} {p95:>8.2} {:>8.2} {:>8.2}",
            size as f64 / 1024.0,
            quantile(&times, 0.5),
            quantile(&times, 0.99),
            times.last().copied().unwrap_or(f64::NAN)
        );
        worst.push((name.clone(), p95));
    }
    worst.sort_by(|a, b| b.1.total_cmp(&a.1));
    if let Some((name, p95)) = worst.first() {
        println!("  slowest p95: {name} at {p95:.2} ms (goal ≤ 100 ms; search ≤ 50 ms)");
    }

    // Open loop: requests start on a fixed schedule whatever the answers do, cycling through
    // every page; latency counts from the scheduled start, so queueing shows.
    let pages = Arc::new(pages);
    for rate in rates {
        let total = (rate * 20.0).max(40.0) as usize;
        let interval = Duration::from_secs_f64(1.0 / rate);
        let begin = tokio::time::Instant::now();
        let mut tasks = Vec::with_capacity(total);
        for i in 0..total {
            let scheduled = begin + interval * i as u32;
            let (client, base, cookie, pages) = (
                client.clone(),
                server.base.clone(),
                cookie.clone(),
                pages.clone(),
            );
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(scheduled).await;
                let (_, path) = &pages[i % pages.len()];
                let result = fetch(&client, &base, &cookie, path).await;
                result.map(|_| scheduled.elapsed().as_secs_f64() * 1e3)
            }));
        }
        let mut times = Vec::with_capacity(total);
        let mut errors = 0;
        for task in tasks {
            match task.await {
                Ok(Ok(ms)) => times.push(ms),
                _ => errors += 1,
            }
        }
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "\n  open loop at {rate:.0} pages/s for {:.0} s (all pages in turn): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {errors} errors",
            total as f64 / rate,
            quantile(&times, 0.5),
            quantile(&times, 0.95),
            quantile(&times, 0.99),
            times.last().copied().unwrap_or(f64::NAN)
        );
    }
    if let Some(kib) = server.rss_kib() {
        println!(
            "\n  server memory after the run: {:.0} MiB",
            kib as f64 / 1024.0
        );
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
