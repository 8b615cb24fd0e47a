//! The demo company (`serve --demo`): about 300 people in 32 departments, four levels deep,
//! with Chinese and English names, several department and staff types, custom fields and
//! local accounts, so that a newcomer can log in and click around at once. Seeded only into an
//! empty directory, through the ordinary write path (audited with source `demo`).

pub mod names;

use std::collections::{BTreeSet, HashMap};

use crate::{
    access::{
        Access, AccessError, Assignment, Effect, MaskedField, Object, PolicyChange, Role, RoleId,
        Rule, RuleId, Subject,
    },
    auth::{Auth, password},
    directory::{
        DepartmentId, Directory, DirectoryError, FieldDefinition, FieldEntity, FieldType,
        MembershipInput, NewDepartment, NewStaff, StaffId, Stage,
    },
    store::{Actor, Source},
};

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
}

/// The password of every demo employee.
pub const DEMO_PASSWORD: &str = "demo1234";

/// (key, parent key, name, dept_type, head count)
const DEPARTMENTS: &[(&str, &str, &str, &str, usize)] = &[
    ("root", "", "星辰科技 Stellar Tech", "company", 0),
    ("exec", "root", "总裁办 Executive Office", "executive", 6),
    ("rd", "root", "研发中心 R&D Center", "business", 4),
    ("backend", "rd", "后端组 Backend", "team", 34),
    ("frontend", "rd", "前端组 Frontend", "team", 22),
    ("mobile", "rd", "移动组 Mobile", "team", 14),
    ("qa", "rd", "测试组 QA", "team", 12),
    ("infra", "rd", "基础架构 Infrastructure", "team", 4),
    ("dba", "infra", "数据库组 Databases", "team", 6),
    ("sre", "infra", "运维组 SRE", "team", 9),
    ("product", "root", "产品部 Product", "business", 6),
    ("design", "product", "设计组 Design", "team", 9),
    ("research", "product", "用户研究 User Research", "team", 5),
    ("sales", "root", "销售部 Sales", "business", 4),
    ("north", "sales", "华北区 North China", "region", 18),
    ("east", "sales", "华东区 East China", "region", 4),
    ("shanghai", "east", "上海团队 Shanghai", "team", 12),
    ("hangzhou", "east", "杭州团队 Hangzhou", "team", 9),
    ("south", "sales", "华南区 South China", "region", 13),
    ("intl", "sales", "海外销售 International", "region", 12),
    ("marketing", "root", "市场部 Marketing", "business", 4),
    ("brand", "marketing", "品牌组 Brand", "team", 8),
    ("growth", "marketing", "增长组 Growth", "team", 8),
    ("hr", "root", "人力资源部 Human Resources", "support", 5),
    ("recruiting", "hr", "招聘组 Recruiting", "team", 6),
    ("comp", "hr", "薪酬组 Compensation", "team", 4),
    ("finance", "root", "财务部 Finance", "support", 5),
    ("accounting", "finance", "会计组 Accounting", "team", 6),
    ("admin", "root", "行政部 Administration", "support", 7),
    ("legal", "root", "法务部 Legal", "support", 5),
    ("cs", "root", "客户成功部 Customer Success", "business", 6),
    ("support", "cs", "技术支持 Support", "team", 20),
];

fn title_for(dept: &str, index: usize) -> &'static str {
    match (dept, index) {
        ("exec", 0) => "首席执行官 CEO",
        ("exec", 1) => "首席技术官 CTO",
        ("exec", 2) => "首席财务官 CFO",
        ("exec", _) => "执行助理 Executive Assistant",
        (_, 0) => "负责人 Head",
        ("backend" | "frontend" | "mobile" | "dba" | "sre" | "infra" | "rd", _) => {
            "工程师 Engineer"
        }
        ("qa", _) => "测试工程师 QA Engineer",
        ("design", _) => "设计师 Designer",
        ("north" | "east" | "shanghai" | "hangzhou" | "south" | "intl" | "sales", _) => {
            "客户经理 Account Manager"
        }
        ("support" | "cs", _) => "技术支持 Support Engineer",
        ("recruiting" | "comp" | "hr", _) => "人事专员 HR Specialist",
        ("accounting" | "finance", _) => "会计 Accountant",
        _ => "专员 Specialist",
    }
}

