//! Edits of people from LDAP. In `read_only` mode, fields LDAP owns are refused; in
//! `writable` mode an edit is written to LDAP and to the directory in this order:
//!
//! 1. the edit is checked against the directory first (an invalid edit touches neither);
//! 2. LDAP is changed (modify, then modrdn for a move); a refusal stores nothing here, and a
//!    refused move puts back the modify before it;
//! 3. the directory write; if it fails, LDAP is put back as it was before step 2 — and if even
//!    that fails, the error says so: LDAP then holds the edit, and the next sync brings it here.

use std::sync::Arc;

use ldap3::{Ldap, Mod, Scope};

use super::{
    LdapError, connection,
    dn::{first_rdn, normalize_dn, parent_dn},
    service::LdapService,
};
use crate::config::ldap::{LdapConfig, Mode};
use crate::{
    directory::{DirectoryError, LdapRef, RecordSource, Staff, StaffId, StaffPatch},
    store::Actor,
};

/// What step 2 changes in LDAP, and how to undo it.
struct LdapEdit {
    dn: String,
    mods: Vec<Mod<String>>,
    /// Each modified attribute with its values before the edit.
    before: Vec<(String, Vec<String>)>,
    /// The new parent DN, for a move.
    move_to: Option<String>,
    /// Of every LDAP operation of the edit (the settings' `operation_timeout`).
    timeout: std::time::Duration,
}

