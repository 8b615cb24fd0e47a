//! The contact-view state: every view class, which class each person is in (and which
//! classes they were in before), the global index of entries that changed themselves, and the
//! delta computation that ties them together (`delta`).

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::Arc,
};

mod delta;
mod effect;
mod prune;

pub use effect::PolicyEffect;

use super::{
    class::{ClassKey, ClassView, Dirty, diff},
    frozen::Entries,
    index::{ChangeIndex, EntryKey},
    moves::{MoveChains, MoveDiff},
    project::{ContactDepartment, ContactStaff},
    slots::{BitSet, SlotMaps},
};
use crate::{
    access::{ClassProfile, PolicySnapshot, RoleId, own_departments},
    directory::{Change, Replica, StaffId},
    store::Version,
};

/// A person moving from one class to another at a version, with the entries whose state
/// differs between the two views at that moment. Everyone making the same move in the same
/// commit shares one diff (a role granted to 10,000 people is one diff, not 10,000), and
/// consecutive diffs of the same pair of classes are stored as their differences (`moves`).
#[derive(Debug, Clone)]
pub struct Transition {
    pub version: Version,
    pub from: ClassKey,
    pub to: ClassKey,
    pub diff: Arc<MoveDiff>,
    /// The two classes mask differently: every entry's projection changed.
    pub all: bool,
}

/// A person's place among the classes.
#[derive(Debug, Clone)]
pub struct UserView {
    pub class: ClassKey,
    /// The version the person entered the directory (or views were first computed).
    pub since: Version,
    /// Readers of this person older than this must reset.
    pub floor: Version,
    pub transitions: Vec<Transition>,
}

/// Derived rows to persist after a commit (written by the background writer).
#[derive(Debug, Clone)]
pub enum Persist {
    ClassLog {
        key: ClassKey,
        entries: Vec<(Version, EntryKey)>,
    },
    ClassMeta {
        key: ClassKey,
        reproject_at: Version,
        floor: Version,
    },
    User {
        staff: StaffId,
        class: ClassKey,
        since: Version,
        floor: Version,
    },
    UserGone {
        staff: StaffId,
    },
    /// A person's move (its entries are written once, by `TransitionDiff`).
    Transition {
        staff: StaffId,
        transition: Transition,
    },
    /// What differs between two classes at a version, shared by everyone making that move
    /// (stored as its change from the previous diff of the pair, see `moves`).
    TransitionDiff {
        diff: Arc<MoveDiff>,
        all: bool,
    },
    /// History below `cutoff` is gone: readers older than `floor` reset. Diffs below the cutoff
    /// that later diffs are chained to (`keep`) stay.
    Compact {
        cutoff: Version,
        floor: Version,
        keep: Vec<(Version, ClassKey, ClassKey)>,
    },
    Applied(Version),
}

/// One change in a delta.
#[derive(Debug, Clone, PartialEq)]
pub enum DeltaEntry {
    UpsertDepartment(ContactDepartment),
    UpsertStaff(ContactStaff),
    Remove(EntryKey),
}

/// The answer to "what changed since V".
#[derive(Debug, Clone, PartialEq)]
pub enum DeltaOutcome {
    Changes {
        version: Version,
        changes: Vec<DeltaEntry>,
    },
    /// `since` is older than what is retained for this person: fetch a snapshot.
    Reset { version: Version },
}

/// Why a delta or snapshot cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    #[error("version {since} is newer than the newest version {newest}")]
    FromTheFuture { since: Version, newest: Version },
    #[error("this account has no contact list (it is not a person in the directory)")]
    NoView,
    #[error("could not serialise a contact list: {0}")]
    Serialise(String),
}

/// Everything the contacts module keeps in memory.
#[derive(Debug, Default)]
pub struct ContactsState {
    pub version: Version,
    pub floor: Version,
    pub global: ChangeIndex,
    pub classes: HashMap<ClassKey, ClassView>,
    pub users: HashMap<StaffId, UserView>,
    pub slots: SlotMaps,
    /// The entries behind the slots, shared with frozen views.
    pub entries: Entries,
    /// How many people each class has (a class with none stops being maintained).
    pub members: HashMap<ClassKey, usize>,
    /// The newest diff of each pair of classes people moved between.
    pub chains: MoveChains,
    pub outbox: Vec<Persist>,
}

/// The diffs computed for the moves of one commit, by (from, to).
type MoveDiffs = HashMap<(ClassKey, ClassKey), (Arc<MoveDiff>, bool)>;

/// Caches class profiles per role set while many people are (re)classified at once.
#[derive(Default)]
struct Profiles(HashMap<BTreeSet<RoleId>, (ClassProfile, Option<ClassKey>)>);

