//! sea-orm storage of the access tables. Only the access module uses them.

use std::collections::BTreeSet;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::OnConflict,
};

use super::{
    AccessError,
    model::{Assignment, Effect, Object, Role, RoleId, Rule, RuleId, Subject},
    policy::Policy,
};
use crate::{auth::Powers, directory::StaffId};

pub mod role_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub description: String,
        /// All powers (also for roles stored before powers were split).
        pub is_admin: bool,
        /// Some powers, comma-separated (`directory`, `access`), when not all.
        pub admin_powers: Option<String>,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod rule_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "access_rules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub role_id: Option<Uuid>,
        pub effect: String,
        pub object: String,
        pub exempt_roles: Json,
        pub description: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod assignment_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "role_assignments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject_kind: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod member_row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "group_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_dn: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub staff_id: Uuid,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn corrupt(what: &str, id: impl std::fmt::Display) -> AccessError {
    AccessError::Conflict(format!("stored {what} {id} is unreadable"))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Reads the whole policy.
pub async fn load(db: &impl ConnectionTrait) -> Result<Policy, AccessError> {
    let mut policy = Policy::default();
    for row in role_row::Entity::find().all(db).await? {
        policy.roles.insert(
            RoleId(row.id),
            Role {
                id: RoleId(row.id),
                name: row.name,
                description: row.description,
                powers: if row.is_admin {
                    Powers::ALL
                } else {
                    Powers::from_text(row.admin_powers.as_deref().unwrap_or(""))
                },
            },
        );
    }
    for row in rule_row::Entity::find().all(db).await? {
        let rule = Rule {
            id: RuleId(row.id),
            role_id: row.role_id.map(RoleId),
            effect: Effect::parse(&row.effect).ok_or_else(|| corrupt("rule", row.id))?,
            object: Object::parse(&row.object).map_err(|_| corrupt("rule", row.id))?,
            exempt_roles: serde_json::from_value::<Vec<uuid::Uuid>>(row.exempt_roles)
                .map_err(|_| corrupt("rule", row.id))?
                .into_iter()
                .map(RoleId)
                .collect(),
            description: row.description,
        };
        policy.rules.insert(rule.id, rule);
    }
    for row in assignment_row::Entity::find().all(db).await? {
        std::sync::Arc::make_mut(&mut policy.assignments).insert(Assignment {
            role_id: RoleId(row.role_id),
            subject: Subject::parse(&row.subject_kind, &row.subject)
                .map_err(|_| corrupt("assignment", &row.subject))?,
        });
    }
    for row in member_row::Entity::find().all(db).await? {
        std::sync::Arc::make_mut(&mut policy.group_members)
            .entry(row.group_dn)
            .or_default()
            .insert(StaffId(row.staff_id));
    }
    Ok(policy)
}

pub async fn save_role(db: &impl ConnectionTrait, role: &Role) -> Result<(), AccessError> {
    use role_row::Column as C;
    role_row::Entity::insert(role_row::ActiveModel {
        id: Set(role.id.0),
        name: Set(role.name.clone()),
        description: Set(role.description.clone()),
        is_admin: Set(role.powers.is_all()),
        admin_powers: Set(
            (role.powers.any() && !role.powers.is_all()).then(|| role.powers.to_text())
        ),
        created_at: Set(now()),
    })
    .on_conflict(
        OnConflict::column(C::Id)
            .update_columns([C::Name, C::Description, C::IsAdmin, C::AdminPowers])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn delete_role(db: &impl ConnectionTrait, id: RoleId) -> Result<(), AccessError> {
    role_row::Entity::delete_by_id(id.0).exec(db).await?;
    Ok(())
}

pub async fn save_rule(db: &impl ConnectionTrait, rule: &Rule) -> Result<(), AccessError> {
    use rule_row::Column as C;
    let exempt: Vec<uuid::Uuid> = rule.exempt_roles.iter().map(|r| r.0).collect();
    rule_row::Entity::insert(rule_row::ActiveModel {
        id: Set(rule.id.0),
        role_id: Set(rule.role_id.map(|r| r.0)),
        effect: Set(rule.effect.as_str().to_owned()),
        object: Set(rule.object.to_string()),
        exempt_roles: Set(serde_json::to_value(exempt).unwrap_or_default()),
        description: Set(rule.description.clone()),
        created_at: Set(now()),
    })
    .on_conflict(
        OnConflict::column(C::Id)
            .update_columns([
                C::RoleId,
                C::Effect,
                C::Object,
                C::ExemptRoles,
                C::Description,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn delete_rule(db: &impl ConnectionTrait, id: RuleId) -> Result<(), AccessError> {
    rule_row::Entity::delete_by_id(id.0).exec(db).await?;
    Ok(())
}

pub async fn add_assignments(
    db: &impl ConnectionTrait,
    assignments: &[Assignment],
) -> Result<(), AccessError> {
    for chunk in assignments.chunks(5_000) {
        assignment_row::Entity::insert_many(chunk.iter().map(|a| assignment_row::ActiveModel {
            role_id: Set(a.role_id.0),
            subject_kind: Set(a.subject.kind().to_owned()),
            subject: Set(a.subject.value()),
            created_at: Set(now()),
        }))
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

pub async fn remove_assignment(
    db: &impl ConnectionTrait,
    assignment: &Assignment,
) -> Result<(), AccessError> {
    assignment_row::Entity::delete_many()
        .filter(assignment_row::Column::RoleId.eq(assignment.role_id.0))
        .filter(assignment_row::Column::SubjectKind.eq(assignment.subject.kind()))
        .filter(assignment_row::Column::Subject.eq(assignment.subject.value()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn remove_role_assignments(
    db: &impl ConnectionTrait,
    role: RoleId,
) -> Result<(), AccessError> {
    assignment_row::Entity::delete_many()
        .filter(assignment_row::Column::RoleId.eq(role.0))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn replace_group_members(
    db: &impl ConnectionTrait,
    group: &str,
    members: &BTreeSet<StaffId>,
) -> Result<(), AccessError> {
    member_row::Entity::delete_many()
        .filter(member_row::Column::GroupDn.eq(group))
        .exec(db)
        .await?;
    let rows: Vec<_> = members.iter().collect();
    for chunk in rows.chunks(5_000) {
        member_row::Entity::insert_many(chunk.iter().map(|s| member_row::ActiveModel {
            group_dn: Set(group.to_owned()),
            staff_id: Set(s.0),
        }))
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}
