//! Read queries over the replica for administration screens: staff lists with filters and
//! keyset paging, department search by name and pinyin, department paths. One pass over the
//! people with a bounded heap per page (no sort of the whole company), so a page of a
//! 100,000-person directory costs one scan, whatever page it is.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashSet},
    sync::Arc,
};

use super::{
    model::{Department, DepartmentId, RecordSource, Staff, StaffStatus},
    phonetic,
    replica::Replica,
};

/// The order of staff lists: full pinyin, then login (unique), so a key names one place.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StaffKey {
    pub pinyin: String,
    pub login: String,
}

impl StaffKey {
    pub fn of(person: &Staff) -> Self {
        Self {
            pinyin: person.pinyin_full.clone(),
            login: person.login.clone(),
        }
    }

    /// `pinyin~login` for a URL (neither part can hold `~`).
    pub fn encode(&self) -> String {
        format!("{}~{}", self.pinyin, self.login)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (pinyin, login) = text.split_once('~')?;
        Some(Self {
            pinyin: pinyin.to_owned(),
            login: login.to_owned(),
        })
    }

    fn cmp_person(&self, person: &Staff) -> std::cmp::Ordering {
        (self.pinyin.as_str(), self.login.as_str())
            .cmp(&(person.pinyin_full.as_str(), person.login.as_str()))
    }
}

/// Which people a staff list shows.
#[derive(Debug, Default, Clone)]
pub struct StaffQuery {
    /// Name, pinyin, initials, login or email (case-insensitive).
    pub text: Option<String>,
    /// Members of any of these departments.
    pub departments: Option<HashSet<DepartmentId>>,
    pub staff_type: Option<String>,
    pub status: Option<StaffStatus>,
    pub source: Option<RecordSource>,
}

/// Where a page starts.
#[derive(Debug, Clone, Default)]
pub enum PageAt {
    #[default]
    First,
    /// The page after this key.
    After(StaffKey),
    /// The page before this key.
    Before(StaffKey),
}

/// One page of a staff list.
pub struct StaffListPage {
    /// People matching the query (all pages).
    pub total: usize,
    pub items: Vec<Arc<Staff>>,
    pub has_prev: bool,
    pub has_next: bool,
}

impl StaffQuery {
    /// The text as matched: trimmed and lower case; `None` when empty.
    fn needle(&self) -> Option<String> {
        self.text
            .as_deref()
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty())
    }

    /// The filters other than the text (the replica's search index answers that).
    fn matches(&self, person: &Staff) -> bool {
        if self.status.is_some_and(|s| s != person.status)
            || self.source.is_some_and(|s| s != person.source)
            || self
                .staff_type
                .as_deref()
                .is_some_and(|t| t != person.staff_type)
        {
            return false;
        }
        if let Some(set) = &self.departments
            && !person
                .memberships
                .iter()
                .any(|m| set.contains(&m.department_id))
        {
            return false;
        }
        true
    }

    /// One page of at most `limit` people in list order.
    pub fn page(&self, replica: &Replica, at: &PageAt, limit: usize) -> StaffListPage {
        let limit = limit.max(1);
        let needle = self.needle();
        let mut total = 0;
        // Matches on the far side of the cursor (they make the other page link).
        let mut beyond = 0;
        // After/First: the smallest `limit + 1` keys past the cursor (max-heap, pop largest).
        // Before: the largest `limit + 1` keys before it (min-heap, pop smallest).
        let mut low: BinaryHeap<(&str, &str, usize)> = BinaryHeap::new();
        let mut high: BinaryHeap<Reverse<(&str, &str, usize)>> = BinaryHeap::new();
        let people: Vec<&Arc<Staff>> = match needle.as_deref() {
            Some(needle) => replica.staff_matching(needle).collect(),
            None => replica.all_staff().collect(),
        };
        for (index, person) in people.iter().enumerate() {
            if !self.matches(person) {
                continue;
            }
            total += 1;
            let key = (person.pinyin_full.as_str(), person.login.as_str(), index);
            match at {
                PageAt::First => push_low(&mut low, key, limit),
                PageAt::After(cursor) => {
                    if cursor.cmp_person(person).is_lt() {
                        push_low(&mut low, key, limit);
                    } else {
                        beyond += 1;
                    }
                }
                PageAt::Before(cursor) => {
                    if cursor.cmp_person(person).is_gt() {
                        high.push(Reverse(key));
                        if high.len() > limit + 1 {
                            high.pop();
                        }
                    } else {
                        beyond += 1;
                    }
                }
            }
        }
        let (mut keys, more): (Vec<(&str, &str, usize)>, bool) = match at {
            PageAt::Before(_) => {
                let more = high.len() > limit;
                let mut keys: Vec<_> = high.into_iter().map(|Reverse(k)| k).collect();
                keys.sort_unstable();
                if more {
                    keys.remove(0);
                }
                (keys, more)
            }
            _ => {
                let more = low.len() > limit;
                let mut keys = low.into_vec();
                keys.sort_unstable();
                keys.truncate(limit);
                (keys, more)
            }
        };
        keys.dedup();
        let items = keys.iter().map(|k| people[k.2].clone()).collect();
        let (has_prev, has_next) = match at {
            PageAt::First => (false, more),
            PageAt::After(_) => (beyond > 0, more),
            PageAt::Before(_) => (more, beyond > 0),
        };
        StaffListPage {
            total,
            items,
            has_prev,
            has_next,
        }
    }
}

