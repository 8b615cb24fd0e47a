//! A sync run: work out what was read from LDAP means for the directory, refuse runs that
//! look like an outage, and apply the rest in one transaction.
//!
//! The order matters for safety: every page is read before anything is decided, deletions are
//! a set difference computed only from complete reads (or named by the server), and the
//! directory changes commit atomically — an LDAP server dying mid-read leaves the directory
//! exactly as it was.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::{
    dn::{normalize_dn, parent_dn, rdn_value, rebase},
    mapping::{RecordFailure, RemoteDepartment, RemoteGroup},
    remote::Remote,
    runs::Counts,
};
use crate::config::ldap::{DepartmentFrom, LdapConfig};
use crate::directory::{
    DepartmentId, DepartmentPatch, DisabledBy, LdapRef, MembershipInput, NewDepartment, NewStaff,
    RecordSource, Replica, StaffId, StaffPatch, StaffStatus, Stage,
};

/// Who a full or incremental run would disable (LDAP people no longer in LDAP).
pub fn to_disable(replica: &Replica, remote: &Remote) -> Vec<StaffId> {
    replica
        .all_staff()
        .filter(|s| s.source == RecordSource::Ldap && s.is_active())
        .filter(|s| {
            s.ldap
                .as_ref()
                .is_some_and(|l| remote.has_left(&l.stable_id))
        })
        .map(|s| s.id)
        .collect()
}

/// How many active people came from LDAP.
pub fn active_ldap_staff(replica: &Replica) -> usize {
    replica
        .all_staff()
        .filter(|s| s.source == RecordSource::Ldap && s.is_active())
        .count()
}

/// Why a run must wait for an admin, if it must.
pub fn safety_block(
    config: &LdapConfig,
    replica: &Replica,
    remote: &Remote,
    full: bool,
) -> Option<String> {
    if remote.nobody || (full && remote.present.is_empty()) {
        return Some("the staff search returned nobody; refusing to disable everyone (check the base DN, filter and permissions)".into());
    }
    let active = active_ldap_staff(replica);
    let disabling = to_disable(replica, remote).len();
    if active > 0 && disabling * 100 > active * config.deletion_threshold_percent as usize {
        return Some(format!(
            "this run would disable {disabling} of {active} people from LDAP, more than the threshold of {}%; approve the run to apply it",
            config.deletion_threshold_percent
        ));
    }
    None
}

