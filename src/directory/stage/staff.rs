//! The staff half of a stage: memberships, create, update, enable/disable, delete.

use std::collections::HashSet;

use super::{Stage, audit_json};
use crate::{
    directory::{
        DirectoryError,
        fields::merge,
        input::{MembershipInput, NewStaff, StaffPatch},
        model::{
            DisabledBy, FieldEntity, Membership, RecordSource, Staff, StaffId, StaffStatus,
            optional_text, parse_emails, parse_login, parse_phones, parse_tag, required_text,
        },
        phonetic,
    },
    store::EntityKind,
};
use std::sync::Arc;

impl Stage<'_> {
    fn memberships(&self, inputs: &[MembershipInput]) -> Result<Vec<Membership>, DirectoryError> {
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(inputs.len());
        for input in inputs {
            self.require_department(input.department_id)?;
            if !seen.insert(input.department_id) {
                return Err(DirectoryError::invalid(
                    "departments",
                    format!("department {} is listed twice", input.department_id),
                ));
            }
            out.push(Membership {
                department_id: input.department_id,
                order_key: input.order_key.unwrap_or(0),
                primary: input.primary,
            });
        }
        match out.iter().filter(|m| m.primary).count() {
            0 => {
                if let Some(first) = out.first_mut() {
                    first.primary = true;
                }
            }
            1 => {}
            _ => {
                return Err(DirectoryError::invalid(
                    "departments",
                    "only one department can be primary",
                ));
            }
        }
        out.sort_by_key(|m| !m.primary);
        Ok(out)
    }

    fn check_login_free(&self, login: &str, owner: Option<StaffId>) -> Result<(), DirectoryError> {
        match self.staff_id_by_login(login) {
            Some(holder) if Some(holder) != owner => Err(DirectoryError::Conflict(format!(
                "login '{login}' is already taken"
            ))),
            _ => Ok(()),
        }
    }

    /// Adds a person.
    pub fn create_staff(&mut self, input: NewStaff) -> Result<Arc<Staff>, DirectoryError> {
        let login = parse_login(&input.login)?;
        self.check_login_free(&login, None)?;
        let display_name = required_text("display_name", &input.display_name)?;
        let (pinyin_full, pinyin_initials) = phonetic::spell(&display_name);
        self.fields.validate(FieldEntity::Staff, &input.custom)?;
        let person = Staff {
            id: StaffId::generate(),
            login,
            display_name,
            pinyin_full,
            pinyin_initials,
            title: optional_text("title", &input.title)?,
            emails: parse_emails(&input.emails)?,
            phones: parse_phones(&input.phones)?,
            staff_type: parse_tag("staff_type", &input.staff_type)?,
            status: StaffStatus::Active,
            disabled_by: None,
            custom: merge(&Default::default(), &input.custom),
            source: input.source.unwrap_or(RecordSource::Local),
            ldap: input.ldap,
            memberships: self.memberships(&input.departments)?,
            version: self.version,
        };
        self.record(
            "staff.create",
            EntityKind::Staff,
            person.id.0,
            None,
            audit_json(&person),
        );
        Ok(self.put_staff(person))
    }

    /// Changes a person's fields and/or departments.
    pub fn update_staff(
        &mut self,
        id: StaffId,
        patch: StaffPatch,
    ) -> Result<Arc<Staff>, DirectoryError> {
        let before = self.current_staff(id)?;
        DirectoryError::check_version("staff", id, patch.if_version, before.version)?;
        let mut after = Staff::clone(&before);
        if let Some(login) = &patch.login {
            let login = parse_login(login)?;
            self.check_login_free(&login, Some(id))?;
            after.login = login;
        }
        if let Some(name) = &patch.display_name {
            after.display_name = required_text("display_name", name)?;
            (after.pinyin_full, after.pinyin_initials) = phonetic::spell(&after.display_name);
        }
        if let Some(title) = &patch.title {
            after.title = optional_text("title", title)?;
        }
        if let Some(emails) = &patch.emails {
            after.emails = parse_emails(emails)?;
        }
        if let Some(phones) = &patch.phones {
            after.phones = parse_phones(phones)?;
        }
        if let Some(staff_type) = &patch.staff_type {
            after.staff_type = parse_tag("staff_type", staff_type)?;
        }
        if let Some(custom) = &patch.custom {
            let merged = merge(&before.custom, custom);
            self.fields.validate(FieldEntity::Staff, &merged)?;
            after.custom = merged;
        }
        if let Some(departments) = &patch.departments {
            after.memberships = self.memberships(departments)?;
        }
        if let Some(ldap) = patch.ldap {
            after.ldap = ldap;
        }
        if after == *before {
            return Ok(before);
        }
        after.version = self.version;
        self.record(
            "staff.update",
            EntityKind::Staff,
            id.0,
            audit_json(&before),
            audit_json(&after),
        );
        Ok(self.put_staff(after))
    }

    /// Disables a person (they can no longer log in and leave contact lists) or enables them.
    pub fn set_status(
        &mut self,
        id: StaffId,
        status: StaffStatus,
        by: DisabledBy,
    ) -> Result<Arc<Staff>, DirectoryError> {
        let before = self.current_staff(id)?;
        let mut after = Staff::clone(&before);
        after.status = status;
        after.disabled_by = match status {
            StaffStatus::Active => None,
            StaffStatus::Disabled => Some(by),
        };
        if after == *before {
            return Ok(before);
        }
        after.version = self.version;
        let action = match status {
            StaffStatus::Active => "staff.enable",
            StaffStatus::Disabled => "staff.disable",
        };
        self.record(
            action,
            EntityKind::Staff,
            id.0,
            audit_json(&before),
            audit_json(&after),
        );
        Ok(self.put_staff(after))
    }

    /// Removes a person for good. (LDAP never does this; it disables.)
    pub fn delete_staff(&mut self, id: StaffId) -> Result<(), DirectoryError> {
        let before = self.require_staff(id)?.clone();
        self.touch(EntityKind::Staff, id.0);
        self.logins.insert(before.login.clone(), None);
        self.staff.insert(id, None);
        self.record(
            "staff.delete",
            EntityKind::Staff,
            id.0,
            audit_json(&before),
            None,
        );
        Ok(())
    }
}
