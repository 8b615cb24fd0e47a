//! Files attached to messages: uploaded over REST into a conversation (streamed to
//! `<data>/im-files/`, never buffered whole, refused past the size limit), then referred to by
//! `file_id` in image, file and voice messages. Only current members of the conversation may
//! download; a recalled message's file is deleted.

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Im, ImError, entities::file, model::ConversationId};
use crate::directory::StaffId;

/// An uploaded file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileInfo {
    pub id: Uuid,
    pub conversation: ConversationId,
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

/// A file name safe to store and to send back in `Content-Disposition`.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(200)
        .collect();
    if cleaned.trim().is_empty() || cleaned == "." || cleaned == ".." {
        "file".into()
    } else {
        cleaned
    }
}

fn clean_type(content_type: Option<&str>) -> String {
    match content_type {
        Some(t)
            if t.len() <= 100
                && t.contains('/')
                && t.chars().all(|c| c.is_ascii_graphic() || c == ' ') =>
        {
            t.to_owned()
        }
        _ => "application/octet-stream".into(),
    }
}

impl Im {
    fn file_path(&self, id: Uuid) -> std::path::PathBuf {
        self.files_dir.join(id.simple().to_string())
    }

    fn check_member(&self, staff: StaffId, conversation: ConversationId) -> Result<(), ImError> {
        let state = self.state();
        let conv = state
            .get(conversation)
            .ok_or_else(|| ImError::NotFound("conversation".into()))?;
        if !conv.members.contains_key(&staff) {
            return Err(ImError::NotMember);
        }
        Ok(())
    }

    /// Stores an upload for a conversation the caller is a member of.
    pub async fn upload(
        &self,
        staff: StaffId,
        conversation: ConversationId,
        name: &str,
        content_type: Option<&str>,
        body: Body,
    ) -> Result<FileInfo, ImError> {
        self.check_member(staff, conversation)?;
        let max = self.settings().max_file_bytes;
        let id = Uuid::now_v7();
        let part = self.files_dir.join(format!("{}.part", id.simple()));
        let mut out = tokio::fs::File::create(&part).await?;
        let mut size: u64 = 0;
        let mut stream = body.into_data_stream();
        let written: Result<(), ImError> = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| ImError::invalid("body", e.to_string()))?;
                size += chunk.len() as u64;
                if size > max {
                    return Err(ImError::TooLarge(format!(
                        "files are limited to {max} bytes"
                    )));
                }
                out.write_all(&chunk).await?;
            }
            out.flush().await?;
            out.sync_all().await?;
            Ok(())
        }
        .await;
        drop(out);
        if let Err(error) = written {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(error);
        }
        if size == 0 {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(ImError::invalid("body", "the file is empty"));
        }
        tokio::fs::rename(&part, self.file_path(id)).await?;
        let info = FileInfo {
            id,
            conversation,
            name: clean_name(name),
            content_type: clean_type(content_type),
            size,
        };
        file::Entity::insert(file::ActiveModel {
            id: Set(id),
            conversation_id: Set(conversation.0),
            uploader_id: Set(Some(staff.0)),
            name: Set(info.name.clone()),
            content_type: Set(info.content_type.clone()),
            size: Set(size as i64),
            created_at: Set(super::model::now_millis()),
            deleted: Set(false),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(info)
    }

    /// Opens a file for a current member of its conversation, as a body stream.
    pub async fn download(&self, staff: StaffId, id: Uuid) -> Result<(FileInfo, Body), ImError> {
        let row = file::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .filter(|r| !r.deleted)
            .ok_or_else(|| ImError::NotFound("file".into()))?;
        let conversation = ConversationId(row.conversation_id);
        // Outsiders learn nothing, not even that the file exists.
        self.check_member(staff, conversation)
            .map_err(|_| ImError::NotFound("file".into()))?;
        let handle = tokio::fs::File::open(self.file_path(id))
            .await
            .map_err(|_| ImError::NotFound("file".into()))?;
        let stream = futures_util::stream::unfold(Some(handle), |state| async move {
            let mut handle = state?;
            let mut buffer = vec![0u8; 64 * 1024];
            match handle.read(&mut buffer).await {
                Ok(0) => None,
                Ok(n) => {
                    buffer.truncate(n);
                    Some((
                        Ok::<Bytes, std::io::Error>(Bytes::from(buffer)),
                        Some(handle),
                    ))
                }
                // End the stream after reporting the error once.
                Err(error) => Some((Err(error), None)),
            }
        });
        let info = FileInfo {
            id,
            conversation,
            name: row.name,
            content_type: row.content_type,
            size: row.size.max(0) as u64,
        };
        Ok((info, Body::from_stream(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_quotes() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\x\\报告 \"v2\".pdf"), "报告 v2.pdf");
        assert_eq!(clean_name(".."), "file");
        assert_eq!(clean_type(Some("image/png")), "image/png");
        assert_eq!(clean_type(Some("evil\r\nx")), "application/octet-stream");
    }
}
