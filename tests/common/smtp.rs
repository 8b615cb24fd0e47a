//! A real SMTP server for tests: `tests/python/smtp_sink.py` (Python's aiosmtpd) on a loopback
//! port, writing every message it accepts as a JSON file (envelope, decoded headers, text and
//! HTML parts) that the tests read. It can be stopped and started again on the same port (an
//! SMTP server that is down, then back), and can require a login.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

/// How long a test waits for a mail.
pub const WAIT: Duration = Duration::from_secs(60);

pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    auth: Option<String>,
    child: Option<Child>,
}

/// A loopback port nobody listens on (now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl SmtpSink {
    /// A sink on a new port, not started yet (an SMTP server that is down).
    pub fn down() -> Self {
        Self {
            port: free_port(),
            dir: tempfile::tempdir().expect("temp dir"),
            auth: None,
            child: None,
        }
    }

    /// A running sink; with `auth` (`user:password`) it requires that login.
    pub async fn start(auth: Option<&str>) -> Self {
        let mut sink = Self::down();
        sink.auth = auth.map(str::to_owned);
        sink.up().await;
        sink
    }

    /// Starts (again) on the same port.
    pub async fn up(&mut self) {
        assert!(self.child.is_none(), "the sink is running already");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/smtp_sink.py");
        let mut command = Command::new("python3");
        command
            .arg(script)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--reject")
            .arg("rejected")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(auth) = &self.auth {
            command.arg("--auth").arg(auth);
        }
        let mut child = command
            .spawn()
            .expect("python3 with aiosmtpd (scripts/install-test-deps installs it)");
        let stdout = child.stdout.take().expect("stdout");
        let ready = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            line
        });
        let line = tokio::time::timeout(Duration::from_secs(30), ready)
            .await
            .expect("the SMTP sink starts within 30 s")
            .expect("reading its first line");
        assert!(
            line.starts_with("READY"),
            "the SMTP sink did not start (is aiosmtpd installed?): {line:?}"
        );
        self.child = Some(child);
    }

    /// Stops it: connections are refused until `up`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "json"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .filter_map(|text| serde_json::from_str(&text).ok())
            .collect()
    }

    /// The messages matching `filter`.
    pub fn matching(&self, filter: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.messages().into_iter().filter(|m| filter(m)).collect()
    }

    /// Waits until `count` messages match `filter` and returns them.
    pub async fn wait_for(&self, count: usize, filter: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = self.matching(&filter);
            if found.len() >= count {
                return found;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{count} matching mails did not arrive within {WAIT:?}; got {}: {:#?}",
                    found.len(),
                    self.messages()
                        .iter()
                        .map(|m| (&m["rcpt_tos"], &m["subject"]))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a message went to `address`.
pub fn to(message: &Value, address: &str) -> bool {
    message["rcpt_tos"]
        .as_array()
        .is_some_and(|r| r.iter().any(|a| a == address))
}

/// The first link in `text` that contains `part`.
pub fn link(text: &str, part: &str) -> String {
    text.split_whitespace()
        .filter_map(|w| w.find("http").map(|at| &w[at..]))
        .map(|w| w.trim_end_matches(['>', ')', '）']))
        .find(|w| w.contains(part))
        .unwrap_or_else(|| panic!("no link with {part} in:\n{text}"))
        .to_owned()
}

/// One query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> String {
    reqwest::Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}
