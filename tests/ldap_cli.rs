//! The `switchboard` binary as the docs show it: every command in `docs/ldap.md`'s shell
//! blocks is run exactly as written (in a directory holding `switchboard.toml` for a real
//! slapd), the global options work before and after the subcommand, and bad LDAP settings
//! stop start-up with the key named.

use crate::common;

use std::{
    net::TcpListener,
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use common::slapd::Slapd;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn docs(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(name),
    )
    .expect("docs file")
}

/// Every `switchboard …` line of the document's ```sh blocks, comments cut off.
fn documented_commands(markdown: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in markdown.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sh = !in_sh && trimmed == "```sh";
            continue;
        }
        let command = trimmed.split(" #").next().unwrap_or("").trim();
        if in_sh && command.starts_with("switchboard ") {
            out.push(command.split_whitespace().map(str::to_owned).collect());
        }
    }
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `switchboard.toml` as in the quick start, pointed at the test slapd.
fn write_config(dir: &Path, slapd: &Slapd, listen: &str, extra: &str) {
    let text = format!(
        r#"listen = "{listen}"

[ldap]
url = "{url}"
start_tls = true
ca_file = "{ca}"
bind_dn = "{bind_dn}"
mode = "read_only"
departments = {{ base_dn = "ou=Stellar,dc=example,dc=com", filter = "(objectClass=organizationalUnit)" }}
staff = {{ base_dn = "ou=Stellar,dc=example,dc=com", filter = "(objectClass=inetOrgPerson)" }}
groups = {{ base_dn = "ou=Groups,dc=example,dc=com", filter = "(objectClass=groupOfNames)" }}
change_attribute = "entryCSN"
{extra}
[ldap.staff_attributes]
custom = {{ employee_no = "employeeNumber" }}
"#,
        url = slapd.url(),
        ca = slapd.get("LDAP_CA"),
        bind_dn = slapd.get("LDAP_BIND_DN"),
    );
    std::fs::write(dir.join("switchboard.toml"), text).expect("config written");
}

fn command(dir: &Path, slapd: &Slapd, args: &[String]) -> Command {
    assert_eq!(args[0], "switchboard");
    let mut command = Command::new(BIN);
    command
        .args(&args[1..])
        .current_dir(dir)
        .env(
            "SWITCHBOARD_LDAP_BIND_PASSWORD",
            slapd.get("LDAP_BIND_PASSWORD"),
        )
        .env("SWITCHBOARD_ADMIN_PASSWORD", common::ADMIN_PASSWORD)
        .env_remove("SWITCHBOARD_DATA_DIR")
        .env_remove("SWITCHBOARD_DATABASE_URL")
        .stdin(Stdio::null());
    command
}

