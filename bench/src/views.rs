//! Contact-view benchmark on a generated company (default 100,000 staff, 5,000 departments,
//! 200 roles, 60+ view classes): one user's full view (view classes vs naive per-entry casbin
//! enforce, side by side), delta latency, the cost of one staff edit to every class, a rule
//! edit that changes ~50,000 entries of one class, and memory.

use std::{sync::Arc, time::Instant};

use super::directory_import::{department_inputs, generated_staff};
use switchboard::{
    access::{
        Access, Assignment, Effect, MaskedField, Object, PolicyChange, Role, RoleId, Rule, RuleId,
        Subject, role_subject,
    },
    contacts::Contacts,
    demo::names::People,
    directory::{DepartmentId, Directory, NewStaff, StaffId, StaffPatch},
    store::{self, Actor, Journal, Source, Version},
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn rule(role: Option<RoleId>, effect: Effect, object: Object, exempt: Vec<RoleId>) -> PolicyChange {
    PolicyChange::PutRule(Rule {
        id: RuleId(uuid::Uuid::now_v7()),
        role_id: role,
        effect,
        object,
        exempt_roles: exempt,
        description: String::new(),
    })
}

pub async fn run(staff: usize, departments: usize, role_count: usize) -> Result<(), BoxError> {
    let dir = std::env::temp_dir().join(format!("switchboard-views-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let db = store::connect(&url, store::Checkpoints::InCommit).await?;
    store::migrate(&db).await?;
    let journal = Arc::new(Journal::open(db).await?);
    let directory = Arc::new(Directory::load(journal.clone()).await?);
    let access = Arc::new(Access::load(journal.clone(), directory.clone()).await?);
    let actor = Actor::new("bench", Source::Api);
    println!(
        "views benchmark: {staff} staff, {departments} departments, {role_count} roles (SQLite at {})",
        dir.display()
    );

    // The company.
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
    let mut people = People::new(11, "views.example.com");
    let mut staff_ids: Vec<StaffId> = Vec::with_capacity(staff);
    for start in (0..staff).step_by(5_000) {
        let batch: Vec<NewStaff> = (start..(start + 5_000).min(staff))
            .map(|index| generated_staff(&mut people, index, &dept_ids))
            .collect();
        let (ids, _) = directory
            .write(&actor, |stage| {
                batch
                    .into_iter()
                    .map(|s| stage.create_staff(s).map(|p| p.id))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        staff_ids.extend(ids);
    }

    // Roles: role 0 sees everything; the others see a department type and a subtree, some
    // without phones. Everyone holds one of the first 60 roles, a quarter also one of the rest.
    let roles: Vec<RoleId> = (0..role_count)
        .map(|_| RoleId(uuid::Uuid::now_v7()))
        .collect();
    let mut changes: Vec<PolicyChange> = roles
        .iter()
        .enumerate()
        .map(|(k, id)| {
            PolicyChange::PutRole(Role {
                id: *id,
                name: format!("role {k}"),
                description: String::new(),
                powers: switchboard::auth::Powers::NONE,
            })
        })
        .collect();
    changes.push(rule(Some(roles[0]), Effect::Allow, Object::All, vec![]));
    for (k, role) in roles.iter().enumerate().skip(1) {
        let dept_type = ["business", "support", "team", "region"][k % 4];
        changes.push(rule(
            Some(*role),
            Effect::Allow,
            Object::DeptType(dept_type.into()),
            vec![],
        ));
        changes.push(rule(
            Some(*role),
            Effect::Allow,
            Object::Subtree(dept_ids[(k * 37) % dept_ids.len()]),
            vec![],
        ));
        if k % 5 == 0 {
            changes.push(rule(
                Some(*role),
                Effect::Mask,
                Object::Field(MaskedField::Phones),
                vec![],
            ));
        }
    }
    let primary_roles = role_count.min(60);
    for (i, person) in staff_ids.iter().enumerate() {
        changes.push(PolicyChange::Assign(Assignment {
            role_id: roles[i % primary_roles],
            subject: Subject::Staff(*person),
        }));
        if i % 4 == 1 && role_count > primary_roles {
            let extra = primary_roles + (i / 4) % (role_count - primary_roles).min(10);
            changes.push(PolicyChange::Assign(Assignment {
                role_id: roles[extra],
                subject: Subject::Staff(*person),
            }));
        }
    }
    let rss_directory = super::rss_mib().unwrap_or(f64::NAN);
    let started = Instant::now();
    access.apply(&actor, changes).await?;
    let rss_policy = super::rss_mib().unwrap_or(f64::NAN);
    println!(
        "policy:      {} rules and {} assignments loaded into casbin in {:.2} s",
        access.snapshot().policy.rules.len(),
        access.snapshot().policy.assignments.len(),
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let contacts = Contacts::load(journal.clone(), directory.clone(), access.clone()).await?;
    directory.subscribe(contacts.clone());
    access.subscribe(contacts.clone());
    let stats = contacts.stats();
    println!(
        "memory:      RSS {rss_directory:.0} MiB with the directory loaded, {rss_policy:.0} MiB with the policy in casbin, {:.0} MiB with the views",
        super::rss_mib().unwrap_or(f64::NAN)
    );
    println!(
        "classes:     {} view classes for {} people, built in {:.2} s",
        stats.live_classes,
        stats.users,
        started.elapsed().as_secs_f64()
    );

    // 1. One user's full view. The viewer holds role 0 only (sees all 105,000 entries).
    let viewer = staff_ids
        .iter()
        .enumerate()
        .find(|(i, _)| i % primary_roles == 0 && i % 4 != 1)
        .map(|(_, s)| *s)
        .ok_or("no viewer")?;
    let mut serve = Vec::new();
    let mut bytes = 0;
    for _ in 0..5 {
        let t = Instant::now();
        bytes = contacts.render_snapshot(viewer)?.len();
        serve.push(t.elapsed().as_secs_f64() * 1e3);
    }
    // What the handler does: the first request streams and fills the cache, the next streams
    // the cached chunks.
    let sent = |body: switchboard::contacts::SnapshotBody| -> Result<usize, BoxError> {
        let mut bytes = 0;
        for chunk in body {
            bytes += chunk?.len();
        }
        Ok(bytes)
    };
    sent(contacts.snapshot_body(viewer)?)?;
    let t = Instant::now();
    sent(contacts.snapshot_body(viewer)?)?;
    let cached_ms = t.elapsed().as_secs_f64() * 1e3;
    // A typical viewer: one of the narrower roles (a department type and a subtree).
    let narrow = staff_ids[7];
    let mut narrow_ms = Vec::new();
    let mut narrow_bytes = 0;
    for _ in 0..5 {
        let t = Instant::now();
        narrow_bytes = contacts.render_snapshot(narrow)?.len();
        narrow_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (narrow_naive_ms, narrow_sampled) =
        naive_view_ms(&directory, &access, narrow, 2_000).await?;
    let t = Instant::now();
    let cold_bytes = contacts.cold_view_json(viewer)?;
    let cold = t.elapsed().as_secs_f64() * 1e3;
    let (naive_ms, sampled) = naive_view_ms(&directory, &access, viewer, 2_000).await?;
    let entries = staff + departments;
    let naive_full = naive_ms / sampled as f64 * entries as f64;
    let serve_p50 = percentile(&mut serve, 0.5);
    let narrow_p50 = percentile(&mut narrow_ms, 0.5);
    let narrow_naive_full = narrow_naive_ms / narrow_sampled as f64 * entries as f64;
    println!(
        "full view:   a viewer who sees all {entries} entries ({:.1} MB JSON): {serve_p50:.1} ms to project + serialise from the class view, {cached_ms:.2} ms when the class's list is cached; {cold:.0} ms evaluating the view from scratch ({:.1} MB)",
        bytes as f64 / 1e6,
        cold_bytes as f64 / 1e6
    );
    println!(
        "             naive per-entry casbin enforce, visibility only: {naive_ms:.0} ms for {sampled} entries -> {naive_full:.0} ms for all (extrapolated); {:.1}x the class view's full cost, {:.0}x its cached answer (goal >= 100x, <= 20 ms)",
        naive_full / serve_p50,
        naive_full / cached_ms.max(1e-3)
    );
    println!(
        "             a typical viewer (one narrow role, {:.1} MB JSON): {narrow_p50:.1} ms from the class view; naive enforce {narrow_naive_full:.0} ms (from {narrow_sampled} entries) = {:.0}x",
        narrow_bytes as f64 / 1e6,
        narrow_naive_full / narrow_p50
    );

    // 2. One staff edit reaching every class, and 3. deltas of up to 100 changes.
    let before = contacts.version();
    let mut apply = Vec::new();
    let mut write = Vec::new();
    let mut versions = vec![before];
    for k in 0..100 {
        let target = staff_ids[(k * 997) % staff_ids.len()];
        let t = Instant::now();
        let (_, version) = directory
            .write(&actor, |stage| {
                stage.update_staff(
                    target,
                    StaffPatch {
                        title: Some(format!("Title {k}")),
                        ..Default::default()
                    },
                )
            })
            .await?;
        write.push(t.elapsed().as_secs_f64() * 1e3);
        apply.push(contacts.last_apply_seconds() * 1e3);
        versions.push(version);
    }
    println!(
        "staff edit:  updating all {} class views and logs p50 {:.3} ms, p99 {:.3} ms (goal <= 1 ms); whole write incl. SQLite commit p50 {:.2} ms",
        contacts.stats().live_classes,
        percentile(&mut apply, 0.5),
        percentile(&mut apply, 0.99),
        percentile(&mut write, 0.5)
    );
    let mut delta_ms = Vec::new();
    let mut largest = 0;
    for _ in 0..20 {
        for since in &versions {
            let t = Instant::now();
            let delta = contacts.delta(viewer, *since)?;
            let json = serde_json::to_vec(&delta)?;
            delta_ms.push(t.elapsed().as_secs_f64() * 1e3);
            largest = largest.max(delta.changes.len());
            std::hint::black_box(json);
        }
    }
    println!(
        "deltas:      {} requests of 0..{largest} changes (compute + serialise): p50 {:.3} ms, p99 {:.3} ms (goal p99 <= 2 ms)",
        delta_ms.len(),
        percentile(&mut delta_ms, 0.5),
        percentile(&mut delta_ms, 0.99)
    );

    // 3b. Staff edits while the viewer's whole list is being served, one request after another
    // (each a cache miss: what every snapshot costs while HR is editing).
    let quiet = timed_edits(&directory, &actor, &staff_ids, 300, "Quiet").await?;
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = {
        let (contacts, stop, served) = (contacts.clone(), stop.clone(), served.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if contacts.render_snapshot(viewer).is_ok() {
                    served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        })
    };
    // Edits in rounds until several whole snapshots went by (at most 20 rounds).
    let mut busy = Vec::new();
    for round in 0..20 {
        match timed_edits(
            &directory,
            &actor,
            &staff_ids,
            100,
            &format!("Busy {round}"),
        )
        .await
        {
            Ok(samples) => busy.extend(samples),
            Err(error) => {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                let _ = server.join();
                return Err(error);
            }
        }
        if busy.len() >= 300 && served.load(std::sync::atomic::Ordering::Relaxed) >= 3 {
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    server.join().map_err(|_| "snapshot thread panicked")?;
    let served = served.load(std::sync::atomic::Ordering::Relaxed);
    let mut quiet = quiet;
    let (quiet_p50, busy_p50) = (percentile(&mut quiet, 0.5), percentile(&mut busy, 0.5));
    let (quiet_p99, busy_p99) = (percentile(&mut quiet, 0.99), percentile(&mut busy, 0.99));
    println!(
        "snapshot in flight: {} staff edits while {served} full snapshots ({:.1} MB each) were serialised back to back: p50 {busy_p50:.2} ms, p99 {busy_p99:.2} ms, vs p50 {quiet_p50:.2} ms, p99 {quiet_p99:.2} ms alone: {:+.2} ms p50, {:+.2} ms p99 (goal < 5 ms)",
        busy.len(),
        bytes as f64 / 1e6,
        busy_p50 - quiet_p50,
        busy_p99 - quiet_p99,
    );

    // 4. A rule edit that hides ~60,000 employees from the role-0 class only.
    let since = contacts.version();
    let t = Instant::now();
    access
        .apply(
            &actor,
            vec![rule(
                None,
                Effect::Deny,
                Object::StaffType("employee".into()),
                roles[1..].to_vec(),
            )],
        )
        .await?;
    let rule_ms = t.elapsed().as_secs_f64() * 1e3;
    let listener_ms = contacts.last_apply_seconds() * 1e3;
    let t = Instant::now();
    let delta = contacts.delta(viewer, since)?;
    let delta_bytes = serde_json::to_vec(&delta)?.len();
    let delta_ms = t.elapsed().as_secs_f64() * 1e3;
    let snapshot_bytes = serde_json::to_vec(&contacts.snapshot(viewer)?)?.len();
    println!(
        "rule edit:   {} entries changed for the viewer's class; edit committed and every view updated in {rule_ms:.0} ms (views alone {listener_ms:.0} ms), delta ready {delta_ms:.0} ms later (goal <= 200 ms in all)",
        delta.changes.len()
    );
    println!(
        "             delta {:.1} MB vs snapshot {:.1} MB before the edit / {:.1} MB after",
        delta_bytes as f64 / 1e6,
        bytes as f64 / 1e6,
        snapshot_bytes as f64 / 1e6
    );
    println!(
        "memory:      RSS {:.0} MiB, peak {:.0} MiB for the whole process (goal <= 500); {} log entries kept",
        super::rss_mib().unwrap_or(f64::NAN),
        super::peak_rss_mib().unwrap_or(f64::NAN),
        contacts.stats().log_entries
    );
    let _ = Version(0);
    contacts.flush().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Makes `count` staff edits one after another; returns each one's milliseconds.
async fn timed_edits(
    directory: &Directory,
    actor: &Actor,
    staff_ids: &[StaffId],
    count: usize,
    label: &str,
) -> Result<Vec<f64>, BoxError> {
    let mut samples = Vec::with_capacity(count);
    for k in 0..count {
        let target = staff_ids[(k * 7_919 + 13) % staff_ids.len()];
        let t = Instant::now();
        directory
            .write(actor, |stage| {
                stage.update_staff(
                    target,
                    StaffPatch {
                        title: Some(format!("{label} {k}")),
                        ..Default::default()
                    },
                )
            })
            .await?;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(samples)
}

/// Evaluates `sample` entries of a person's view the naive way: for each entry, every object
/// class it belongs to is put to casbin `enforce` as the person. Returns milliseconds taken.
async fn naive_view_ms(
    directory: &Directory,
    access: &Access,
    viewer: StaffId,
    sample: usize,
) -> Result<(f64, usize), BoxError> {
    let roles: Vec<String> = access
        .snapshot()
        .roles_of(viewer)
        .iter()
        .map(|r| role_subject(*r))
        .collect();
    let (departments, people) = {
        let replica = directory.read();
        let departments: Vec<_> = replica
            .departments()
            .take(sample / 2)
            .map(|d| (d.id, d.dept_type.clone(), replica.ancestors_and_self(d.id)))
            .collect();
        let people: Vec<_> = replica
            .all_staff()
            .take(sample / 2)
            .map(|s| {
                (
                    s.id,
                    s.staff_type.clone(),
                    s.memberships
                        .iter()
                        .map(|m| (m.department_id, replica.ancestors_and_self(m.department_id)))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        (departments, people)
    };
    let started = Instant::now();
    let mut visible = 0usize;
    // A person's decision is the OR of their roles' decisions.
    let see = |object: String| {
        let roles = roles.clone();
        async move {
            for role in &roles {
                if access.enforce(role, &object, "see").await.unwrap_or(false) {
                    return true;
                }
            }
            false
        }
    };
    for (id, dept_type, path) in &departments {
        let mut v = see("all".into()).await
            || see(format!("dept_type:{dept_type}")).await
            || see(format!("department:{id}")).await;
        for a in path {
            v = v || see(format!("subtree:{a}")).await;
        }
        visible += usize::from(v);
    }
    for (id, staff_type, memberships) in &people {
        let mut v = see("all".into()).await
            || see(format!("staff_type:{staff_type}")).await
            || see(format!("staff:{id}")).await;
        for (department, path) in memberships {
            v = v || see(format!("department:{department}")).await;
            for a in path {
                v = v || see(format!("subtree:{a}")).await;
            }
        }
        visible += usize::from(v);
    }
    std::hint::black_box(visible);
    Ok((
        started.elapsed().as_secs_f64() * 1e3,
        departments.len() + people.len(),
    ))
}