impl Profiles {
    /// The profile of a role set, and its class key when it does not depend on departments
    /// (computed once per role set, not once per person).
    fn get(
        &mut self,
        policy: &PolicySnapshot,
        roles: BTreeSet<RoleId>,
    ) -> &(ClassProfile, Option<ClassKey>) {
        self.0.entry(roles).or_insert_with_key(|roles| {
            let profile = policy.class_profile(roles);
            let key =
                (!profile.grants.uses_own()).then(|| ClassKey::of(&profile, &BTreeSet::new()));
            (profile, key)
        })
    }
}

impl ContactsState {
    /// Classifies everyone and builds every class view at `version`.
    pub fn build(version: Version, policy: &PolicySnapshot, replica: &Replica) -> Self {
        let mut state = Self {
            version,
            ..Self::default()
        };
        state.entries = Entries::load(replica, &mut state.slots);
        let mut profiles = Profiles::default();
        let people: Vec<StaffId> = replica.all_staff().map(|s| s.id).collect();
        for staff in people {
            let key = state.classify(staff, policy, replica, &mut profiles);
            state.join(&key);
            state.users.insert(
                staff,
                UserView {
                    class: key,
                    since: version,
                    floor: Version(0),
                    transitions: Vec::new(),
                },
            );
        }
        state
    }

    /// Finds (building it if needed) the class a person belongs in now.
    fn classify(
        &mut self,
        staff: StaffId,
        policy: &PolicySnapshot,
        replica: &Replica,
        profiles: &mut Profiles,
    ) -> ClassKey {
        let (profile, shared_key) = profiles.get(policy, policy.roles_of(staff));
        let own = if profile.grants.uses_own() {
            own_departments(replica, staff)
        } else {
            BTreeSet::new()
        };
        let key = shared_key
            .clone()
            .unwrap_or_else(|| ClassKey::of(profile, &own));
        let needs_build = self.classes.get(&key).is_none_or(|c| !c.live);
        if needs_build {
            let fresh =
                ClassView::build(key.clone(), profile.clone(), own, replica, &mut self.slots);
            match self.classes.get_mut(&key) {
                // A class nobody was in comes back: keep its log and floor.
                Some(ghost) => {
                    ghost.departments = fresh.departments;
                    ghost.staff = fresh.staff;
                    ghost.profile = fresh.profile;
                    ghost.own = fresh.own;
                    ghost.live = true;
                }
                None => {
                    self.classes.insert(key.clone(), fresh);
                }
            }
        }
        key
    }

    /// Moves a person to another class at `version`, recording what differs for them.
    /// `diffs` holds the moves already computed in this commit (class views do not change
    /// between the moves of one commit, so the same move has the same diff).
    fn move_user(
        &mut self,
        staff: StaffId,
        to: ClassKey,
        version: Version,
        replica: &Replica,
        diffs: &mut MoveDiffs,
    ) {
        let Some(from) = self.users.get(&staff).map(|u| u.class.clone()) else {
            return;
        };
        if from == to {
            return;
        }
        let (moved, all) = match diffs.get(&(from.clone(), to.clone())) {
            Some(known) => known.clone(),
            None => {
                let (exact, all) = match (self.classes.get(&from), self.classes.get(&to)) {
                    (Some(a), Some(b)) => (
                        diff(
                            (&a.departments, &a.staff),
                            (&b.departments, &b.staff),
                            replica,
                            &self.slots,
                        ),
                        a.profile.masks != b.profile.masks,
                    ),
                    _ => (Vec::new(), true),
                };
                let moved = self.chains.record(version, &from, &to, &exact);
                self.outbox.push(Persist::TransitionDiff {
                    diff: moved.clone(),
                    all,
                });
                diffs.insert((from.clone(), to.clone()), (moved.clone(), all));
                (moved, all)
            }
        };
        let transition = Transition {
            version,
            from,
            to: to.clone(),
            diff: moved,
            all,
        };
        self.leave(&transition.from.clone());
        self.join(&to);
        if let Some(user) = self.users.get_mut(&staff) {
            user.class = to.clone();
            user.transitions.push(transition.clone());
            self.outbox.push(Persist::User {
                staff,
                class: to,
                since: user.since,
                floor: user.floor,
            });
        }
        self.outbox.push(Persist::Transition { staff, transition });
    }

    fn join(&mut self, key: &ClassKey) {
        *self.members.entry(key.clone()).or_default() += 1;
    }

    /// Counts a person out of a class; a class nobody is in stops being maintained (its log
    /// stays for readers that need it).
    fn leave(&mut self, key: &ClassKey) {
        let left = self.members.get_mut(key).map(|n| {
            *n = n.saturating_sub(1);
            *n
        });
        if left == Some(0) {
            self.members.remove(key);
            if let Some(class) = self.classes.get_mut(key) {
                class.live = false;
                class.departments = BitSet::default();
                class.staff = BitSet::default();
            }
        }
    }

