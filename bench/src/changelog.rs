//! `switchboard-bench storage changes`: start-up time with a long changelog. A company (default
//! 10,000 people) is edited in bulk through the directory write path until the `changes` table
//! holds a million rows; then the real `switchboard serve` is started cold (time until
//! `/readyz`), the whole history is aged past the retention (its audit times moved back 40
//! days), the server started again (it compacts what is past retention), and started once more.

use std::time::{Duration, Instant};

use switchboard::{
    app,
    config::{Config, RawConfig},
    directory::{DepartmentId, MembershipInput, NewDepartment, NewStaff, StaffId, StaffPatch},
    store::{Actor, Source},
};

use super::{
    im_setup::ADMIN_PASSWORD,
    storage::{execute, file_mib, query_ints, start_timed},
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The benchmark's knobs.
#[derive(Debug, Clone, clap::Args)]
pub struct ChangesArgs {
    /// People in the company (each bulk edit changes all of them).
    #[arg(long, default_value_t = 10_000)]
    pub staff: usize,
    /// Rows in the changelog before the first start.
    #[arg(long, default_value_t = 1_000_000)]
    pub changes: usize,
    /// Keep the run's directory afterwards.
    #[arg(long)]
    pub keep: bool,
}

async fn count_changes(dir: &std::path::Path) -> Result<i64, BoxError> {
    Ok(query_ints(dir, "SELECT COUNT(*) FROM changes")
        .await?
        .first()
        .copied()
        .unwrap_or(0))
}

async fn count_older(dir: &std::path::Path) -> Result<i64, BoxError> {
    Ok(query_ints(
        dir,
        "SELECT COUNT(*) FROM changes WHERE version < (SELECT MAX(version) FROM changes)",
    )
    .await?
    .first()
    .copied()
    .unwrap_or(0))
}

/// Builds the company and its history in `dir`, in this process.
async fn prepare(dir: &std::path::Path, args: &ChangesArgs) -> Result<(), BoxError> {
    let config = Config::parse(RawConfig {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.display().to_string()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        ..Default::default()
    })?;
    let state = app::open_services(config, false).await?;
    let actor = Actor::new("bench", Source::Api);
    let (departments, _) = state
        .directory
        .write(&actor, |stage| {
            let mut ids: Vec<DepartmentId> = Vec::new();
            for index in 0..100 {
                ids.push(
                    stage
                        .create_department(NewDepartment {
                            parent_id: None,
                            name: format!("Team {index}"),
                            dept_type: "team".into(),
                            order_key: Some(index),
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
    let mut staff: Vec<StaffId> = Vec::with_capacity(args.staff);
    for chunk in (0..args.staff).collect::<Vec<_>>().chunks(5_000) {
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
                                    department_id: departments[i % departments.len()],
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
    let started = Instant::now();
    let rounds = args
        .changes
        .saturating_sub(args.staff)
        .div_ceil(args.staff.max(1));
    for round in 0..rounds {
        state
            .directory
            .write(&actor, |stage| {
                for id in &staff {
                    stage.update_staff(
                        *id,
                        StaffPatch {
                            title: Some(format!("Title {round}")),
                            ..Default::default()
                        },
                    )?;
                }
                Ok(())
            })
            .await?;
    }
    println!(
        "history:     {rounds} bulk edits of {} people in {:.1} s",
        args.staff,
        started.elapsed().as_secs_f64()
    );
    state.contacts.flush().await;
    state.im.shutdown().await;
    Ok(())
}

pub async fn run(args: ChangesArgs) -> Result<(), BoxError> {
    let dir =
        std::env::temp_dir().join(format!("switchboard-bench-changes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    println!(
        "storage benchmark (changes): {} people, about {} changelog rows; SQLite at {}",
        args.staff,
        args.changes,
        dir.display()
    );
    prepare(&dir, &args).await?;
    let rows = count_changes(&dir).await?;
    println!(
        "changelog:   {rows} rows; database {:.0} MiB",
        file_mib(&dir.join("switchboard.db"))
    );

    // What every start read before start-up stopped scanning the changelog: the last version of
    // each department and person, grouped over the whole table.
    let scan = Instant::now();
    for kind in ["department", "staff"] {
        query_ints(
            &dir,
            &format!(
                "SELECT COUNT(*) FROM (SELECT entity_id, MAX(version) FROM changes \
                 WHERE entity_kind = '{kind}' GROUP BY entity_id)"
            ),
        )
        .await?;
    }
    println!(
        "old scan:    {:.2} s for the changelog scan every start used to run",
        scan.elapsed().as_secs_f64()
    );
    let (server, start) = start_timed(&dir).await?;
    println!(
        "start:       {:.2} s with {rows} changelog rows, all within the retention",
        start.as_secs_f64()
    );
    drop(server); // kill -9

    // The whole history is now older than the retention (30 days by default).
    execute(&dir, "UPDATE audit_log SET at = at - 3456000000").await?;
    let (server, start) = start_timed(&dir).await?;
    println!(
        "start:       {:.2} s with the history aged 40 days (compaction runs after start)",
        start.as_secs_f64()
    );
    // The compaction keeps the newest version's rows (a restart compares it with how far the
    // derived data got): wait for every older row to go.
    let waited = Instant::now();
    let mut older = count_older(&dir).await?;
    while older > 0 && waited.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        older = count_older(&dir).await?;
    }
    println!(
        "compaction:  {older} rows below the newest version left after {:.1} s; {} rows in all",
        waited.elapsed().as_secs_f64(),
        count_changes(&dir).await?
    );
    drop(server); // kill -9
    let (server, start) = start_timed(&dir).await?;
    println!(
        "start:       {:.2} s after compaction; database {:.0} MiB, WAL {:.0} MiB",
        start.as_secs_f64(),
        file_mib(&dir.join("switchboard.db")),
        file_mib(&dir.join("switchboard.db-wal"))
    );
    drop(server);
    if args.keep {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
