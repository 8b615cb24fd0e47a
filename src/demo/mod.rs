//! The demo company (`serve --demo`): about 300 people in 32 departments, four levels deep,
//! with Chinese and English names, several department and staff types, custom fields and
//! local accounts, so that a newcomer can log in and click around at once. Seeded only into an
//! empty directory, through the ordinary write path (audited with source `demo`).

pub mod names;

use crate::{
    auth::{Auth, password},
    directory::{
        Directory, DirectoryError, FieldDefinition, FieldEntity, FieldType, MembershipInput,
        NewDepartment, NewStaff, Stage,
    },
    store::{Actor, Source},
};

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
pub async fn seed_if_empty(directory: &Directory, auth: &Auth) -> Result<bool, DirectoryError> {
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
    let (admins, _) = directory.write(&actor, build_company).await?;

    // One hash shared by every demo account: hashing 300 passwords one by one would make the
    // first start take seconds, and they all share the published demo password anyway.
    let hash = password::hash(DEMO_PASSWORD)
        .await
        .map_err(|e| DirectoryError::Conflict(e.to_string()))?;
    let replica_staff: Vec<_> = {
        let replica = directory.read();
        replica
            .all_staff()
            .map(|s| (s.id, admins.contains(&s.id)))
            .collect()
    };
    auth.create_staff_accounts(&actor, &replica_staff, &hash)
        .await
        .map_err(|e| DirectoryError::Conflict(e.to_string()))?;
    tracing::info!(staff = replica_staff.len(), "demo company seeded");
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

/// Builds the company in one stage; returns the staff who get admin rights (HR heads).
fn build_company(stage: &mut Stage<'_>) -> Result<Vec<crate::directory::StaffId>, DirectoryError> {
    let mut ids = std::collections::HashMap::new();
    let mut people = names::People::new(20261125, "stellar.example.com");
    let mut admins = Vec::new();
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
            if *key == "hr" && index == 0 {
                admins.push(created.id);
            }
        }
    }
    Ok(admins)
}