fn push_low<'a>(
    heap: &mut BinaryHeap<(&'a str, &'a str, usize)>,
    key: (&'a str, &'a str, usize),
    limit: usize,
) {
    if heap.len() <= limit {
        heap.push(key);
    } else if heap.peek().is_some_and(|top| key < *top) {
        heap.pop();
        heap.push(key);
    }
}

/// `needle` (lower case) in `hay`, ignoring ASCII case; non-ASCII compares as lower case.
fn contains_folded(hay: &str, needle: &str) -> bool {
    if needle.is_ascii() {
        let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
        needle.is_empty()
            || hay
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle))
    } else {
        hay.contains(needle) || hay.to_lowercase().contains(needle)
    }
}

/// A department found by [`search_departments`], with its path from the top.
pub struct DepartmentHit {
    pub department: Arc<Department>,
    /// Ancestors' names, top first, the department last.
    pub path: Vec<String>,
}

/// Departments whose name, full pinyin or initials match `text`, the shallowest first, at
/// most `limit`; and how many matched in all.
pub fn search_departments(
    replica: &Replica,
    text: &str,
    limit: usize,
) -> (Vec<DepartmentHit>, usize) {
    let needle = text.trim().to_lowercase();
    if needle.is_empty() {
        return (Vec::new(), 0);
    }
    let ascii = needle.is_ascii();
    let mut hits: Vec<(usize, &Arc<Department>)> = replica
        .departments()
        .filter(|d| {
            if contains_folded(&d.name, &needle) {
                return true;
            }
            // Pinyin only for Latin input; spelled on the fly (a few ms for 5,000 names).
            ascii && {
                let (full, initials) = phonetic::spell(&d.name);
                full.contains(&needle) || initials.starts_with(&needle)
            }
        })
        .map(|d| (replica.ancestors_and_self(d.id).len(), d))
        .collect();
    let total = hits.len();
    hits.sort_by(|a, b| (a.0, a.1.order_key, &a.1.name).cmp(&(b.0, b.1.order_key, &b.1.name)));
    let hits = hits
        .into_iter()
        .take(limit)
        .map(|(_, d)| DepartmentHit {
            department: d.clone(),
            path: department_path(replica, d.id),
        })
        .collect();
    (hits, total)
}

/// The names from the top of the tree down to `id` (inclusive).
pub fn department_path(replica: &Replica, id: DepartmentId) -> Vec<String> {
    let mut names: Vec<String> = replica
        .ancestors_and_self(id)
        .into_iter()
        .filter_map(|a| replica.department(a).map(|d| d.name.clone()))
        .collect();
    names.reverse();
    names
}

