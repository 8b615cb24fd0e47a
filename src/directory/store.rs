//! sea-orm storage of the directory tables: loading everything at start and writing the
//! entities a commit touched. Only the directory module uses these tables.

use std::{collections::HashMap, sync::Arc};

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::OnConflict,
};

use super::{
    DirectoryError,
    model::{
        Department, DepartmentId, DisabledBy, FieldDefinition, FieldEntity, FieldType, LdapRef,
        Membership, RecordSource, Staff, StaffId, StaffStatus,
    },
    replica::Change,
};
use crate::store::Version;

pub mod department_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "departments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub parent_id: Option<Uuid>,
        pub name: String,
        pub dept_type: String,
        pub order_key: i64,
        pub custom: Json,
        pub source: String,
        pub ldap_dn: Option<String>,
        pub ldap_id: Option<String>,
        pub version: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod staff_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "staff")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub login: String,
        pub display_name: String,
        pub pinyin_full: String,
        pub pinyin_initials: String,
        pub title: String,
        pub emails: Json,
        pub phones: Json,
        pub staff_type: String,
        pub status: String,
        pub disabled_by: Option<String>,
        pub custom: Json,
        pub source: String,
        pub ldap_dn: Option<String>,
        pub ldap_id: Option<String>,
        pub version: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod membership_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memberships")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub staff_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub department_id: Uuid,
        pub order_key: i64,
        pub is_primary: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod field_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "field_definitions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub entity: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub label: String,
        pub field_type: String,
        pub required: bool,
        pub choices: Json,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// SQLite allows 32766 bound values per statement; stay well under it.
const MAX_BOUND_VALUES: usize = 30_000;

fn corrupt(what: &str, id: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::Conflict(format!("stored {what} {id} is unreadable"))
}

fn ldap_ref(dn: Option<String>, stable_id: Option<String>) -> Option<LdapRef> {
    match (dn, stable_id) {
        (Some(dn), Some(stable_id)) => Some(LdapRef { dn, stable_id }),
        _ => None,
    }
}

const LOAD_PAGE: u64 = 10_000;

fn staff_from_row(
    row: staff_row::Model,
    memberships: &mut HashMap<uuid::Uuid, Vec<Membership>>,
) -> Result<Staff, DirectoryError> {
    let mut person_memberships = memberships.remove(&row.id).unwrap_or_default();
    person_memberships.sort_by_key(|m| (!m.primary, m.order_key));
    Ok(Staff {
        id: StaffId(row.id),
        login: row.login,
        display_name: row.display_name,
        pinyin_full: row.pinyin_full,
        pinyin_initials: row.pinyin_initials,
        title: row.title,
        emails: serde_json::from_value(row.emails).map_err(|_| corrupt("staff", row.id))?,
        phones: serde_json::from_value(row.phones).map_err(|_| corrupt("staff", row.id))?,
        staff_type: row.staff_type,
        status: match row.status.as_str() {
            "active" => StaffStatus::Active,
            "disabled" => StaffStatus::Disabled,
            _ => return Err(corrupt("staff", row.id)),
        },
        disabled_by: match row.disabled_by.as_deref() {
            None => None,
            Some("admin") => Some(DisabledBy::Admin),
            Some("ldap") => Some(DisabledBy::Ldap),
            Some(_) => return Err(corrupt("staff", row.id)),
        },
        custom: serde_json::from_value(row.custom).map_err(|_| corrupt("staff", row.id))?,
        source: RecordSource::parse(&row.source).ok_or_else(|| corrupt("staff", row.id))?,
        ldap: ldap_ref(row.ldap_dn, row.ldap_id),
        memberships: person_memberships,
        version: Version(row.version),
    })
}

