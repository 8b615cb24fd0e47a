//! Alerts to IT: an LDAP sync run that failed, or was blocked and waits for approval, is
//! mailed to everyone holding the `access` admin power who has an address, and to the
//! configured `alert_to` addresses. The connector tells us through its `RunListener` (we never
//! read the `ldap_*` tables); a run that ended while no alert could be queued (a stop right
//! after it, a run failed at start-up for a stopped node) is caught up at the next start from
//! the connector's recent runs. One mail per run and address, ever.

use std::{
    collections::BTreeMap,
    sync::{Arc, Weak},
};

use super::{
    Mail, MailError,
    compose::AlertMail,
    outbox::{MailKind, now_ms},
    service::first_address,
};
use crate::{
    auth::AdminPower,
    directory::StaffId,
    ldap::{LdapService, Run, RunListener},
};

/// Runs older than this at start-up are not alerted any more.
const CATCH_UP_MS: i64 = 24 * 3_600_000;

fn alarming(run: &Run) -> bool {
    matches!(run.status.as_str(), "failed" | "blocked")
}

struct AlertListener {
    mail: Weak<Mail>,
}

impl RunListener for AlertListener {
    fn run_ended(&self, run: &Run) {
        if !alarming(run) {
            return;
        }
        let Some(mail) = self.mail.upgrade() else {
            return;
        };
        let run = run.clone();
        tokio::spawn(async move {
            if let Err(error) = mail.alert(&run).await {
                tracing::warn!(%error, run = %run.id, "LDAP alert not queued");
            }
        });
    }
}

impl Mail {
    /// Alerts IT of LDAP runs that fail or are blocked, from now on and for the last day.
    pub fn watch_ldap(self: &Arc<Self>, ldap: &Arc<LdapService>) {
        ldap.on_run_ended(Arc::new(AlertListener {
            mail: Arc::downgrade(self),
        }));
        let (mail, ldap) = (self.clone(), ldap.clone());
        tokio::spawn(async move {
            let runs = match ldap.runs(20).await {
                Ok(runs) => runs,
                Err(error) => {
                    tracing::warn!(%error, "recent LDAP runs unreadable; no alerts caught up");
                    return;
                }
            };
            let since = now_ms() - CATCH_UP_MS;
            for run in runs
                .iter()
                .filter(|r| alarming(r) && r.finished_at.unwrap_or(r.started_at) >= since)
            {
                if let Err(error) = mail.alert(run).await {
                    tracing::warn!(%error, run = %run.id, "LDAP alert not queued");
                }
            }
        });
    }

    /// Who gets alerts: the address without case → the address and the person (if it is one).
    fn alert_recipients(&self) -> BTreeMap<String, (String, Option<StaffId>)> {
        let mut out = BTreeMap::new();
        {
            let snapshot = self.access.snapshot();
            let replica = self.directory.read();
            for staff in snapshot.staff_roles.keys() {
                if !snapshot.powers(*staff).has(AdminPower::Access) {
                    continue;
                }
                if let Some(address) = replica
                    .staff(*staff)
                    .filter(|s| s.is_active())
                    .and_then(|s| first_address(s))
                {
                    out.insert(address.to_lowercase(), (address, Some(*staff)));
                }
            }
        }
        for address in &self.current().alert_to {
            out.entry(address.to_lowercase())
                .or_insert_with(|| (address.clone(), None));
        }
        out
    }

    /// Queues the alert of one run (nothing for addresses alerted of it before).
    pub(crate) async fn alert(&self, run: &Run) -> Result<usize, MailError> {
        let recipients = self.alert_recipients();
        if recipients.is_empty() {
            tracing::warn!(run = %run.id, status = %run.status, "LDAP alert: nobody to mail (no access admin with an address, no alert_to)");
            return Ok(0);
        }
        let started = chrono::DateTime::from_timestamp_millis(run.started_at)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        let mut queued = 0;
        for (key, (address, staff)) in recipients {
            let lang = match staff {
                Some(staff) => self.language_of(staff).await?,
                None => self.current().language,
            };
            let rendered = AlertMail {
                lang,
                blocked: run.status == "blocked",
                run_id: run.id.to_string(),
                trigger: run.trigger.clone(),
                kind: run.kind.clone(),
                message: run.message.clone(),
                started: started.clone(),
                disabled: run.counts.disabled,
                runs_url: format!("{}/admin", self.base_url()),
            }
            .render()?;
            let id = self
                .queue(
                    &self.db,
                    format!("ldap-alert:{}:{key}", run.id),
                    MailKind::LdapAlert,
                    (&address, staff),
                    rendered,
                    Vec::new(),
                )
                .await?;
            queued += usize::from(id.is_some());
        }
        if queued > 0 {
            tracing::info!(run = %run.id, status = %run.status, queued, "LDAP alert queued");
            self.poke();
        }
        Ok(queued)
    }
}