/// A department's children in display order (order key, then name).
pub fn sorted_children(replica: &Replica, parent: Option<DepartmentId>) -> Vec<Arc<Department>> {
    let mut children: Vec<Arc<Department>> = replica
        .children(parent)
        .filter_map(|id| replica.department(id).cloned())
        .collect();
    children.sort_by(|a, b| (a.order_key, &a.name).cmp(&(b.order_key, &b.name)));
    children
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{Membership, StaffId, model::RecordSource as Src};
    use crate::store::Version;

    fn person(login: &str, name: &str) -> Staff {
        let (pinyin_full, pinyin_initials) = phonetic::spell(name);
        Staff {
            id: StaffId::generate(),
            login: login.into(),
            display_name: name.into(),
            pinyin_full,
            pinyin_initials,
            title: String::new(),
            emails: vec![format!("{login}@Example.com")],
            phones: vec![],
            staff_type: "employee".into(),
            status: StaffStatus::Active,
            disabled_by: None,
            custom: Default::default(),
            source: Src::Local,
            ldap: None,
            memberships: Vec::<Membership>::new(),
            version: Version(1),
        }
    }

    #[test]
    fn keyset_pages_walk_forward_and_back_without_gaps() {
        let names = [
            "张伟", "李娜", "王芳", "刘洋", "陈静", "杨磊", "赵敏", "Alice",
        ];
        let staff: Vec<Staff> = names
            .iter()
            .enumerate()
            .map(|(i, n)| person(&format!("u{i}"), n))
            .collect();
        let mut order: Vec<StaffKey> = staff.iter().map(StaffKey::of).collect();
        order.sort();
        let replica = Replica::load(Version(1), vec![], staff);
        let query = StaffQuery::default();
        let first = query.page(&replica, &PageAt::First, 3);
        assert_eq!(first.total, 8);
        assert!(!first.has_prev && first.has_next);
        let mut seen: Vec<StaffKey> = first.items.iter().map(|s| StaffKey::of(s)).collect();
        let mut at = PageAt::After(seen.last().cloned().unwrap());
        loop {
            let page = query.page(&replica, &at, 3);
            assert!(page.has_prev);
            seen.extend(page.items.iter().map(|s| StaffKey::of(s)));
            if !page.has_next {
                break;
            }
            at = PageAt::After(seen.last().cloned().unwrap());
        }
        assert_eq!(seen, order);
        let back = query.page(&replica, &PageAt::Before(order[6].clone()), 3);
        let keys: Vec<StaffKey> = back.items.iter().map(|s| StaffKey::of(s)).collect();
        assert_eq!(keys, order[3..6].to_vec());
        assert!(back.has_prev && back.has_next);
        let start = query.page(&replica, &PageAt::Before(order[2].clone()), 3);
        assert_eq!(start.items.len(), 2);
        assert!(!start.has_prev);
    }

    #[test]
    fn text_matches_name_pinyin_initials_login_and_email() {
        let replica = Replica::load(
            Version(1),
            vec![],
            vec![person("zw01", "张伟"), person("alice", "Alice Wang")],
        );
        for (text, expected) in [
            ("张", 1),
            ("zhangw", 1),
            ("zw", 1),
            ("ALICE", 1),
            ("example.COM", 2),
            ("nobody", 0),
        ] {
            let query = StaffQuery {
                text: Some(text.into()),
                ..Default::default()
            };
            assert_eq!(
                query.page(&replica, &PageAt::First, 10).total,
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn search_follows_renames_and_removals() {
        use super::super::replica::Change;
        let before = Arc::new(person("zw01", "张伟"));
        let mut replica = Replica::load(Version(1), vec![], vec![(*before).clone()]);
        let renamed = Arc::new(person("zw01", "王芳"));
        replica.apply(
            Version(2),
            &[Change::Staff {
                before: Some(before),
                after: Some(renamed.clone()),
            }],
        );
        let total = |replica: &Replica, text: &str| {
            StaffQuery {
                text: Some(text.into()),
                ..Default::default()
            }
            .page(replica, &PageAt::First, 10)
            .total
        };
        assert_eq!(total(&replica, "zhangwei"), 0, "the old name is forgotten");
        assert_eq!(total(&replica, "wangfang"), 1);
        assert_eq!(total(&replica, "wf"), 1);
        replica.apply(
            Version(3),
            &[Change::Staff {
                before: Some(renamed),
                after: None,
            }],
        );
        assert_eq!(
            total(&replica, "wangfang"),
            0,
            "a removed person is not found"
        );
    }
}
