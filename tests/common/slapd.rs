//! A real OpenLDAP for tests: `ldap-init/start.sh` in a temporary directory, stopped on drop,
//! plus the LDAP client tools to change it behind Switchboard's back.

use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use switchboard::ldap::RawLdapConfig;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running slapd.
pub struct Slapd {
    pub dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
    stopped: bool,
}

impl Slapd {
    /// Starts slapd loaded with the sample company and any extra LDIF files.
    pub fn start(extra: &[&Path]) -> Self {
        Self::start_with(extra, &[])
    }

    /// [`Self::start`] with more `start.sh` options (e.g. `--no-tls`).
    pub fn start_with(extra: &[&Path], options: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new("bash");
        command
            .arg(repo().join("ldap-init/start.sh"))
            .arg(dir.path())
            .arg("--ldif")
            .arg(repo().join("ldap-init/sample.ldif"));
        for file in extra {
            command.arg("--ldif").arg(file);
        }
        command.args(options);
        let output = command.output().expect("run ldap-init/start.sh");
        assert!(
            output.status.success(),
            "slapd did not start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let env = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self {
            dir,
            env,
            stopped: false,
        }
    }

    pub fn get(&self, key: &str) -> String {
        self.env
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} from start.sh"))
    }

    pub fn url(&self) -> String {
        self.get("LDAP_URL")
    }

    /// Switchboard's `[ldap]` settings for the sample company.
    pub fn config(&self, mode: &str) -> RawLdapConfig {
        let toml = format!(
            r#"
url = "{url}"
bind_dn = "{bind_dn}"
bind_password = "{bind_password}"
mode = "{mode}"
page_size = 7
operation_timeout_secs = 5
connect_timeout_secs = 3
departments = {{ base_dn = "ou=Stellar,dc=example,dc=com", filter = "(objectClass=organizationalUnit)" }}
staff = {{ base_dn = "ou=Stellar,dc=example,dc=com", filter = "(objectClass=inetOrgPerson)" }}
groups = {{ base_dn = "ou=Groups,dc=example,dc=com", filter = "(objectClass=groupOfNames)" }}
[staff_attributes]
custom = {{ employee_no = "employeeNumber" }}
[group_roles]
"cn=it-admins,ou=Groups,dc=example,dc=com" = "IT"
"#,
            url = self.url(),
            bind_dn = self.get("LDAP_BIND_DN"),
            bind_password = self.get("LDAP_BIND_PASSWORD"),
        );
        toml::from_str(&toml).expect("ldap config")
    }

    /// Runs an LDAP client tool as the directory's admin with LDIF on stdin.
    pub fn admin_tool(&self, tool: &str, ldif: &str) {
        let mut child = Command::new(tool)
            .args([
                "-x",
                "-H",
                &self.url(),
                "-D",
                &self.get("LDAP_ADMIN_DN"),
                "-w",
                &self.get("LDAP_ADMIN_PASSWORD"),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ldif.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{tool}: {}\n{ldif}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub fn modify(&self, ldif: &str) {
        self.admin_tool("ldapmodify", ldif);
    }

    pub fn add(&self, ldif: &str) {
        self.admin_tool("ldapadd", ldif);
    }

    pub fn delete(&self, dn: &str) {
        let output = Command::new("ldapdelete")
            .args([
                "-x",
                "-H",
                &self.url(),
                "-D",
                &self.get("LDAP_ADMIN_DN"),
                "-w",
                &self.get("LDAP_ADMIN_PASSWORD"),
                dn,
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "ldapdelete {dn}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// One attribute of one entry, as the service account reads it.
    pub fn read(&self, dn: &str, attribute: &str) -> Vec<String> {
        let output = Command::new("ldapsearch")
            .args([
                "-x",
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-H",
                &self.url(),
                "-D",
                &self.get("LDAP_ADMIN_DN"),
                "-w",
                &self.get("LDAP_ADMIN_PASSWORD"),
                "-b",
                dn,
                "-s",
                "base",
                "(objectClass=*)",
                attribute,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{attribute}: ")).map(str::to_owned))
            .collect()
    }

    /// Stops slapd (SIGTERM, then SIGKILL).
    pub fn stop(&mut self) {
        if !self.stopped {
            let _ = Command::new("bash")
                .arg(repo().join("ldap-init/stop.sh"))
                .arg(self.dir.path())
                .output();
            self.stopped = true;
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