/// Seeds the demo company if the directory is empty. Returns whether it seeded.
pub async fn seed_if_empty(
    directory: &Directory,
    auth: &Auth,
    access: &Access,
) -> Result<bool, DemoError> {
    {
        let replica = directory.read();
        if replica.staff_count() > 0 || replica.department_count() > 0 {
            tracing::info!("directory is not empty: demo company not seeded");
            return Ok(false);
        }
    }
    let actor = Actor::new("demo", Source::Demo);
    for def in field_definitions() {
        directory.define_field(&actor, def).await?;
    }
    let (ids, _) = directory.write(&actor, build_company).await?;

    // One hash shared by every demo account: hashing 300 passwords one by one would make the
    // first start take seconds, and they all share the published demo password anyway.
    let hash = password::hash(DEMO_PASSWORD).await?;
    let replica_staff: Vec<StaffId> = directory.read().all_staff().map(|s| s.id).collect();
    auth.create_staff_accounts(&actor, &replica_staff, &hash)
        .await?;
    access.apply(&actor, demo_policy(directory, &ids)).await?;
    tracing::info!(staff = replica_staff.len(), "demo company seeded");
    let login = |id: Option<StaffId>| {
        id.and_then(|id| directory.read().staff(id).map(|s| s.login.clone()))
            .unwrap_or_default()
    };
    // On the console, like the admin password: who to sign in as to try each part.
    println!(
        "\n  Demo company seeded. Sign in at /admin with password {DEMO_PASSWORD} as:\n  \
         HR admin:       {}\n  IT admin:       {}\n  all powers:     {}\n  \
         employee (no admin rights): {}\n",
        login(ids.hr_head),
        login(ids.it_head),
        login(ids.cto),
        login(ids.employee),
    );
    Ok(true)
}

fn field_definitions() -> Vec<FieldDefinition> {
    vec![
        FieldDefinition {
            entity: FieldEntity::Staff,
            key: "employee_no".into(),
            label: "工号 Employee number".into(),
            field_type: FieldType::Text,
            required: false,
            choices: vec![],
        },
        FieldDefinition {
            entity: FieldEntity::Staff,
            key: "office".into(),
            label: "办公地点 Office".into(),
            field_type: FieldType::Choice,
            required: false,
            choices: vec![
                "北京 Beijing".into(),
                "上海 Shanghai".into(),
                "深圳 Shenzhen".into(),
                "远程 Remote".into(),
            ],
        },
        FieldDefinition {
            entity: FieldEntity::Department,
            key: "cost_center".into(),
            label: "成本中心 Cost center".into(),
            field_type: FieldType::Text,
            required: false,
            choices: vec![],
        },
    ]
}

/// Ids the demo policy refers to.
pub struct DemoIds {
    pub departments: HashMap<&'static str, DepartmentId>,
    /// The HR admin (directory power only): the head of Human Resources.
    pub hr_head: Option<StaffId>,
    /// The IT admin (access power only): the head of Infrastructure.
    pub it_head: Option<StaffId>,
    /// The administrator with every power: the CTO.
    pub cto: Option<StaffId>,
    /// An employee without admin rights, for trying the "no access" side.
    pub employee: Option<StaffId>,
}

