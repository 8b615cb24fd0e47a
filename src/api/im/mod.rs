//! Messaging over REST (`/api/v1/im/...`) and the WebSocket endpoint `/ws`: conversation
//! list, history, send, read positions, recall and edit, direct chats, search. Groups, files,
//! administration and the server API have their own files.

pub(crate) mod admin;
pub(crate) mod apps;
pub(crate) mod files;
pub(crate) mod groups;

use crate::api::error::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, TooManyRequests,
    Unauthorized,
};
use axum::{
    Json, Router,
    extract::{State, WebSocketUpgrade},
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, ApiJson, ApiPath, ApiQuery, Caller};
use crate::{
    directory::{DepartmentId, StaffId},
    im::{
        ConversationId, ConversationInfo, Done, Sender, Seq,
        gateway::{self, WsParams},
        protocol::{Ack, ConversationSummary, MessageView, SendFrame},
    },
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ws", get(ws))
        .route("/api/v1/im/conversations", get(conversations))
        .route("/api/v1/im/conversations/{id}", get(conversation))
        .route(
            "/api/v1/im/conversations/{id}/messages",
            get(history).post(send),
        )
        .route(
            "/api/v1/im/conversations/{id}/messages/{seq}",
            axum::routing::put(edit),
        )
        .route(
            "/api/v1/im/conversations/{id}/messages/{seq}/recall",
            post(recall),
        )
        .route("/api/v1/im/conversations/{id}/read", post(read))
        .route("/api/v1/im/conversations/{id}/reads", get(reads))
        .route("/api/v1/im/direct", post(direct))
        .route(
            "/api/v1/im/departments/{id}/conversation",
            get(department_conversation),
        )
        .route("/api/v1/im/search", get(search))
        .merge(groups::router())
        .merge(files::router())
        .merge(admin::router())
        .merge(apps::router())
}

/// The caller as a person (service accounts have no conversations).
pub(crate) fn person(caller: &Caller) -> Result<StaffId, ApiError> {
    caller
        .0
        .staff_id
        .ok_or_else(|| ApiError::Forbidden("this account is not a person in the directory".into()))
}

pub(crate) fn ack(done: Done) -> Result<Json<Ack>, ApiError> {
    match done {
        Done::Ack(ack) => Ok(Json(ack)),
        _ => Err(ApiError::Internal("no ack".into())),
    }
}

/// The WebSocket gateway (protocol: docs/protocol.md). The token goes in `Authorization:
/// Bearer` or `?token=`.
async fn ws(
    State(state): State<AppState>,
    upgrade: WebSocketUpgrade,
    ApiQuery(params): ApiQuery<WsParams>,
    headers: HeaderMap,
) -> Response {
    let header_token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    gateway::upgrade(state.im.clone(), upgrade, params, header_token)
}

/// The caller's conversations, most recent first, with unread counts and mention flags.
#[utoipa::path(get, path = "/api/v1/im/conversations", tag = "messaging", security(("bearer" = [])),
    responses((status = 200, body = Vec<ConversationSummary>), (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn conversations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ConversationSummary>>, ApiError> {
    Ok(Json(state.im.summaries(person(&caller)?).await?))
}

/// One conversation with its members.
#[utoipa::path(get, path = "/api/v1/im/conversations/{id}", tag = "messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "conversation id")),
    responses((status = 200, body = ConversationInfo), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn conversation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<ConversationInfo>, ApiError> {
    Ok(Json(
        state.im.conversation_info(Some(person(&caller)?), id)?,
    ))
}

/// A seq range: `after` (exclusive, ascending) or `before` (exclusive, the newest before it).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    #[param(value_type = Option<i64>, minimum = 0)]
    pub after: Option<Seq>,
    #[param(value_type = Option<i64>, minimum = 0)]
    pub before: Option<Seq>,
    /// Default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// History by seq range, in seq order.
#[utoipa::path(get, path = "/api/v1/im/conversations/{id}/messages", tag = "messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "conversation id"), HistoryQuery),
    responses((status = 200, body = Vec<MessageView>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 422, response = Invalid)))]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<Vec<MessageView>>, ApiError> {
    let staff = person(&caller)?;
    let limit = super::in_range("limit", query.limit, 50, 1, 500)?;
    for (name, seq) in [("after", query.after), ("before", query.before)] {
        super::in_range(name, seq, 0, 0, Seq::MAX)?;
    }
    Ok(Json(
        state
            .im
            .history(staff, id, query.after, query.before, limit)
            .await?,
    ))
}

/// Sends a message (as the WebSocket `send` frame does); answers with its ack once stored.
#[utoipa::path(post, path = "/api/v1/im/conversations/{id}/messages", tag = "messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "conversation id")), request_body = SendFrame,
    responses((status = 200, body = Ack), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid), (status = 429, response = TooManyRequests)))]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(mut frame): ApiJson<SendFrame>,
) -> Result<Json<Ack>, ApiError> {
    let staff = person(&caller)?;
    frame.conversation = Some(id);
    frame.to = None;
    ack(state.im.send_and_wait(Sender::Staff(staff), frame).await?)
}