/// Reads every department and person, with memberships, for the replica.
pub async fn load_all(
    db: &impl ConnectionTrait,
) -> Result<(Vec<Department>, Vec<Staff>), DirectoryError> {
    let departments = department_row::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            Ok(Department {
                id: DepartmentId(row.id),
                parent_id: row.parent_id.map(DepartmentId),
                name: row.name,
                dept_type: row.dept_type,
                order_key: row.order_key,
                custom: serde_json::from_value(row.custom)
                    .map_err(|_| corrupt("department", row.id))?,
                source: RecordSource::parse(&row.source)
                    .ok_or_else(|| corrupt("department", row.id))?,
                ldap: ldap_ref(row.ldap_dn, row.ldap_id),
                version: Version(row.version),
            })
        })
        .collect::<Result<Vec<_>, DirectoryError>>()?;

    let mut memberships: HashMap<uuid::Uuid, Vec<Membership>> = HashMap::new();
    for row in membership_row::Entity::find().all(db).await? {
        memberships
            .entry(row.staff_id)
            .or_default()
            .push(Membership {
                department_id: DepartmentId(row.department_id),
                order_key: row.order_key,
                primary: row.is_primary,
            });
    }

    // Keyset pages keep only one page of raw rows in memory next to the replica being built.
    let mut staff = Vec::new();
    let mut after: Option<uuid::Uuid> = None;
    loop {
        let mut query = staff_row::Entity::find()
            .order_by_asc(staff_row::Column::Id)
            .limit(LOAD_PAGE);
        if let Some(last) = after {
            query = query.filter(staff_row::Column::Id.gt(last));
        }
        let rows = query.all(db).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id);
        let page_len = rows.len();
        for row in rows {
            staff.push(staff_from_row(row, &mut memberships)?);
        }
        if page_len < LOAD_PAGE as usize {
            break;
        }
    }

    Ok((departments, staff))
}