fn run(dir: &Path, slapd: &Slapd, args: &[String]) -> Output {
    command(dir, slapd, args).output().expect("switchboard ran")
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

/// Runs `serve` as written until it answers `/readyz`, then stops it with SIGTERM.
async fn serve_answers(dir: &Path, slapd: &Slapd, args: &[String], listen: &str) {
    let mut child = command(dir, slapd, args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve started");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ready = false;
    while Instant::now() < deadline {
        if let Ok(reply) = client.get(format!("http://{listen}/readyz")).send().await
            && reply.status().is_success()
        {
            ready = true;
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("serve exited with {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("serve stopped");
    assert!(ready, "serve did not answer /readyz within 60 s");
    assert!(status.success(), "serve stopped with {status}");
}

#[tokio::test]
async fn every_ldap_command_the_docs_show_works_as_written() {
    let slapd = Slapd::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    write_config(dir.path(), &slapd, &listen, "");

    let commands = documented_commands(&docs("ldap.md"));
    assert!(
        commands.len() >= 3,
        "docs/ldap.md shows the ldap test, ldap sync and serve commands: {commands:?}"
    );
    for args in &commands {
        match args.get(1).map(String::as_str) {
            Some("ldap") if args.contains(&"test".to_owned()) => {
                let report = json(&run(dir.path(), &slapd, args));
                assert_eq!(report["staff"], 40, "{args:?}: {report}");
                assert_eq!(report["dry_run"]["added"], 40, "{args:?}: {report}");
            }
            Some("ldap") if args.contains(&"sync".to_owned()) => {
                let run = json(&run(dir.path(), &slapd, args));
                assert_eq!(run["status"], "succeeded", "{args:?}: {run}");
            }
            Some("serve") => serve_answers(dir.path(), &slapd, args, &listen).await,
            _ => panic!("a documented command this test does not know: {args:?}"),
        }
    }

    // The global options stand before or after the subcommand alike.
    for line in [
        "switchboard ldap --config switchboard.toml test",
        "switchboard --config switchboard.toml ldap test",
    ] {
        let report = json(&run(dir.path(), &slapd, &words(line)));
        assert_eq!(report["staff"], 40, "{line}: {report}");
        assert_eq!(
            report["dry_run"]["added"], 0,
            "{line}: already synced: {report}"
        );
    }
    let incremental = json(&run(
        dir.path(),
        &slapd,
        &words("switchboard ldap sync --incremental --config switchboard.toml"),
    ));
    assert_eq!(incremental["kind"], "incremental", "{incremental}");
}

#[tokio::test]
async fn the_operations_commands_work_as_documented() {
    let slapd = Slapd::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    write_config(dir.path(), &slapd, &listen, "");
    let operations = docs("operations.md");
    for shown in [
        "switchboard migrate [--config FILE] [--data DIR]",
        "switchboard serve [--config FILE] [--listen ADDR] [--data DIR] [--demo]",
        "switchboard ldap test [--config FILE] [--data DIR]",
        "switchboard ldap sync [--incremental] [--config FILE] [--data DIR]",
    ] {
        assert!(
            operations.contains(shown),
            "docs/operations.md shows `{shown}`"
        );
    }
    let migrate = run(
        dir.path(),
        &slapd,
        &words("switchboard migrate --config switchboard.toml --data elsewhere"),
    );
    assert!(migrate.status.success(), "{migrate:?}");
    assert!(dir.path().join("elsewhere/switchboard.db").exists());
    let listen2 = format!("127.0.0.1:{}", free_port());
    serve_answers(
        dir.path(),
        &slapd,
        &words(&format!(
            "switchboard serve --config switchboard.toml --listen {listen2} --data elsewhere --demo"
        )),
        &listen2,
    )
    .await;
    let test = json(&run(
        dir.path(),
        &slapd,
        &words("switchboard ldap test --config switchboard.toml --data elsewhere"),
    ));
    assert_eq!(test["staff"], 40, "{test}");
    let version = run(dir.path(), &slapd, &words("switchboard --version"));
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[tokio::test]
async fn a_sync_interval_below_the_minimum_stops_start_up() {
    let slapd = Slapd::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    write_config(dir.path(), &slapd, &listen, "sync_interval_secs = 5\n");
    for line in [
        "switchboard serve --config switchboard.toml",
        "switchboard ldap test --config switchboard.toml",
    ] {
        let output = run(dir.path(), &slapd, &words(line));
        assert!(!output.status.success(), "{line} must refuse the setting");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("configuration error: ldap.sync_interval_secs")
                && stderr.contains("at least 30"),
            "{line}: {stderr}"
        );
    }
}

#[tokio::test]
async fn on_a_fresh_database_stdout_carries_only_the_json() {
    // Without SWITCHBOARD_ADMIN_PASSWORD the first start creates the admin with a generated
    // password; that notice goes to the console's stderr, so a script can parse stdout.
    let slapd = Slapd::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    write_config(dir.path(), &slapd, &listen, "");
    let output = command(
        dir.path(),
        &slapd,
        &words("switchboard ldap test --config switchboard.toml"),
    )
    .env_remove("SWITCHBOARD_ADMIN_PASSWORD")
    .output()
    .expect("switchboard ran");
    let report = json(&output);
    assert_eq!(report["staff"], 40, "{report}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Created the admin account"),
        "the generated password is shown once, on stderr: {stderr}"
    );
}