impl LdapService {
    /// Fields of a person that LDAP owns, among those a patch sets.
    pub fn ldap_owned<'a>(&self, person: &Staff, patch: &'a StaffPatch) -> Vec<&'a str> {
        let Ok(config) = self.config() else {
            return Vec::new();
        };
        if person.source != RecordSource::Ldap || config.mode == Mode::Unsynced {
            return Vec::new();
        }
        patch
            .fields_set()
            .into_iter()
            .filter(|field| match *field {
                "custom" => patch.custom.as_ref().is_some_and(|c| {
                    c.keys()
                        .any(|k| config.staff_attributes.custom.contains_key(k))
                }),
                _ => true,
            })
            .collect()
    }

    /// Stores an edit of a person, writing the fields LDAP owns to LDAP first (see the module
    /// documentation for the order and what happens when a step fails).
    pub async fn update_staff(
        &self,
        actor: &Actor,
        id: StaffId,
        patch: StaffPatch,
    ) -> Result<Arc<Staff>, LdapError> {
        let person = self
            .directory
            .read()
            .staff(id)
            .map(|s| s.as_ref().clone())
            .ok_or_else(|| DirectoryError::not_found("staff", id))?;
        let owned = self.ldap_owned(&person, &patch);
        let Some(ldap_ref) = person.ldap.clone().filter(|_| !owned.is_empty()) else {
            return Ok(self.store(actor, id, patch).await?);
        };
        let config = self.config()?;
        if config.mode == Mode::ReadOnly {
            return Err(LdapError::ReadOnly(format!(
                "{} is managed by LDAP (read-only mode); change it in the directory server",
                owned.join(", ")
            )));
        }
        if patch.login.is_some() {
            return Err(LdapError::ReadOnly(
                "login is managed by LDAP and cannot be changed here".into(),
            ));
        }
        // 1. Would the directory take it? Then LDAP is asked.
        self.directory
            .preview(|stage| stage.update_staff(id, patch.clone()).map(|_| ()))?;
        let mut ldap = connection::service_connection(&config).await?;
        let mut edit = self.plan(&config, &ldap_ref.dn, &patch);
        let outcome = self.write_ldap(&mut ldap, &mut edit).await;
        let new_dn = match outcome {
            Ok(new_dn) => new_dn,
            Err(error) => {
                let _ = ldap.unbind().await;
                return Err(error);
            }
        };
        // 3. The directory write, with the DN the person now has in LDAP.
        let mut patch = patch;
        if let Some(dn) = &new_dn {
            patch.ldap = Some(Some(LdapRef {
                dn: dn.clone(),
                stable_id: ldap_ref.stable_id.clone(),
            }));
        }
        let stored = self.store(actor, id, patch).await;
        let result = match stored {
            Ok(person) => Ok(person),
            Err(error) => {
                tracing::warn!(%error, dn = %ldap_ref.dn, "storing an edit LDAP accepted failed; restoring LDAP");
                Err(match self.undo(&mut ldap, &edit, new_dn.as_deref()).await {
                    Ok(()) => LdapError::Diverged(format!(
                        "the edit was not stored ({error}); LDAP was restored, so nothing changed"
                    )),
                    Err(undo) => {
                        tracing::error!(%undo, dn = %ldap_ref.dn, "restoring LDAP after a failed store failed");
                        LdapError::Diverged(format!(
                            "the edit was written to LDAP but not stored here ({error}), and restoring LDAP failed ({undo}): LDAP keeps the edit, and the next sync brings it here"
                        ))
                    }
                })
            }
        };
        let _ = ldap.unbind().await;
        result
    }

    async fn store(
        &self,
        actor: &Actor,
        id: StaffId,
        patch: StaffPatch,
    ) -> Result<Arc<Staff>, DirectoryError> {
        Ok(self
            .directory
            .write(actor, |stage| stage.update_staff(id, patch))
            .await?
            .0)
    }

    /// The modifications and the move a patch asks of LDAP.
    fn plan(&self, config: &LdapConfig, dn: &str, patch: &StaffPatch) -> LdapEdit {
        let a = &config.staff_attributes;
        let mut mods: Vec<Mod<String>> = Vec::new();
        let replace = |attr: &str, values: Vec<String>| {
            Mod::Replace(
                attr.to_owned(),
                values.into_iter().filter(|v| !v.is_empty()).collect(),
            )
        };
        if let Some(name) = &patch.display_name {
            mods.push(replace(&a.display_name, vec![name.clone()]));
        }
        if let Some(title) = &patch.title {
            mods.push(replace(&a.title, vec![title.clone()]));
        }
        // Lists map to several attributes: all values go to the first, the others are
        // cleared, so that reading back gives exactly the list that was written.
        for (values, attrs) in [(&patch.emails, &a.emails), (&patch.phones, &a.phones)] {
            if let Some(values) = values {
                for (i, attr) in attrs.iter().enumerate() {
                    mods.push(replace(
                        attr,
                        if i == 0 { values.clone() } else { Vec::new() },
                    ));
                }
            }
        }
        if let Some(staff_type) = &patch.staff_type {
            mods.push(replace(&a.staff_type, vec![staff_type.clone()]));
        }
        if let Some(custom) = &patch.custom {
            for (key, value) in custom {
                if let Some(attr) = a.custom.get(key) {
                    let text = value.as_str().map(str::to_owned).unwrap_or_else(|| {
                        if value.is_null() {
                            String::new()
                        } else {
                            value.to_string()
                        }
                    });
                    mods.push(replace(attr, vec![text]));
                }
            }
        }
        let move_to = patch
            .departments
            .as_ref()
            .and_then(|departments| {
                departments
                    .iter()
                    .find(|m| m.primary)
                    .or(departments.first())
            })
            .and_then(|primary| {
                self.directory
                    .read()
                    .department(primary.department_id)
                    .and_then(|d| d.ldap.as_ref().map(|l| l.dn.clone()))
            })
            .filter(|target| parent_dn(dn).map(normalize_dn) != Some(normalize_dn(target)));
        LdapEdit {
            dn: dn.to_owned(),
            mods,
            before: Vec::new(),
            move_to,
            timeout: config.operation_timeout,
        }
    }

    /// Step 2: reads what the edit replaces, then modifies and moves. Returns the new DN
    /// after a move. A refused move puts the modify back.
    async fn write_ldap(
        &self,
        ldap: &mut Ldap,
        edit: &mut LdapEdit,
    ) -> Result<Option<String>, LdapError> {
        if !edit.mods.is_empty() {
            let attrs: Vec<String> = edit
                .mods
                .iter()
                .filter_map(|m| match m {
                    Mod::Replace(attr, _) => Some(attr.clone()),
                    _ => None,
                })
                .collect();
            let timeout = edit.timeout;
            let (entries, _) = ldap
                .with_timeout(timeout)
                .search(&edit.dn, Scope::Base, "(objectClass=*)", attrs.clone())
                .await
                .map_err(|e| LdapError::Unreachable(format!("read {}: {e}", edit.dn)))?
                .success()
                .map_err(|e| LdapError::Refused(format!("read {}: {e}", edit.dn)))?;
            let current = entries
                .into_iter()
                .next()
                .map(ldap3::SearchEntry::construct);
            edit.before = attrs
                .into_iter()
                .map(|attr| {
                    let values = current
                        .as_ref()
                        .and_then(|e| {
                            e.attrs
                                .iter()
                                .find(|(k, _)| k.eq_ignore_ascii_case(&attr))
                                .map(|(_, v)| v.clone())
                        })
                        .unwrap_or_default();
                    (attr, values)
                })
                .collect();
            let result = ldap
                .with_timeout(timeout)
                .modify(&edit.dn, edit.mods.clone())
                .await
                .map_err(|e| LdapError::Unreachable(format!("modify: {e}")))?;
            if result.rc != 0 {
                return Err(LdapError::Refused(format!(
                    "modify {}: {} {}",
                    edit.dn, result.rc, result.text
                )));
            }
        }
        let Some(target) = edit.move_to.clone() else {
            return Ok(None);
        };
        let rdn = first_rdn(&edit.dn).to_owned();
        let moved = ldap
            .with_timeout(edit.timeout)
            .modifydn(&edit.dn, &rdn, true, Some(&target))
            .await
            .map_err(|e| LdapError::Unreachable(format!("modrdn: {e}")));
        let refusal = match moved {
            Ok(result) if result.rc == 0 => return Ok(Some(format!("{rdn},{target}"))),
            Ok(result) => LdapError::Refused(format!(
                "move {} under {target}: {} {}",
                edit.dn, result.rc, result.text
            )),
            Err(error) => error,
        };
        if let Err(undo) = self.undo(ldap, edit, None).await {
            tracing::error!(%undo, dn = %edit.dn, "putting back a modify before a refused move failed");
            return Err(LdapError::Refused(format!(
                "{refusal}; the fields were already written to LDAP and putting them back failed ({undo}): the next sync brings LDAP's values here"
            )));
        }
        Err(refusal)
    }

    /// Puts LDAP back as it was before [`Self::write_ldap`]: moves the entry back from
    /// `moved_to`, then restores the attributes.
    async fn undo(
        &self,
        ldap: &mut Ldap,
        edit: &LdapEdit,
        moved_to: Option<&str>,
    ) -> Result<(), LdapError> {
        if let Some(current) = moved_to
            && let Some(parent) = parent_dn(&edit.dn)
        {
            let result = ldap
                .with_timeout(edit.timeout)
                .modifydn(current, first_rdn(current), true, Some(parent))
                .await
                .map_err(|e| LdapError::Unreachable(format!("modrdn back: {e}")))?;
            if result.rc != 0 {
                return Err(LdapError::Refused(format!(
                    "moving {current} back: {} {}",
                    result.rc, result.text
                )));
            }
        }
        if edit.before.is_empty() {
            return Ok(());
        }
        let restore: Vec<Mod<String>> = edit
            .before
            .iter()
            .map(|(attr, values)| Mod::Replace(attr.clone(), values.iter().cloned().collect()))
            .collect();
        let result = ldap
            .with_timeout(edit.timeout)
            .modify(&edit.dn, restore)
            .await
            .map_err(|e| LdapError::Unreachable(format!("restore: {e}")))?;
        if result.rc != 0 {
            return Err(LdapError::Refused(format!(
                "restoring {}: {} {}",
                edit.dn, result.rc, result.text
            )));
        }
        Ok(())
    }
}
