//! The OpenAPI document against the real server, by a client no one here wrote: schemathesis
//! (PyPI; scripts/install-test-deps installs the pinned version) reads `/api/openapi.json` of a
//! demo instance, sends what the document allows — which must be accepted — and what it
//! forbids — which must be refused — and checks every answer against the document: status,
//! content type, headers, body schema, and that requests without credentials are refused. It
//! must find nothing. Who the requests act as: tests/schemathesis/hooks.py.
//!
//! `SB_SCHEMATHESIS_EXAMPLES` (default 20 per operation) and `SB_SCHEMATHESIS_SEED` (default
//! fixed, so CI runs are repeatable) widen or vary the search. The few statuses expected
//! beyond schemathesis' defaults, each with its reason: tests/schemathesis/schemathesis.toml.

use crate::common;

use std::{path::Path, time::Instant};

use common::{ADMIN_PASSWORD, Backend, Storage, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schemathesis_finds_nothing() {
    let storage = Storage::new(Backend::Sqlite).await;
    let app = TestApp::start(&storage, true).await;
    let key = app
        .admin(
            Method::POST,
            "/api/v1/admin/im/api-keys",
            Some(json!({"name": "schemathesis"})),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
    let key = key.body["key"].as_str().expect("key").to_owned();

    let examples = std::env::var("SB_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "20".into());
    let seed = std::env::var("SB_SCHEMATHESIS_SEED").unwrap_or_else(|_| "20261129".into());
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    let work = storage.data_dir().join("schemathesis");
    std::fs::create_dir_all(&work).expect("work dir");
    let started = Instant::now();
    let output = tokio::process::Command::new("python3")
        .current_dir(&work)
        .env("PYTHONPATH", &hooks)
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("SB_BASE", &app.base)
        .env("SB_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("SB_API_KEY", &key)
        .env("NO_COLOR", "1")
        .args([
            "-m",
            "schemathesis.cli",
            "--config-file",
            &hooks.join("schemathesis.toml").display().to_string(),
            "run",
            &format!("{}/api/openapi.json", app.base),
            "--checks",
            "all",
            "--max-examples",
            &examples,
            "--seed",
            &seed,
            // One worker: CPython 3.11 before 3.11.9 can fail `ast.parse` run in two threads
            // at once ("AST constructor recursion depth mismatch"), which hypothesis does.
            "--workers",
            "1",
            "--request-timeout",
            "30",
        ])
        .output()
        .await
        .expect("schemathesis runs (scripts/install-test-deps installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .rfind("SUMMARY")
        .map_or(stdout.as_ref(), |at| &stdout[at..]);
    println!(
        "schemathesis: {examples} examples per operation, seed {seed}, {:.0} s\n{summary}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
