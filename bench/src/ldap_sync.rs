//! LDAP sync benchmark: a generated company (default 100,000 staff in 5,000 OUs) in a real
//! slapd started by ldap-init/, read with a plain paged `ldapsearch` (the server's own export
//! speed, the physical limit) and synced by Switchboard, side by side; then 100 changes picked
//! up by an incremental run; peak RSS.

use std::{
    process::{Command, Stdio},
    time::Instant,
};

use switchboard::{
    app,
    config::{Config, RawConfig},
    ldap::{RawLdapConfig, SyncKind},
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const LDAP_INIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/ldap-init");

fn run(command: &mut Command) -> Result<String, BoxError> {
    let output = command.output()?;
    if !output.status.success() {
        return Err(format!("{:?}: {}", command, String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A scratch directory removed at the end.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn run_bench(staff: usize, departments: usize) -> Result<(), BoxError> {
    let root = std::env::temp_dir().join(format!("switchboard-ldap-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    let dir = Scratch(root);
    let ldif = dir.path().join("company.ldif");
    let started = Instant::now();
    let generated = Command::new("python3")
        .arg(format!("{LDAP_INIT}/generate.py"))
        .args([
            "--staff",
            &staff.to_string(),
            "--departments",
            &departments.to_string(),
        ])
        .stdout(std::fs::File::create(&ldif)?)
        .status()?;
    if !generated.success() {
        return Err("generate.py failed".into());
    }
    let slapd_dir = dir.path().join("slapd");
    let env = run(Command::new("bash")
        .arg(format!("{LDAP_INIT}/start.sh"))
        .arg(&slapd_dir)
        .arg("--ldif")
        .arg(&ldif)
        .arg("--svc-unlimited"))?;
    let var = |key: &str| -> String {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_default()
            .to_owned()
    };
    println!(
        "ldap sync benchmark: {staff} staff in {departments} OUs, generated and loaded into slapd in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The physical limit: slapd's own paged export of the same entries and attributes.
    let attrs = [
        "entryUUID",
        "uid",
        "displayName",
        "cn",
        "title",
        "employeeType",
        "departmentNumber",
        "entryCSN",
        "mail",
        "telephoneNumber",
        "mobile",
        "employeeNumber",
    ];
    let started = Instant::now();
    for (base, filter) in [
        (
            "ou=Stellar,dc=example,dc=com",
            "(objectClass=organizationalUnit)",
        ),
        (
            "ou=Stellar,dc=example,dc=com",
            "(objectClass=inetOrgPerson)",
        ),
        ("ou=Groups,dc=example,dc=com", "(objectClass=groupOfNames)"),
    ] {
        let status = Command::new("ldapsearch")
            .args([
                "-x",
                "-LLL",
                "-H",
                &var("LDAP_URL"),
                "-D",
                &var("LDAP_BIND_DN"),
                "-w",
                &var("LDAP_BIND_PASSWORD"),
                "-b",
                base,
                "-E",
                "pr=500/noprompt",
                filter,
            ])
            .args(attrs)
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            return Err("ldapsearch failed".into());
        }
    }
    let ldapsearch = started.elapsed().as_secs_f64();

    let toml = format!(
        r#"
url = "{url}"
bind_dn = "{bind_dn}"
bind_password = "{password}"
change_attribute = "entryCSN"
page_size = 500
departments = {{ base_dn = "ou=Stellar,dc=example,dc=com", filter = "(objectClass=organizationalUnit)" }}
staff = {{ base_dn = "ou=Stellar,dc=example,dc=com", filter = "(objectClass=inetOrgPerson)" }}
groups = {{ base_dn = "ou=Groups,dc=example,dc=com", filter = "(objectClass=groupOfNames)" }}
[staff_attributes]
custom = {{ employee_no = "employeeNumber" }}
"#,
        url = var("LDAP_URL"),
        bind_dn = var("LDAP_BIND_DN"),
        password = var("LDAP_BIND_PASSWORD"),
    );
    let ldap: RawLdapConfig = toml::from_str(&toml)?;
    let data = dir.path().join("data");
    let config = Config::parse(RawConfig {
        data_dir: Some(data.display().to_string()),
        admin_password: Some("bench-password".into()),
        ldap: Some(ldap),
        ..Default::default()
    })?;
    let state = app::open_services(config, false).await?;
    let connector = state.ldap.clone();
    let started = Instant::now();
    let run = connector.sync("bench", SyncKind::Full, false).await?;
    let full = started.elapsed().as_secs_f64();
    println!(
        "full sync:   {} in {full:.1} s = {:.0} staff/s ({} added, {} departments, {} skipped); plain paged ldapsearch of the same entries {ldapsearch:.1} s; ratio {:.2}x (goal <= 1.5x)",
        run.status,
        staff as f64 / full,
        run.counts.added,
        run.counts.departments_added,
        run.counts.failed,
        full / ldapsearch
    );

    // 100 changes, then an incremental run: from the change to the delta being ready.
    let mut changes = String::new();
    let people: Vec<(String, String)> = {
        let replica = state.directory.read();
        replica
            .all_staff()
            .take(100)
            .filter_map(|s| s.ldap.as_ref().map(|l| (l.dn.clone(), s.login.clone())))
            .collect()
    };
    for (i, (dn, _)) in people.iter().enumerate() {
        changes.push_str(&format!(
            "dn: {dn}\nchangetype: modify\nreplace: title\ntitle: Bench title {i}\n\n"
        ));
    }
    let mut child = Command::new("ldapmodify")
        .args([
            "-x",
            "-H",
            &var("LDAP_URL"),
            "-D",
            &var("LDAP_ADMIN_DN"),
            "-w",
            &var("LDAP_ADMIN_PASSWORD"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .ok_or("stdin")?
            .write_all(changes.as_bytes())?;
    }
    child.wait()?;
    let started = Instant::now();
    let run = connector
        .sync("bench", SyncKind::Incremental, false)
        .await?;
    let incremental = started.elapsed().as_secs_f64();
    println!(
        "incremental: {} changes picked up ({} read in full, {} updated, by {}) and every contact list updated in {:.2} s (goal <= 1 s)",
        people.len(),
        run.counts.read,
        run.counts.updated,
        if run.counts.content_sync {
            "RFC 4533 content sync"
        } else {
            "change attribute and an id listing"
        },
        incremental
    );
    println!(
        "memory:      peak RSS {:.0} MiB for the whole service process",
        super::peak_rss_mib().unwrap_or(f64::NAN)
    );
    state.contacts.flush().await;
    let _ = Command::new("bash")
        .arg(format!("{LDAP_INIT}/stop.sh"))
        .arg(&slapd_dir)
        .status();
    Ok(())
}