    fn queue_class_logs(&mut self, version: Version) {
        for class in self.classes.values() {
            let entries = class.log.at(version);
            if !entries.is_empty() {
                self.outbox.push(Persist::ClassLog {
                    key: class.key.clone(),
                    entries,
                });
            }
            if class.reproject_at == version {
                self.outbox.push(Persist::ClassMeta {
                    key: class.key.clone(),
                    reproject_at: class.reproject_at,
                    floor: class.floor,
                });
            }
        }
    }

    /// Moves every view past a directory commit (the replica is already at `version`).
    pub fn apply_directory_commit(
        &mut self,
        version: Version,
        changes: &[Change],
        policy: &PolicySnapshot,
        replica: &Replica,
    ) {
        self.entries.apply(changes, &mut self.slots);
        let dirty = Dirty::of(changes, replica);
        for key in &dirty.changed {
            self.global.touch(*key, version);
        }
        for class in self.classes.values_mut().filter(|c| c.live) {
            class.apply_commit(version, &dirty, replica, &mut self.slots);
        }
        let mut profiles = Profiles::default();
        let mut diffs = MoveDiffs::new();
        for change in changes {
            let Change::Staff { before, after } = change else {
                continue;
            };
            match (before, after) {
                (_, None) => {
                    if let Some(id) = before.as_ref().map(|b| b.id)
                        && let Some(gone) = self.users.remove(&id)
                    {
                        self.leave(&gone.class);
                        self.outbox.push(Persist::UserGone { staff: id });
                    }
                }
                (None, Some(person)) => {
                    let key = self.classify(person.id, policy, replica, &mut profiles);
                    self.join(&key);
                    self.users.insert(
                        person.id,
                        UserView {
                            class: key.clone(),
                            since: version,
                            floor: Version(0),
                            transitions: Vec::new(),
                        },
                    );
                    self.outbox.push(Persist::User {
                        staff: person.id,
                        class: key,
                        since: version,
                        floor: Version(0),
                    });
                }
                (Some(old), Some(person)) => {
                    if old.memberships != person.memberships {
                        let key = self.classify(person.id, policy, replica, &mut profiles);
                        self.move_user(person.id, key, version, replica, &mut diffs);
                    }
                }
            }
        }
        self.finish(version);
    }

    /// Moves every view past a policy change.
    pub fn apply_policy_change(
        &mut self,
        version: Version,
        old: &PolicySnapshot,
        new: &PolicySnapshot,
        replica: &Replica,
    ) {
        let mut profiles = Profiles::default();
        let live: Vec<ClassKey> = self
            .classes
            .values()
            .filter(|c| c.live)
            .map(|c| c.key.clone())
            .collect();
        let mut replaced: HashSet<ClassKey> = HashSet::new();
        for key in live {
            let Some(class) = self.classes.get(&key) else {
                continue;
            };
            let profile = profiles.get(new, class.profile.roles.clone()).0.clone();
            // A class whose rules start or stop depending on departments is replaced: its
            // people move to new classes below, and keep this one's view until then.
            if profile.grants.uses_own() != class.profile.grants.uses_own() {
                replaced.insert(key);
                continue;
            }
            if profile == class.profile {
                continue;
            }
            if let Some(class) = self.classes.get_mut(&key) {
                class.replace_profile(version, profile, replica, &mut self.slots);
            }
        }
        // A class is named by its role set (and, where rules use them, the own departments,
        // which only directory changes move): only people whose roles changed, or whose class
        // was replaced, can change class. Everyone else stays, and a rule edit in a company
        // of 100,000 does not classify 100,000 people again.
        let mut people: HashSet<StaffId> = HashSet::new();
        if !Arc::ptr_eq(&old.staff_roles, &new.staff_roles) {
            people.extend(
                old.staff_roles
                    .keys()
                    .chain(new.staff_roles.keys())
                    .filter(|staff| old.staff_roles.get(*staff) != new.staff_roles.get(*staff)),
            );
        }
        if !replaced.is_empty() {
            people.extend(
                self.users
                    .iter()
                    .filter(|(_, user)| replaced.contains(&user.class))
                    .map(|(staff, _)| *staff),
            );
        }
        people.retain(|staff| self.users.contains_key(staff));
        let mut diffs = MoveDiffs::new();
        for staff in people {
            let key = self.classify(staff, new, replica, &mut profiles);
            self.move_user(staff, key, version, replica, &mut diffs);
        }
        self.finish(version);
    }

    fn finish(&mut self, version: Version) {
        self.queue_class_logs(version);
        self.version = version;
        self.outbox.push(Persist::Applied(version));
    }

    /// The class a person is in now.
    pub fn class_of(&self, staff: StaffId) -> Option<&ClassView> {
        self.users
            .get(&staff)
            .and_then(|u| self.classes.get(&u.class))
    }
}
