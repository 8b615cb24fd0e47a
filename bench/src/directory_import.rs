//! Imports a generated company (default 100,000 staff in 5,000 departments) through
//! `Directory::write` in batches, on a fresh SQLite file, and reports staff per second, the
//! time to load it back into memory, and peak RSS.

use std::{sync::Arc, time::Instant};

use switchboard::{
    demo::names::People,
    directory::{DepartmentId, Directory, MembershipInput, NewDepartment, NewStaff},
    store::{self, Actor, Journal, Source},
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Builds `count` departments as a tree of fan-out ~10 (five levels at 5,000).
pub fn department_inputs(count: usize) -> Vec<(Option<usize>, NewDepartment)> {
    (0..count)
        .map(|index| {
            let parent = (index > 0).then(|| (index - 1) / 10);
            (
                parent,
                NewDepartment {
                    parent_id: None,
                    name: format!("部门 Department {index}"),
                    dept_type: ["business", "support", "team", "region"][index % 4].into(),
                    order_key: Some(index as i64),
                    custom: Default::default(),
                    source: None,
                    ldap: None,
                },
            )
        })
        .collect()
}

/// The `index`-th generated person (every fifth with a Chinese name), spread over `dept_ids`.
pub fn generated_staff(people: &mut People, index: usize, dept_ids: &[DepartmentId]) -> NewStaff {
    let person = people.next(index.is_multiple_of(5));
    NewStaff {
        login: person.login,
        display_name: person.display_name,
        title: "Engineer".into(),
        emails: vec![person.email],
        phones: vec![person.phone],
        staff_type: ["employee", "employee", "employee", "contractor", "intern"][index % 5].into(),
        custom: Default::default(),
        departments: vec![MembershipInput {
            department_id: dept_ids[index % dept_ids.len()],
            order_key: None,
            primary: true,
        }],
        source: None,
        ldap: None,
    }
}

/// Loads the directory at `url` into memory and reports what that cost.
pub async fn load(url: &str) -> Result<(), BoxError> {
    let before = super::rss_mib().unwrap_or(f64::NAN);
    let started = Instant::now();
    let db = store::connect(url, store::Checkpoints::InCommit).await?;
    let journal = Arc::new(Journal::open(db).await?);
    let directory = Directory::load(journal).await?;
    let elapsed = started.elapsed();
    let (staff, departments) = {
        let replica = directory.read();
        (replica.staff_count(), replica.department_count())
    };
    println!(
        "load:        a fresh process loads {staff} staff + {departments} departments in {:.2} s; RSS {:.0} MiB (was {before:.0} MiB before loading), peak {:.0} MiB (goal <= 300)",
        elapsed.as_secs_f64(),
        super::rss_mib().unwrap_or(f64::NAN),
        super::peak_rss_mib().unwrap_or(f64::NAN),
    );
    Ok(())
}

pub async fn run(staff: usize, departments: usize, batch: usize) -> Result<(), BoxError> {
    let dir = std::env::temp_dir().join(format!("switchboard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let db = store::connect(&url, store::Checkpoints::InCommit).await?;
    store::migrate(&db).await?;
    let journal = Arc::new(Journal::open(db).await?);
    let directory = Directory::load(journal.clone()).await?;
    let actor = Actor::new("bench", Source::Api);

    println!(
        "import benchmark: {staff} staff in {departments} departments, {batch} staff per transaction, SQLite (WAL) at {}",
        dir.display()
    );
    let started = Instant::now();
    let inputs = department_inputs(departments);
    let (dept_ids, _) = directory
        .write(&actor, |stage| {
            let mut ids: Vec<DepartmentId> = Vec::with_capacity(inputs.len());
            for (parent, mut input) in inputs {
                input.parent_id = parent.map(|p| ids[p]);
                ids.push(stage.create_department(input)?.id);
            }
            Ok(ids)
        })
        .await?;
    let departments_elapsed = started.elapsed();

    let mut people = People::new(7, "bench.example.com");
    let generated: Vec<NewStaff> = (0..staff)
        .map(|index| generated_staff(&mut people, index, &dept_ids))
        .collect();

    let staff_started = Instant::now();
    let mut remaining = generated.into_iter();
    loop {
        let chunk: Vec<NewStaff> = remaining.by_ref().take(batch).collect();
        if chunk.is_empty() {
            break;
        }
        directory
            .write(&actor, |stage| {
                for input in chunk {
                    stage.create_staff(input)?;
                }
                Ok(())
            })
            .await?;
    }
    let staff_elapsed = staff_started.elapsed();
    let rss_after_import = super::rss_mib().unwrap_or(f64::NAN);
    let peak_during_import = super::peak_rss_mib().unwrap_or(f64::NAN);
    drop(directory);
    drop(journal);

    println!(
        "departments: {departments} in {:.2} s",
        departments_elapsed.as_secs_f64()
    );
    println!(
        "staff:       {staff} in {:.2} s = {:.0} staff/s (goal >= 20000)",
        staff_elapsed.as_secs_f64(),
        staff as f64 / staff_elapsed.as_secs_f64()
    );
    println!(
        "memory:      importing process: RSS {rss_after_import:.0} MiB after import, peak {peak_during_import:.0} MiB (includes the generated input)"
    );
    // A fresh process loads what was written, as a service start would.
    let output = std::process::Command::new(std::env::current_exe()?)
        .args(["load", "--database-url", &url])
        .output()?;
    print!("{}", String::from_utf8_lossy(&output.stdout));
    if !output.status.success() {
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
