//! Deterministic people for the demo company and the benchmarks: mixed Chinese and English
//! names, logins derived from them, contact details.

use rand::{RngExt, SeedableRng, rngs::StdRng};

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
    "任", "沈", "单", "欧阳", "司马",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "晓东", "子轩", "雨涵", "浩然", "欣怡", "梓萱", "宇航",
    "思远", "嘉怡", "俊杰", "诗涵", "志强", "海燕", "建华", "文博", "一鸣", "佳琪", "天宇",
];
const FIRST: &[&str] = &[
    "Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Iris", "Jack", "Kate",
    "Leo", "Mia", "Noah", "Olivia", "Paul", "Quinn", "Ruby", "Sam", "Tina", "Victor", "Wendy",
];
const LAST: &[&str] = &[
    "Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Clark", "Lewis", "Walker",
    "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell",
];

/// A generated person.
#[derive(Debug, Clone)]
pub struct Person {
    pub display_name: String,
    pub login: String,
    pub email: String,
    pub phone: String,
}

/// Generates distinct people from a seed.
pub struct People {
    rng: StdRng,
    taken: std::collections::HashSet<String>,
    domain: String,
}

impl People {
    pub fn new(seed: u64, domain: &str) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            taken: Default::default(),
            domain: domain.to_owned(),
        }
    }

    /// The next person; `english` picks an English name.
    pub fn next(&mut self, english: bool) -> Person {
        let display_name = if english {
            format!(
                "{} {}",
                FIRST[self.rng.random_range(0..FIRST.len())],
                LAST[self.rng.random_range(0..LAST.len())]
            )
        } else {
            format!(
                "{}{}",
                SURNAMES[self.rng.random_range(0..SURNAMES.len())],
                GIVEN[self.rng.random_range(0..GIVEN.len())]
            )
        };
        let base = if english {
            display_name.to_lowercase().replace(' ', ".")
        } else {
            crate::directory::spell(&display_name).0
        };
        let mut login = base.clone();
        let mut n = 1;
        while !self.taken.insert(login.clone()) {
            n += 1;
            login = format!("{base}{n}");
        }
        let phone = format!(
            "+86 1{}{:02}-{:04}-{:04}",
            self.rng.random_range(3..=9),
            self.rng.random_range(0..100),
            self.rng.random_range(0..10_000),
            self.rng.random_range(0..10_000)
        );
        Person {
            email: format!("{login}@{}", self.domain),
            display_name,
            login,
            phone,
        }
    }

    /// A number in `0..n`, from the same deterministic stream.
    pub fn pick(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }
}