fn department_active(d: &Department, now: i64) -> department_row::ActiveModel {
    department_row::ActiveModel {
        id: Set(d.id.0),
        parent_id: Set(d.parent_id.map(|p| p.0)),
        name: Set(d.name.clone()),
        dept_type: Set(d.dept_type.clone()),
        order_key: Set(d.order_key),
        custom: Set(serde_json::to_value(&d.custom).unwrap_or_default()),
        source: Set(d.source.as_str().to_owned()),
        ldap_dn: Set(d.ldap.as_ref().map(|l| l.dn.clone())),
        ldap_id: Set(d.ldap.as_ref().map(|l| l.stable_id.clone())),
        version: Set(d.version.0),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

fn staff_active(s: &Staff, now: i64) -> staff_row::ActiveModel {
    staff_row::ActiveModel {
        id: Set(s.id.0),
        login: Set(s.login.clone()),
        display_name: Set(s.display_name.clone()),
        pinyin_full: Set(s.pinyin_full.clone()),
        pinyin_initials: Set(s.pinyin_initials.clone()),
        title: Set(s.title.clone()),
        emails: Set(serde_json::to_value(&s.emails).unwrap_or_default()),
        phones: Set(serde_json::to_value(&s.phones).unwrap_or_default()),
        staff_type: Set(s.staff_type.clone()),
        status: Set(match s.status {
            StaffStatus::Active => "active",
            StaffStatus::Disabled => "disabled",
        }
        .to_owned()),
        disabled_by: Set(s.disabled_by.map(|d| {
            match d {
                DisabledBy::Admin => "admin",
                DisabledBy::Ldap => "ldap",
            }
            .to_owned()
        })),
        custom: Set(serde_json::to_value(&s.custom).unwrap_or_default()),
        source: Set(s.source.as_str().to_owned()),
        ldap_dn: Set(s.ldap.as_ref().map(|l| l.dn.clone())),
        ldap_id: Set(s.ldap.as_ref().map(|l| l.stable_id.clone())),
        version: Set(s.version.0),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Writes the final state of every entity a commit touched.
///
/// Statement order keeps foreign keys valid inside one transaction: departments are upserted
/// parents first, memberships are replaced after staff are written, and removed departments go
/// last, deepest first (the write path has already moved their members and children).
pub async fn persist(
    db: &impl ConnectionTrait,
    changes: &[Change],
    depth_of: impl Fn(DepartmentId) -> usize,
) -> Result<(), DirectoryError> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut dept_upserts: Vec<&Arc<Department>> = Vec::new();
    let mut dept_removes: Vec<(usize, DepartmentId)> = Vec::new();
    let mut staff_upserts: Vec<&Arc<Staff>> = Vec::new();
    let mut staff_removes: Vec<StaffId> = Vec::new();
    let mut membership_rewrites: Vec<(bool, &Arc<Staff>)> = Vec::new();

    for change in changes {
        match change {
            Change::Department { after: Some(d), .. } => dept_upserts.push(d),
            Change::Department {
                before: Some(d),
                after: None,
            } => dept_removes.push((depth_of(d.id), d.id)),
            Change::Staff {
                before,
                after: Some(s),
            } => {
                staff_upserts.push(s);
                if before
                    .as_ref()
                    .is_none_or(|b| b.memberships != s.memberships)
                {
                    membership_rewrites.push((before.is_some(), s));
                }
            }
            Change::Staff {
                before: Some(s),
                after: None,
            } => staff_removes.push(s.id),
            _ => {}
        }
    }

    dept_upserts.sort_by_key(|d| depth_of(d.id));
    for chunk in dept_upserts.chunks(MAX_BOUND_VALUES / 12) {
        upsert_departments(db, chunk.iter().map(|d| department_active(d, now))).await?;
    }
    for chunk in staff_upserts.chunks(MAX_BOUND_VALUES / 18) {
        upsert_staff(db, chunk.iter().map(|s| staff_active(s, now))).await?;
    }

    // New people have no membership rows yet; only existing ones need theirs cleared.
    let rewritten: Vec<uuid::Uuid> = membership_rewrites
        .iter()
        .filter(|(existed, _)| *existed)
        .map(|(_, s)| s.id.0)
        .collect();
    for chunk in rewritten.chunks(MAX_BOUND_VALUES) {
        membership_row::Entity::delete_many()
            .filter(membership_row::Column::StaffId.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    for chunk in membership_rewrites.chunks(MAX_BOUND_VALUES / 16) {
        let rows = chunk.iter().flat_map(|(_, s)| {
            s.memberships.iter().map(|m| membership_row::ActiveModel {
                staff_id: Set(s.id.0),
                department_id: Set(m.department_id.0),
                order_key: Set(m.order_key),
                is_primary: Set(m.primary),
            })
        });
        membership_row::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }

    for chunk in staff_removes.chunks(MAX_BOUND_VALUES) {
        staff_row::Entity::delete_many()
            .filter(staff_row::Column::Id.is_in(chunk.iter().map(|id| id.0)))
            .exec(db)
            .await?;
    }

    dept_removes.sort_by_key(|(depth, _)| std::cmp::Reverse(*depth));
    for (_, id) in dept_removes {
        department_row::Entity::delete_by_id(id.0).exec(db).await?;
    }
    Ok(())
}

async fn upsert_departments(
    db: &impl ConnectionTrait,
    rows: impl Iterator<Item = department_row::ActiveModel>,
) -> Result<(), DirectoryError> {
    use department_row::Column as C;
    {
        department_row::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(C::Id)
                    .update_columns([
                        C::ParentId,
                        C::Name,
                        C::DeptType,
                        C::OrderKey,
                        C::Custom,
                        C::Source,
                        C::LdapDn,
                        C::LdapId,
                        C::Version,
                        C::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

async fn upsert_staff(
    db: &impl ConnectionTrait,
    rows: impl Iterator<Item = staff_row::ActiveModel>,
) -> Result<(), DirectoryError> {
    use staff_row::Column as C;
    {
        staff_row::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(C::Id)
                    .update_columns([
                        C::Login,
                        C::DisplayName,
                        C::PinyinFull,
                        C::PinyinInitials,
                        C::Title,
                        C::Emails,
                        C::Phones,
                        C::StaffType,
                        C::Status,
                        C::DisabledBy,
                        C::Custom,
                        C::Source,
                        C::LdapDn,
                        C::LdapId,
                        C::Version,
                        C::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Reads the custom field definitions.
pub async fn load_fields(
    db: &impl ConnectionTrait,
) -> Result<Vec<FieldDefinition>, DirectoryError> {
    field_row::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            Ok(FieldDefinition {
                entity: FieldEntity::parse(&row.entity)
                    .ok_or_else(|| corrupt("field", &row.key))?,
                field_type: FieldType::parse(&row.field_type)
                    .ok_or_else(|| corrupt("field", &row.key))?,
                choices: serde_json::from_value(row.choices)
                    .map_err(|_| corrupt("field", &row.key))?,
                key: row.key,
                label: row.label,
                required: row.required,
            })
        })
        .collect()
}

/// Inserts or replaces one field definition.
pub async fn save_field(
    db: &impl ConnectionTrait,
    def: &FieldDefinition,
) -> Result<(), DirectoryError> {
    use field_row::Column as C;
    field_row::Entity::insert(field_row::ActiveModel {
        entity: Set(def.entity.as_str().to_owned()),
        key: Set(def.key.clone()),
        label: Set(def.label.clone()),
        field_type: Set(def.field_type.as_str().to_owned()),
        required: Set(def.required),
        choices: Set(serde_json::to_value(&def.choices).unwrap_or_default()),
        created_at: Set(chrono::Utc::now().timestamp_millis()),
    })
    .on_conflict(
        OnConflict::columns([C::Entity, C::Key])
            .update_columns([C::Label, C::FieldType, C::Required, C::Choices])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Deletes one field definition.
pub async fn delete_field(
    db: &impl ConnectionTrait,
    entity: FieldEntity,
    key: &str,
) -> Result<(), DirectoryError> {
    field_row::Entity::delete_by_id((entity.as_str().to_owned(), key.to_owned()))
        .exec(db)
        .await?;
    Ok(())
}