/// Applies what was read to a stage; per-record problems are collected, not fatal.
pub fn apply(
    stage: &mut Stage<'_>,
    config: &LdapConfig,
    remote: &Remote,
    counts: &mut Counts,
) -> Vec<RecordFailure> {
    let mut failures = Vec::new();
    let mut departments: HashMap<String, DepartmentId> = HashMap::new();
    let mut by_name: HashMap<String, DepartmentId> = HashMap::new();
    // Departments this run did not read (an incremental run) are found by their DN.
    for d in stage
        .base()
        .departments()
        .filter(|d| d.source == RecordSource::Ldap)
    {
        if let Some(ldap) = &d.ldap {
            departments.insert(normalize_dn(&ldap.dn), d.id);
            by_name.insert(d.name.to_lowercase(), d.id);
            by_name.insert(rdn_value(&ldap.dn).to_lowercase(), d.id);
        }
    }

    // Parents before children: fewer RDNs first.
    let mut remote_departments: Vec<&RemoteDepartment> = remote.departments.iter().collect();
    remote_departments.sort_by_key(|d| d.ndn.matches(',').count());
    let mut seen_departments = HashSet::new();
    // Departments whose DN changed in this run: old normalised DN → new DN.
    let mut renamed: HashMap<String, String> = HashMap::new();
    for rd in remote_departments {
        seen_departments.insert(rd.stable_id.clone());
        let parent = rd
            .parent_ndn
            .as_ref()
            .and_then(|p| departments.get(p))
            .copied();
        let ldap = LdapRef {
            dn: rd.dn.clone(),
            stable_id: rd.stable_id.clone(),
        };
        let existing = stage.base().department_by_ldap_id(&rd.stable_id).map(|d| {
            (
                d.id,
                d.parent_id,
                d.name.clone(),
                d.dept_type.clone(),
                d.ldap.clone(),
            )
        });
        let result = match existing {
            Some((id, old_parent, name, dept_type, old_ldap)) => {
                let moved = old_parent != parent;
                let changed = moved
                    || name != rd.name
                    || dept_type != rd.dept_type
                    || old_ldap.as_ref() != Some(&ldap);
                if let Some(old) = old_ldap
                    .as_ref()
                    .filter(|old| normalize_dn(&old.dn) != rd.ndn)
                {
                    renamed.insert(normalize_dn(&old.dn), rd.dn.clone());
                }
                if !changed {
                    Ok(id)
                } else {
                    let patch = DepartmentPatch {
                        name: Some(rd.name.clone()),
                        dept_type: Some(rd.dept_type.clone()),
                        parent_id: moved.then_some(parent),
                        ldap: Some(Some(ldap)),
                        ..Default::default()
                    };
                    stage.update_department(id, patch).map(|d| {
                        counts.departments_updated += 1;
                        counts.departments_moved += usize::from(moved);
                        d.id
                    })
                }
            }
            None => stage
                .create_department(NewDepartment {
                    parent_id: parent,
                    name: rd.name.clone(),
                    dept_type: rd.dept_type.clone(),
                    order_key: None,
                    custom: Default::default(),
                    source: Some(RecordSource::Ldap),
                    ldap: Some(ldap),
                })
                .map(|d| {
                    counts.departments_added += 1;
                    d.id
                }),
        };
        match result {
            Ok(id) => {
                departments.insert(rd.ndn.clone(), id);
                by_name.insert(rd.name.to_lowercase(), id);
                by_name.insert(rdn_value(&rd.dn).to_lowercase(), id);
            }
            Err(e) => failures.push(RecordFailure {
                dn: rd.dn.clone(),
                reason: e.to_string(),
            }),
        }
    }

    if !renamed.is_empty() {
        follow_renames(
            stage,
            remote,
            &renamed,
            &mut departments,
            counts,
            &mut failures,
        );
    }

    for rs in &remote.staff {
        let mut wanted: Vec<DepartmentId> = Vec::new();
        if matches!(
            config.department_from,
            DepartmentFrom::Dn | DepartmentFrom::Both
        ) && let Some(id) = rs.parent_ndn.as_ref().and_then(|p| departments.get(p))
        {
            wanted.push(*id);
        }
        if matches!(
            config.department_from,
            DepartmentFrom::Attribute | DepartmentFrom::Both
        ) {
            for name in &rs.department_names {
                if let Some(id) = by_name.get(&name.to_lowercase())
                    && !wanted.contains(id)
                {
                    wanted.push(*id);
                }
            }
        }
        let ldap = LdapRef {
            dn: rs.dn.clone(),
            stable_id: rs.stable_id.clone(),
        };
        // Keyed on the stable id; a person deleted from LDAP and created again (a new id, the
        // same login) gets their old record back, with its history, instead of a clash.
        let existing = stage
            .base()
            .staff_by_ldap_id(&rs.stable_id)
            .cloned()
            .or_else(|| {
                stage
                    .base()
                    .staff_by_login(&rs.login.to_lowercase())
                    .filter(|s| {
                        s.source == RecordSource::Ldap && s.disabled_by == Some(DisabledBy::Ldap)
                    })
                    .filter(|s| {
                        s.ldap
                            .as_ref()
                            .is_none_or(|l| !remote.present.contains(&l.stable_id))
                    })
                    .cloned()
            });
        let result = match existing {
            Some(person) => {
                // Keep order and primary flags where the department stays.
                let memberships: Vec<MembershipInput> = wanted
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let old = person.memberships.iter().find(|m| m.department_id == *id);
                        MembershipInput {
                            department_id: *id,
                            order_key: old.map(|m| m.order_key),
                            primary: i == 0,
                        }
                    })
                    .collect();
                let moved = person
                    .memberships
                    .iter()
                    .map(|m| m.department_id)
                    .collect::<BTreeSet<_>>()
                    != wanted.iter().copied().collect::<BTreeSet<_>>();
                let patch = StaffPatch {
                    login: Some(rs.login.clone()),
                    display_name: Some(rs.display_name.clone()),
                    title: Some(rs.title.clone()),
                    emails: Some(rs.emails.clone()),
                    phones: Some(rs.phones.clone()),
                    staff_type: Some(rs.staff_type.clone()),
                    custom: (!rs.custom.is_empty()).then(|| rs.custom.clone()),
                    departments: Some(memberships),
                    ldap: Some(Some(ldap)),
                    if_version: None,
                };
                let before_version = person.version;
                stage.update_staff(person.id, patch).and_then(|updated| {
                    if updated.version != before_version {
                        counts.updated += 1;
                        counts.moved += usize::from(moved);
                    }
                    if person.status == StaffStatus::Disabled
                        && person.disabled_by == Some(DisabledBy::Ldap)
                    {
                        stage.set_status(person.id, StaffStatus::Active, DisabledBy::Ldap)?;
                        counts.re_enabled += 1;
                    }
                    Ok(())
                })
            }
            None => stage
                .create_staff(NewStaff {
                    login: rs.login.clone(),
                    display_name: rs.display_name.clone(),
                    title: rs.title.clone(),
                    emails: rs.emails.clone(),
                    phones: rs.phones.clone(),
                    staff_type: rs.staff_type.clone(),
                    custom: rs.custom.clone(),
                    departments: wanted
                        .iter()
                        .enumerate()
                        .map(|(i, id)| MembershipInput {
                            department_id: *id,
                            order_key: None,
                            primary: i == 0,
                        })
                        .collect(),
                    source: Some(RecordSource::Ldap),
                    ldap: Some(ldap),
                })
                .map(|_| counts.added += 1),
        };
        if let Err(e) = result {
            failures.push(RecordFailure {
                dn: rs.dn.clone(),
                reason: e.to_string(),
            });
        }
    }

    for id in to_disable(stage.base(), remote) {
        // Someone adopted above by login now carries an id LDAP still has.
        let adopted = stage
            .staff(id)
            .and_then(|s| s.ldap.as_ref())
            .is_some_and(|l| remote.present.contains(&l.stable_id));
        if !adopted
            && stage
                .set_status(id, StaffStatus::Disabled, DisabledBy::Ldap)
                .is_ok()
        {
            counts.disabled += 1;
        }
    }

    // Departments gone from LDAP are removed once nothing is in them; otherwise kept (and said).
    // Only a run that read every department knows which are gone.
    let gone: Vec<(DepartmentId, String)> = if !remote.full {
        Vec::new()
    } else {
        stage
            .base()
            .departments()
            .filter(|d| d.source == RecordSource::Ldap)
            .filter_map(|d| {
                d.ldap
                    .as_ref()
                    .filter(|l| !seen_departments.contains(&l.stable_id))
                    .map(|l| (d.id, l.dn.clone()))
            })
            .collect()
    };
    for (id, dn) in gone {
        if stage.department(id).is_none() {
            continue;
        }
        if stage.children_of(id).is_empty() && stage.members_of(id).is_empty() {
            if stage.delete_department(id, Default::default()).is_ok() {
                counts.departments_removed += 1;
            }
        } else {
            failures.push(RecordFailure {
                dn,
                reason: "gone from LDAP but still has people or sub-departments; kept".into(),
            });
        }
    }
    counts.failed = failures.len() + remote.failures.len();
    failures
}

