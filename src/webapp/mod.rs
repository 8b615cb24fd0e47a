//! The employee web client at `/app`: a thin askama shell and the client's embedded files
//! (`web-app/`). Everything the client does goes through the public JSON API and the WebSocket
//! protocol (docs/api.md, docs/protocol.md), exactly as any other client would; this module
//! must never grow an endpoint of its own for the client to use.

mod assets;
mod shell;

use axum::{Router, routing::get};

use crate::state::AppState;

/// `/app` and its assets.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app", get(shell::show))
        .route("/app/", get(shell::show))
        .route("/app/assets/{*name}", get(assets::serve))
}
