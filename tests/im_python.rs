//! A WebSocket client that no one here wrote — Python's `websockets` package — drives the
//! protocol as docs/protocol.md describes it (tests/python/im_protocol_client.py).

use crate::common;

use common::{ADMIN_PASSWORD, Backend, Storage, TestApp};

on_both_backends!(python_websockets_client_follows_the_documented_protocol,);

async fn python_websockets_client_follows_the_documented_protocol(backend: Backend) {
    let storage = Storage::new(backend).await;
    let app = TestApp::start(&storage, true).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/im_protocol_client.py"
    );
    let base = app.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .arg(&base)
            .arg(ADMIN_PASSWORD)
            .output()
    })
    .await
    .expect("join")
    .expect("python3 runs (scripts/install-test-deps installs the websockets package)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    app.stop().await;
}