/// The stored DN of whatever lies under `dn`'s nearest renamed ancestor, rewritten under its
/// new DN; `None` when no ancestor was renamed.
fn renamed_dn(dn: &str, renamed: &HashMap<String, String>) -> Option<String> {
    let mut ancestor = parent_dn(dn);
    while let Some(current) = ancestor {
        if let Some(new_dn) = renamed.get(&normalize_dn(current)) {
            return rebase(dn, current, new_dn);
        }
        ancestor = parent_dn(current);
    }
    None
}

/// An OU renamed or moved in LDAP changes the DNs of everything under it, but servers do not
/// always say so: Active Directory leaves the children's `uSNChanged` alone, so an incremental
/// run never re-reads them. Their stored DNs follow the department's here, so write-back and
/// the next runs find them.
fn follow_renames(
    stage: &mut Stage<'_>,
    remote: &Remote,
    renamed: &HashMap<String, String>,
    departments: &mut HashMap<String, DepartmentId>,
    counts: &mut Counts,
    failures: &mut Vec<RecordFailure>,
) {
    let read_now: HashSet<&str> = remote
        .departments
        .iter()
        .map(|d| d.stable_id.as_str())
        .chain(remote.staff.iter().map(|s| s.stable_id.as_str()))
        .collect();
    let department_ids: Vec<DepartmentId> = stage
        .base()
        .departments()
        .filter(|d| d.source == RecordSource::Ldap)
        .map(|d| d.id)
        .collect();
    for id in department_ids {
        let Some(ldap) = stage.department(id).and_then(|d| d.ldap.clone()) else {
            continue;
        };
        if read_now.contains(ldap.stable_id.as_str()) {
            continue;
        }
        let Some(dn) = renamed_dn(&ldap.dn, renamed) else {
            continue;
        };
        departments.insert(normalize_dn(&dn), id);
        let patch = DepartmentPatch {
            ldap: Some(Some(LdapRef {
                dn: dn.clone(),
                stable_id: ldap.stable_id,
            })),
            ..Default::default()
        };
        match stage.update_department(id, patch) {
            Ok(_) => counts.departments_updated += 1,
            Err(e) => failures.push(RecordFailure {
                dn,
                reason: e.to_string(),
            }),
        }
    }
    let staff_ids: Vec<StaffId> = stage
        .base()
        .all_staff()
        .filter(|s| s.source == RecordSource::Ldap)
        .map(|s| s.id)
        .collect();
    for id in staff_ids {
        let Some(ldap) = stage.staff(id).and_then(|s| s.ldap.clone()) else {
            continue;
        };
        if read_now.contains(ldap.stable_id.as_str()) {
            continue;
        }
        let Some(dn) = renamed_dn(&ldap.dn, renamed) else {
            continue;
        };
        let patch = StaffPatch {
            ldap: Some(Some(LdapRef {
                dn: dn.clone(),
                stable_id: ldap.stable_id,
            })),
            ..Default::default()
        };
        match stage.update_staff(id, patch) {
            Ok(_) => counts.updated += 1,
            Err(e) => failures.push(RecordFailure {
                dn,
                reason: e.to_string(),
            }),
        }
    }
}