/// Builds the company in one stage.
fn build_company(stage: &mut Stage<'_>) -> Result<DemoIds, DirectoryError> {
    let mut ids = HashMap::new();
    let mut people = names::People::new(20261125, "stellar.example.com");
    let (mut hr_head, mut it_head, mut cto, mut employee) = (None, None, None, None);
    let mut employee_no = 1000;
    let offices = [
        "北京 Beijing",
        "上海 Shanghai",
        "深圳 Shenzhen",
        "远程 Remote",
    ];

    for (index, (key, parent, name, dept_type, _)) in DEPARTMENTS.iter().enumerate() {
        let department = stage.create_department(NewDepartment {
            parent_id: ids.get(parent).copied(),
            name: (*name).into(),
            dept_type: (*dept_type).into(),
            order_key: Some(index as i64),
            custom: [(
                "cost_center".to_owned(),
                serde_json::json!(format!("CC-{:03}", index + 100)),
            )]
            .into(),
            source: None,
            ldap: None,
        })?;
        ids.insert(*key, department.id);
    }

    for (key, _, _, _, head_count) in DEPARTMENTS {
        for index in 0..*head_count {
            let english = *key == "intl" || people.pick(7) == 0;
            let person = people.next(english);
            let staff_type = match (*key, index) {
                ("exec", 0..=2) => "executive",
                (_, i) if i > 3 && people.pick(12) == 0 => "intern",
                (_, i) if i > 3 && people.pick(10) == 0 => "contractor",
                _ => "employee",
            };
            let mut departments = vec![MembershipInput {
                department_id: ids[key],
                order_key: Some(index as i64),
                primary: true,
            }];
            // A few people also work in a second department (matrix organisation).
            if *key == "qa" && index < 3 {
                departments.push(MembershipInput {
                    department_id: ids["backend"],
                    order_key: Some(100 + index as i64),
                    primary: false,
                });
            }
            if *key == "design" && index < 2 {
                departments.push(MembershipInput {
                    department_id: ids["frontend"],
                    order_key: Some(100 + index as i64),
                    primary: false,
                });
            }
            employee_no += 1;
            let office = offices[people.pick(offices.len())];
            let created = stage.create_staff(NewStaff {
                login: person.login,
                display_name: person.display_name,
                title: title_for(key, index).into(),
                emails: vec![person.email],
                phones: vec![person.phone],
                staff_type: staff_type.into(),
                custom: [
                    (
                        "employee_no".to_owned(),
                        serde_json::json!(format!("E{employee_no}")),
                    ),
                    ("office".to_owned(), serde_json::json!(office)),
                ]
                .into(),
                departments,
                source: None,
                ldap: None,
            })?;
            match (*key, index) {
                ("hr", 0) => hr_head = Some(created.id),
                ("infra", 0) => it_head = Some(created.id),
                ("exec", 1) => cto = Some(created.id),
                ("backend", 1) => employee = Some(created.id),
                _ => {}
            }
        }
    }
    Ok(DemoIds {
        departments: ids,
        hr_head,
        it_head,
        cto,
        employee,
    })
}

fn role(name: &str, description: &str, powers: crate::auth::Powers) -> Role {
    Role {
        id: RoleId(uuid::Uuid::now_v7()),
        name: name.into(),
        description: description.into(),
        powers,
    }
}

fn rule(
    role: Option<&Role>,
    effect: Effect,
    object: Object,
    exempt: &[&Role],
    description: &str,
) -> PolicyChange {
    PolicyChange::PutRule(Rule {
        id: RuleId(uuid::Uuid::now_v7()),
        role_id: role.map(|r| r.id),
        effect,
        object,
        exempt_roles: exempt.iter().map(|r| r.id).collect(),
        description: description.into(),
    })
}

