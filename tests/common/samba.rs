//! A real Active Directory for tests: a Samba AD DC (Debian's `samba`), provisioned once per
//! test process into a template (about 20 s), then copied for each test and started on a
//! loopback address of its own (127.x.y.z: an AD DC's ports are fixed), LDAP only. Stopped on
//! drop. Nothing of the machine's own configuration is touched.

use std::{
    io::Write,
    net::{Ipv4Addr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

pub const REALM: &str = "CORP.EXAMPLE.COM";
pub const BASE: &str = "DC=corp,DC=example,DC=com";
pub const ADMIN_DN: &str = "CN=Administrator,CN=Users,DC=corp,DC=example,DC=com";
/// AD insists on complex passwords.
pub const ADMIN_PASSWORD: &str = "Adm1n-Passw0rd!";

static TEMPLATE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
static ADDRESSES: Mutex<u32> = Mutex::new(0);

fn samba_tool() -> &'static str {
    "samba-tool"
}

/// The provisioned domain every test copies: made once (kept in the target directory and
/// reused by later runs), into a scratch directory renamed into place when complete.
fn template() -> &'static Path {
    let made = TEMPLATE.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("samba-ad-template");
        if root.join("ready").exists() {
            return Ok(root);
        }
        let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("samba-ad-template.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        let output = Command::new(samba_tool())
            .args([
                "domain",
                "provision",
                &format!("--targetdir={}", scratch.display()),
                &format!("--realm={REALM}"),
                "--domain=CORP",
                "--server-role=dc",
                "--dns-backend=NONE",
                "--host-name=dc1",
                &format!("--adminpass={ADMIN_PASSWORD}"),
                "--option=server services = ldap",
            ])
            .output()
            .map_err(|e| format!("samba-tool (install with scripts/install-test-deps): {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "samba-tool domain provision failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        // The copies replace the template's path in smb.conf with their own.
        let conf = scratch.join("etc/smb.conf");
        let text = std::fs::read_to_string(&conf).map_err(|e| e.to_string())?;
        std::fs::write(
            &conf,
            text.replace(&scratch.display().to_string(), TEMPLATE_DIR),
        )
        .map_err(|e| e.to_string())?;
        std::fs::write(scratch.join("ready"), "").map_err(|e| e.to_string())?;
        if std::fs::rename(&scratch, &root).is_err() {
            // Another process made it meanwhile.
            let _ = std::fs::remove_dir_all(&scratch);
        }
        Ok(root)
    });
    match made {
        Ok(path) => path,
        Err(reason) => panic!("{reason}"),
    }
}

/// What a template's smb.conf says instead of its directory.
const TEMPLATE_DIR: &str = "@TEMPLATE_DIR@";

/// A loopback address whose LDAP port is free.
fn free_address() -> Ipv4Addr {
    let mut next = ADDRESSES.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        *next += 1;
        let n = (std::process::id() % 200 + 20) * 65536 + *next;
        let ip = Ipv4Addr::new(127, (n >> 16) as u8, (n >> 8) as u8, (n & 0xff) as u8);
        if n & 0xff == 0 || n & 0xff == 255 {
            continue;
        }
        if TcpListener::bind((ip, 389)).is_ok() && TcpListener::bind((ip, 636)).is_ok() {
            return ip;
        }
    }
}

/// A running Samba AD DC.
pub struct SambaAd {
    pub dir: tempfile::TempDir,
    pub ip: Ipv4Addr,
    child: Child,
}

impl SambaAd {
    pub fn start() -> Self {
        let template = template();
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", template.display()))
            .arg(dir.path())
            .status()
            .expect("cp");
        assert!(status.success(), "copying the Samba template failed");
        let ip = free_address();
        let conf = dir.path().join("etc/smb.conf");
        let text = std::fs::read_to_string(&conf).expect("smb.conf");
        let mut text = text.replace(TEMPLATE_DIR, &dir.path().display().to_string());
        // Only this address, LDAP only, simple binds without TLS (the test's plain ldap://),
        // logs and pid file inside the copy.
        text = text.replacen(
            "[global]",
            &format!(
                "[global]\n\tinterfaces = {ip}/8\n\tbind interfaces only = yes\n\tldap server require strong auth = no\n\tpid directory = {d}/run\n\tlog file = {d}/log.%m\n\tlogging = file\n",
                d = dir.path().display()
            ),
            1,
        );
        std::fs::write(&conf, text).expect("smb.conf written");
        std::fs::create_dir_all(dir.path().join("run")).expect("run dir");
        let child = Command::new("samba")
            .arg("-s")
            .arg(&conf)
            .args(["-i", "-M", "single"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("samba (install with scripts/install-test-deps)");
        let ad = Self { dir, ip, child };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ad.answers() {
            assert!(
                Instant::now() < deadline,
                "Samba AD did not answer on {ip} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        ad
    }

    fn answers(&self) -> bool {
        Command::new("ldapsearch")
            .args([
                "-x",
                "-H",
                &self.url(),
                "-D",
                ADMIN_DN,
                "-w",
                ADMIN_PASSWORD,
            ])
            .args(["-b", BASE, "-s", "base", "dn"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub fn url(&self) -> String {
        format!("ldap://{}", self.ip)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://{}", self.ip)
    }

    /// The CA of the certificate Samba made for itself (named after the DC, not this address).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("private/tls/ca.pem")
    }

    /// Runs an LDAP client tool as the domain administrator over LDAPS (AD takes passwords
    /// only over an encrypted connection), LDIF on stdin.
    pub fn admin_tool(&self, tool: &str, ldif: &str) {
        let mut child = Command::new(tool)
            .args([
                "-x",
                "-H",
                &self.ldaps_url(),
                "-D",
                ADMIN_DN,
                "-w",
                ADMIN_PASSWORD,
            ])
            .env("LDAPTLS_REQCERT", "never")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(ldif.as_bytes())
            .expect("LDIF written");
        let output = child.wait_with_output().expect("tool ran");
        assert!(
            output.status.success(),
            "{tool}: {}\n{ldif}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub fn add(&self, ldif: &str) {
        self.admin_tool("ldapadd", ldif);
    }

    pub fn modify(&self, ldif: &str) {
        self.admin_tool("ldapmodify", ldif);
    }

    /// LDIF lines setting a user's password (`unicodePwd`: the quoted password in UTF-16LE).
    pub fn password_ldif(password: &str) -> String {
        use base64::Engine;
        let quoted: Vec<u8> = format!("\"{password}\"")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        format!(
            "unicodePwd:: {}\n",
            base64::engine::general_purpose::STANDARD.encode(quoted)
        )
    }

    /// One attribute of one entry.
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
                ADMIN_DN,
            ])
            .args([
                "-w",
                ADMIN_PASSWORD,
                "-b",
                dn,
                "-s",
                "base",
                "(objectClass=*)",
                attribute,
            ])
            .output()
            .expect("ldapsearch");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{attribute}: ")).map(str::to_owned))
            .collect()
    }
}

impl Drop for SambaAd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
