//! The digest of unread messages, for people who opted in and have been offline for
//! `digest_after_minutes`. It asks messaging for presence and unread counts through its public
//! functions (`Im::offline_since`, `Im::summaries`) and never reads its tables. A digest goes
//! out when something arrived since the last one, at most one per `digest_after_minutes`; the
//! mail and the person's new digest mark are one transaction.

use std::sync::Arc;

use sea_orm::TransactionTrait;

use super::{
    Mail, MailError,
    compose::{DigestItem, DigestMail, preview},
    outbox::{MailKind, now_ms},
    prefs,
    service::first_address,
    settings::Language,
};
use crate::directory::StaffId;

/// Conversations listed in one digest (the most recently active).
const LISTED: usize = 20;

/// Looks for people to mail every `digest_interval`.
pub(crate) async fn run(mail: Arc<Mail>) {
    let mut every = tokio::time::interval(mail.config.digest_interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        every.tick().await;
        match mail.digest_pass().await {
            Ok(0) => {}
            Ok(queued) => tracing::info!(queued, "digests queued"),
            Err(error) => tracing::warn!(%error, "digest pass failed"),
        }
    }
}

impl Mail {
    /// Queues a digest for everyone due one; returns how many were queued. Runs on its own
    /// every `digest_interval`; tests and tools may call it too.
    pub async fn digest_pass(&self) -> Result<usize, MailError> {
        let settings = self.current();
        if !settings.configured() {
            return Ok(0);
        }
        let after_ms = i64::from(settings.digest_after_minutes) * 60_000;
        let mut queued = 0;
        for pref in prefs::digest_subscribers(&self.db).await? {
            let staff = StaffId(pref.staff_id);
            let now = now_ms();
            let Some(offline_since) = self.im.offline_since(staff) else {
                continue;
            };
            let rested = pref.last_digest_at == 0 || now - pref.last_digest_at >= after_ms;
            if now - offline_since < after_ms || !rested {
                continue;
            }
            let person = {
                let replica = self.directory.read();
                replica
                    .staff(staff)
                    .filter(|s| s.is_active())
                    .and_then(|s| first_address(s).map(|a| (s.display_name.clone(), a)))
            };
            let Some((name, address)) = person else {
                continue;
            };
            let unread: Vec<_> = self
                .im
                .summaries(staff)
                .await?
                .into_iter()
                .filter(|s| s.unread > 0 && !s.muted)
                .collect();
            let newest = unread
                .iter()
                .filter_map(|s| s.last_message.as_ref().map(|m| m.ts))
                .max()
                .unwrap_or(0);
            if unread.is_empty() || newest <= pref.last_digest_at {
                continue;
            }
            let lang = pref
                .language
                .as_deref()
                .and_then(Language::parse)
                .unwrap_or(settings.language);
            let base = self.base_url();
            let unsubscribe_url = super::link(
                &base,
                "/mail/unsubscribe",
                &[
                    ("t", &self.links.unsubscribe_token(staff)),
                    ("lang", lang.as_str()),
                ],
            );
            let rendered = DigestMail {
                lang,
                name,
                total: unread.iter().map(|s| s.unread).sum(),
                more: unread.len().saturating_sub(LISTED),
                items: unread
                    .iter()
                    .take(LISTED)
                    .map(|s| DigestItem {
                        name: s.name.clone(),
                        unread: s.unread,
                        mention: s.mention,
                        preview: s
                            .last_message
                            .as_ref()
                            .filter(|m| !m.recalled)
                            .map(|m| preview(lang, &m.kind, m.body.get()))
                            .unwrap_or_default(),
                    })
                    .collect(),
                app_url: format!("{base}/app"),
                unsubscribe_url: unsubscribe_url.clone(),
            }
            .render()?;
            // RFC 2369 and RFC 8058: mail clients offer (one-click) unsubscribe themselves.
            let headers = vec![
                (
                    "List-Unsubscribe".to_owned(),
                    format!("<{unsubscribe_url}>"),
                ),
                (
                    "List-Unsubscribe-Post".to_owned(),
                    "List-Unsubscribe=One-Click".to_owned(),
                ),
            ];
            let txn = self.db.begin().await?;
            if !prefs::mark_digest(&txn, staff, pref.last_digest_at, now).await? {
                continue;
            }
            let id = self
                .queue(
                    &txn,
                    format!("digest:{staff}:{newest}"),
                    MailKind::Digest,
                    (&address, Some(staff)),
                    rendered,
                    headers,
                )
                .await?;
            txn.commit().await?;
            queued += usize::from(id.is_some());
        }
        if queued > 0 {
            self.poke();
        }
        Ok(queued)
    }
}