/// Roles and rules that make contact lists differ: employees see the company but not the
/// executives and not phone numbers; interns see their own part of the tree and the support
/// departments; contractors only their own department; HR and executives see everything.
/// Three people administer: the head of HR (HR admin: the directory), the head of
/// Infrastructure (IT admin: access and integrations) and the CTO (every power).
fn demo_policy(directory: &Directory, ids: &DemoIds) -> Vec<PolicyChange> {
    use crate::auth::{AdminPower, Powers};
    let employee = role("员工 Employee", "Everyone on the payroll", Powers::NONE);
    let intern = role("实习生 Intern", "Interns", Powers::NONE);
    let contractor = role("外包 Contractor", "Contractors", Powers::NONE);
    let hr = role("人事 HR", "Human resources", Powers::NONE);
    let executive = role("高管 Executive", "Executives", Powers::NONE);
    let admin = role(
        "管理员 Administrator",
        "Every admin power: the portal and API, HR's and IT's parts",
        Powers::ALL,
    );
    let hr_admin = role(
        "人事管理员 HR admin",
        "Edits the org chart and staff (the directory power)",
        Powers::from_list([AdminPower::Directory]),
    );
    let it_admin = role(
        "IT 管理员 IT admin",
        "Roles, visibility rules, LDAP and messaging (the access power)",
        Powers::from_list([AdminPower::Access]),
    );
    let mut changes: Vec<PolicyChange> = [
        &employee,
        &intern,
        &contractor,
        &hr,
        &executive,
        &admin,
        &hr_admin,
        &it_admin,
    ]
    .iter()
    .map(|r| PolicyChange::PutRole((*r).clone()))
    .collect();

    for dept_type in ["company", "business", "team", "region", "support"] {
        changes.push(rule(
            Some(&employee),
            Effect::Allow,
            Object::DeptType(dept_type.into()),
            &[],
            "the company",
        ));
    }
    changes.push(rule(
        Some(&employee),
        Effect::Mask,
        Object::Field(MaskedField::Phones),
        &[],
        "no phone numbers",
    ));
    changes.push(rule(
        Some(&intern),
        Effect::Allow,
        Object::OwnSubtree,
        &[],
        "own part of the tree",
    ));
    changes.push(rule(
        Some(&intern),
        Effect::Allow,
        Object::DeptType("support".into()),
        &[],
        "who to ask",
    ));
    changes.push(rule(
        Some(&intern),
        Effect::Mask,
        Object::Field(MaskedField::Phones),
        &[],
        "no phone numbers",
    ));
    changes.push(rule(
        Some(&contractor),
        Effect::Allow,
        Object::OwnDepartment,
        &[],
        "own department",
    ));
    changes.push(rule(
        Some(&contractor),
        Effect::Mask,
        Object::Field(MaskedField::Phones),
        &[],
        "no phone numbers",
    ));
    changes.push(rule(
        Some(&contractor),
        Effect::Mask,
        Object::Field(MaskedField::AllCustom),
        &[],
        "no HR data",
    ));
    for r in [&hr, &executive, &admin] {
        changes.push(rule(Some(r), Effect::Allow, Object::All, &[], "everything"));
    }
    changes.push(rule(
        None,
        Effect::Deny,
        Object::StaffType("executive".into()),
        &[&hr, &executive, &admin],
        "executives are not listed",
    ));
    if let Some(exec) = ids.departments.get("exec") {
        changes.push(rule(
            None,
            Effect::Deny,
            Object::Subtree(*exec),
            &[&hr, &executive, &admin],
            "the executive office is not listed",
        ));
    }
    changes.push(rule(
        None,
        Effect::Mask,
        Object::Field(MaskedField::Custom("employee_no".into())),
        &[&hr, &admin],
        "employee numbers are for HR",
    ));

    let hr_departments: BTreeSet<DepartmentId> = ["hr", "recruiting", "comp"]
        .iter()
        .filter_map(|k| ids.departments.get(k).copied())
        .collect();
    let replica = directory.read();
    for person in replica.all_staff() {
        let base = match person.staff_type.as_str() {
            "intern" => &intern,
            "contractor" => &contractor,
            _ => &employee,
        };
        let mut roles = vec![base];
        if person.staff_type == "executive" {
            roles.push(&executive);
        }
        if person
            .memberships
            .iter()
            .any(|m| hr_departments.contains(&m.department_id))
        {
            roles.push(&hr);
        }
        if Some(person.id) == ids.hr_head {
            roles.push(&hr_admin);
        }
        if Some(person.id) == ids.it_head {
            roles.push(&it_admin);
        }
        if Some(person.id) == ids.cto {
            roles.push(&admin);
        }
        for r in roles {
            changes.push(PolicyChange::Assign(Assignment {
                role_id: r.id,
                subject: Subject::Staff(person.id),
            }));
        }
    }
    changes
}