/// A new text for an edit.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EditBody {
    /// `{"text": "..."}`
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

async fn wait(
    rx: tokio::sync::oneshot::Receiver<Result<Done, crate::im::ImError>>,
) -> Result<Done, ApiError> {
    Ok(rx
        .await
        .map_err(|_| ApiError::Internal("messaging stopped".into()))??)
}

/// Edits one's own text message (within the edit window).
#[utoipa::path(put, path = "/api/v1/im/conversations/{id}/messages/{seq}", tag = "messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("seq" = i64, Path)), request_body = EditBody,
    responses((status = 200, body = Ack), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid), (status = 429, response = TooManyRequests)))]
pub async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, seq)): ApiPath<(ConversationId, Seq)>,
    ApiJson(body): ApiJson<EditBody>,
) -> Result<Json<Ack>, ApiError> {
    let staff = person(&caller)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    state
        .im
        .edit(staff, id, seq, &body.body, crate::im::Reply::Channel(tx))
        .await;
    ack(wait(rx).await?)
}

/// Recalls a message (its sender within the recall window; group owners and admins).
#[utoipa::path(post, path = "/api/v1/im/conversations/{id}/messages/{seq}/recall", tag = "messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ("seq" = i64, Path)),
    responses((status = 200, body = Ack), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict), (status = 429, response = TooManyRequests)))]
pub async fn recall(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, seq)): ApiPath<(ConversationId, Seq)>,
) -> Result<Json<Ack>, ApiError> {
    let staff = person(&caller)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    state
        .im
        .recall(Sender::Staff(staff), id, seq, crate::im::Reply::Channel(tx))
        .await;
    ack(wait(rx).await?)
}

/// A read position.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReadBody {
    pub seq: Seq,
}

/// Marks the conversation read up to `seq`.
#[utoipa::path(post, path = "/api/v1/im/conversations/{id}/read", tag = "messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid)), request_body = ReadBody,
    responses((status = 204), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 413, response = PayloadTooLarge), (status = 422, response = Invalid)))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(body): ApiJson<ReadBody>,
) -> Result<StatusCode, ApiError> {
    state.im.read(person(&caller)?, id, body.seq)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadsQuery {
    pub seq: Seq,
}

/// How many of the other members have read up to `seq`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reads {
    pub read: usize,
    pub members: usize,
}

/// Read receipts: in a direct chat `read` is 1 once the peer has read it; in groups a count.
#[utoipa::path(get, path = "/api/v1/im/conversations/{id}/reads", tag = "messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid), ReadsQuery),
    responses((status = 200, body = Reads), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn reads(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(query): ApiQuery<ReadsQuery>,
) -> Result<Json<Reads>, ApiError> {
    let (read, members) = state.im.read_count(person(&caller)?, id, query.seq)?;
    Ok(Json(Reads { read, members }))
}

/// Someone to chat with.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DirectBody {
    pub staff: StaffId,
}

/// A conversation id.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationRef {
    pub conversation: ConversationId,
}

/// The direct conversation with a colleague (created when allowed).
#[utoipa::path(post, path = "/api/v1/im/direct", tag = "messaging", security(("bearer" = [])),
    request_body = DirectBody,
    responses((status = 200, body = ConversationRef), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 413, response = PayloadTooLarge), (status = 429, response = TooManyRequests)))]
pub async fn direct(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<DirectBody>,
) -> Result<Json<ConversationRef>, ApiError> {
    let me = person(&caller)?;
    let conversation = state
        .im
        .conversation_with(Sender::Staff(me), body.staff)
        .await?;
    Ok(Json(ConversationRef { conversation }))
}

/// The chat of a department the caller belongs to.
#[utoipa::path(get, path = "/api/v1/im/departments/{id}/conversation", tag = "messaging", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "department id")),
    responses((status = 200, body = ConversationRef), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
pub async fn department_conversation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<DepartmentId>,
) -> Result<Json<ConversationRef>, ApiError> {
    let me = person(&caller)?;
    let conversation = state
        .im
        .department_conversation(id)
        .filter(|c| state.im.conversation_info(Some(me), *c).is_ok())
        .ok_or_else(|| ApiError::NotFound("no chat of yours for this department".into()))?;
    Ok(Json(ConversationRef { conversation }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words, or Chinese (any length; single characters too).
    pub q: String,
    /// Only this conversation.
    pub conversation: Option<ConversationId>,
    /// Default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// Messages of the caller's conversations matching `q`, newest first.
#[utoipa::path(get, path = "/api/v1/im/search", tag = "messaging", security(("bearer" = [])),
    params(SearchQuery),
    responses((status = 200, body = Vec<MessageView>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 422, response = Invalid)))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<Vec<MessageView>>, ApiError> {
    let me = person(&caller)?;
    Ok(Json(
        state
            .im
            .search(
                me,
                &query.q,
                query.conversation,
                super::in_range("limit", query.limit, 20, 1, 100)?,
            )
            .await?,
    ))
}
