//! `ldap test`: connect, bind, count, map a sample, and work out what a full sync would do
//! now by the very decisions a run makes (fields it would define, entries, groups, roles), so
//! the dry run's counts are the next full run's counts.

use serde::Serialize;
use utoipa::ToSchema;

use crate::config::ldap::LdapConfig;

use super::{
    LdapError, connection, groups, job, mapping::RecordFailure, remote, runs::Counts,
    service::LdapService, sync,
};

/// What `POST /api/v1/admin/ldap/test` reports.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestReport {
    pub connected: bool,
    pub bound: bool,
    /// The server offers paged results (RFC 2696).
    pub paging: bool,
    pub departments: usize,
    pub staff: usize,
    pub groups: usize,
    /// One person as Switchboard would store them.
    #[schema(value_type = Option<Object>)]
    pub sample: Option<serde_json::Value>,
    /// What a full sync would change now (nothing is applied).
    pub dry_run: Counts,
    /// Why a sync now would wait for approval, if it would.
    pub blocked: Option<String>,
    /// Entries a sync would skip, and `group_roles` it could not apply (first 50).
    pub failures: Vec<RecordFailure>,
}

impl LdapService {
    /// Connects, binds, counts, maps one sample and works out what a full sync would do, with
    /// the settings in force.
    pub async fn test(&self) -> Result<TestReport, LdapError> {
        let config = self.reload().await?;
        self.test_with(&config).await
    }

    /// [`Self::test`] with settings not saved yet (the portal's "Test connection" tests what
    /// is typed in the form).
    pub async fn test_with(&self, config: &LdapConfig) -> Result<TestReport, LdapError> {
        let mut ldap = connection::service_connection(config).await?;
        let paging = connection::server_features(&mut ldap, config.operation_timeout)
            .await?
            .paging;
        let _ = ldap.unbind().await;
        let remote = remote::read(config, None, None).await?;
        let sample = remote.staff.first().map(|s| {
            serde_json::json!({
                "dn": s.dn, "stable_id": s.stable_id, "login": s.login, "display_name": s.display_name,
                "title": s.title, "emails": s.emails, "phones": s.phones, "staff_type": s.staff_type,
                "custom": s.custom,
            })
        });
        let mut dry_run = Counts {
            read: remote.read,
            content_sync: remote.content_sync,
            ..Default::default()
        };
        let (blocked, mut failures) = {
            let replica = self.directory.read();
            (
                sync::safety_block(config, &replica, &remote, true),
                remote.failures.clone(),
            )
        };
        // A run defines the mapped custom fields before it applies anything; so does this.
        failures.extend(
            self.directory
                .preview_with_fields(job::missing_fields(self, config), |stage| {
                    sync::apply(stage, config, &remote, &mut dry_run)
                }),
        );
        let plan = {
            let replica = self.directory.read();
            groups::plan(config, &remote, &replica, &self.access.snapshot().policy)
        };
        dry_run.groups = plan.groups;
        failures.extend(plan.failures);
        dry_run.failed = failures.len();
        failures.truncate(50);
        Ok(TestReport {
            connected: true,
            bound: true,
            paging,
            departments: remote.departments.len(),
            staff: remote.staff.len(),
            groups: remote.groups.len(),
            sample,
            dry_run,
            blocked,
            failures,
        })
    }
}
