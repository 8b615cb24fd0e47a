//! A real browser for portal tests: Debian's `chromium` driven over WebDriver by `fantoccini`.
//! Each `Browser` starts its own `chromedriver` on a free port, opens one headless Chromium
//! with a 1280x900 window, and kills the driver (and with it the browser) when dropped.

use std::{process::Stdio, time::Duration};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A headless Chromium session.
pub struct Browser {
    pub client: Client,
    driver: std::process::Child,
    /// Chromium's profile, removed on drop.
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium that prefers `lang` (e.g. "en", "zh-CN").
    pub async fn start(lang: &str) -> Self {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists(),
            "{CHROMEDRIVER} is missing: run scripts/install-test-deps (chromium, chromium-driver)"
        );
        let port = free_port();
        let driver = std::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("profile dir");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,900", "--hide-scrollbars", "--force-device-scale-factor=1",
                    format!("--lang={lang}"), format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": { "intl.accept_languages": lang },
            }
        });
        let capabilities = match capabilities {
            serde_json::Value::Object(map) => map,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        // chromedriver needs a moment to listen.
        for _ in 0..100 {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Self {
                        client,
                        driver,
                        _profile: profile,
                    };
                }
                Err(error) => {
                    last_error = error.to_string();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("no WebDriver session: {last_error}");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    /// The text of the element `css` matches. An htmx swap may replace the element between
    /// finding it and reading it ("does not belong to the document"): find it again.
    pub async fn text(&self, css: &str) -> String {
        let mut last = None;
        for _ in 0..50 {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(error) => last = Some(error),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css}: text: {last:?}")
    }

    /// How many elements match `css` now.
    pub async fn find_all_count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|all| all.len())
            .unwrap_or(0)
    }

    /// Fills the login form and submits it.
    pub async fn sign_in(&self, login: &str, password: &str) {
        self.find("#login")
            .await
            .send_keys(login)
            .await
            .expect("login");
        self.find("#password")
            .await
            .send_keys(password)
            .await
            .expect("password");
        self.find("#sign-in").await.click().await.expect("submit");
    }

    /// Waits until the page's path starts with `prefix`.
    /// Waits until the browser is at `prefix`: that path exactly when it has no query (so
    /// "/admin" is not "/admin/login?next=…", which would pass before a sign-in lands), else a
    /// path and query starting with it.
    pub async fn wait_for_path(&self, prefix: &str) {
        for _ in 0..200 {
            let path = self.path().await;
            let at = if prefix.contains('?') {
                path.starts_with(prefix)
            } else {
                path.split('?').next() == Some(prefix)
            };
            if at {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("never reached {prefix}; at {}", self.path().await);
    }

    pub async fn screenshot(&self, path: &std::path::Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(path, png).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Chromium outlives a killed driver: end the processes of this browser's own profile
        // (and no other), found by their command line.
        let profile = self._profile.path().display().to_string();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&profile) {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
            }
        }
    }
}