/// Every group's members, with nested groups expanded (cycles are cut, not followed forever).
pub fn group_members(remote: &Remote, replica: &Replica) -> Vec<(String, BTreeSet<StaffId>)> {
    let groups: HashMap<&str, &RemoteGroup> =
        remote.groups.iter().map(|g| (g.ndn.as_str(), g)).collect();
    // A content-sync run read only who changed: everyone else is known by their DN.
    let unchanged: HashMap<String, StaffId> = if remote.content_sync {
        replica
            .all_staff()
            .filter_map(|s| s.ldap.as_ref().map(|l| (normalize_dn(&l.dn), s.id)))
            .collect()
    } else {
        HashMap::new()
    };
    let staff_id = |dn: &str| -> Option<StaffId> {
        match remote.staff_by_dn.get(dn) {
            Some(stable) => replica.staff_by_ldap_id(stable).map(|s| s.id),
            None => unchanged.get(dn).copied(),
        }
    };
    let mut out = Vec::new();
    for group in &remote.groups {
        let mut members = BTreeSet::new();
        let mut visited: HashSet<&str> = HashSet::new();
        let mut stack: Vec<&str> = vec![group.ndn.as_str()];
        while let Some(current) = stack.pop() {
            if !visited.insert(current) {
                continue;
            }
            let Some(g) = groups.get(current) else {
                continue;
            };
            for member in &g.members {
                if groups.contains_key(member.as_str()) {
                    stack.push(member);
                } else if let Some(id) = staff_id(member) {
                    members.insert(id);
                }
            }
        }
        out.push((group.ndn.clone(), members));
    }
    out
}
