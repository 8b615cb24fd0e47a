//! What a policy change would do to everyone's contact list, before it is made: the same
//! classification and class views `apply_policy_change` computes at commit time, evaluated on
//! the side (nothing in the state changes). The portal shows it as "hides 1,204 people from
//! 3,100 viewers" next to a rule before it is saved.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::{ContactsState, Profiles};
use crate::{
    access::{PolicySnapshot, own_departments},
    contacts::{
        class::{ClassKey, ClassView, diff},
        slots::{BitSet, SlotMaps},
    },
    directory::{Replica, StaffId},
};

/// The effect of a policy change on the contact lists of active people.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyEffect {
    /// Active people whose list would change in any way (entries, parents shown, masks).
    pub viewers: usize,
    /// People who would lose at least one person from their list.
    pub hiding_viewers: usize,
    /// Distinct people who would vanish from at least one list.
    pub hidden_staff: usize,
    /// People who would gain at least one person.
    pub showing_viewers: usize,
    /// Distinct people who would appear in at least one list.
    pub shown_staff: usize,
    /// Distinct departments that would vanish from, or appear in, at least one list.
    pub hidden_departments: usize,
    pub shown_departments: usize,
    /// People for whom some field would be hidden or shown that was not before.
    pub masking_viewers: usize,
}

/// The view a class would have under the new policy.
struct Candidate {
    departments: BitSet,
    staff: BitSet,
    masks: crate::access::Masks,
}

impl ContactsState {
    /// What replacing the policy `old` (the one in force) by `new` would change, counted over
    /// active people. `old` must be the policy the state reflects.
    pub fn policy_effect(
        &self,
        old: &PolicySnapshot,
        new: &PolicySnapshot,
        replica: &Replica,
    ) -> PolicyEffect {
        let mut profiles = Profiles::default();
        // The class each person would be in; `None`: the one they are in (its rules may still
        // change what it sees). Mirrors `apply_policy_change`: only people whose roles change,
        // or whose class starts or stops depending on departments, change class.
        let mut replaced: HashSet<&ClassKey> = HashSet::new();
        for class in self.classes.values().filter(|c| c.live) {
            let profile = &profiles.get(new, class.profile.roles.clone()).0;
            if profile.grants.uses_own() != class.profile.grants.uses_own() {
                replaced.insert(&class.key);
            }
        }
        let roles_changed = |staff: &StaffId| {
            !std::ptr::eq(old.staff_roles.as_ref(), new.staff_roles.as_ref())
                && old.staff_roles.get(staff) != new.staff_roles.get(staff)
        };
        // (class now, class after) → how many active people make that move.
        let mut moves: HashMap<(&ClassKey, ClassKey), usize> = HashMap::new();
        let mut targets: HashMap<ClassKey, (crate::access::ClassProfile, BTreeSet<_>)> =
            HashMap::new();
        for (staff, user) in &self.users {
            if !replica.staff(*staff).is_some_and(|s| s.is_active()) {
                continue;
            }
            let to = if replaced.contains(&user.class) || roles_changed(staff) {
                let (profile, shared) = profiles.get(new, new.roles_of(*staff)).clone();
                let own = if profile.grants.uses_own() {
                    own_departments(replica, *staff)
                } else {
                    BTreeSet::new()
                };
                let key = shared.unwrap_or_else(|| ClassKey::of(&profile, &own));
                targets.entry(key.clone()).or_insert((profile, own));
                key
            } else {
                user.class.clone()
            };
            *moves.entry((&user.class, to)).or_default() += 1;
        }

        // Every class someone would be in, as the new policy has it.
        let mut slots: Option<SlotMaps> = None;
        let mut candidates: HashMap<ClassKey, Candidate> = HashMap::new();
        for (_, to) in moves.keys() {
            if candidates.contains_key(to) {
                continue;
            }
            let (profile, own) = match targets.get(to) {
                Some((profile, own)) => (profile.clone(), own.clone()),
                None => match self.classes.get(to) {
                    Some(class) => (
                        profiles.get(new, class.profile.roles.clone()).0.clone(),
                        class.own.clone(),
                    ),
                    None => continue,
                },
            };
            let unchanged = self
                .classes
                .get(to)
                .filter(|c| c.live && c.profile == profile && c.own == own);
            let candidate = match unchanged {
                Some(class) => Candidate {
                    departments: class.departments.clone(),
                    staff: class.staff.clone(),
                    masks: class.profile.masks.clone(),
                },
                None => {
                    // Evaluating may give a slot to an entry that has none yet: on a copy.
                    let slots = slots.get_or_insert_with(|| self.slots.clone());
                    let masks = profile.masks.clone();
                    let view = ClassView::build(to.clone(), profile, own, replica, slots);
                    Candidate {
                        departments: view.departments,
                        staff: view.staff,
                        masks,
                    }
                }
            };
            candidates.insert(to.clone(), candidate);
        }

        let mut effect = PolicyEffect::default();
        let (mut hidden, mut shown) = (BitSet::default(), BitSet::default());
        let (mut hidden_departments, mut shown_departments) =
            (BitSet::default(), BitSet::default());
        for ((from, to), people) in &moves {
            let (Some(before), Some(after)) = (self.classes.get(*from), candidates.get(to)) else {
                continue;
            };
            let mut changed = false;
            let count = |a: &BitSet, b: &BitSet, into: &mut BitSet| {
                let mut any = false;
                for slot in a.difference(b) {
                    into.insert(slot);
                    any = true;
                }
                any
            };
            if count(&before.staff, &after.staff, &mut hidden) {
                effect.hiding_viewers += people;
                changed = true;
            }
            if count(&after.staff, &before.staff, &mut shown) {
                effect.showing_viewers += people;
                changed = true;
            }
            changed |= count(
                &before.departments,
                &after.departments,
                &mut hidden_departments,
            );
            changed |= count(
                &after.departments,
                &before.departments,
                &mut shown_departments,
            );
            if before.profile.masks != after.masks {
                effect.masking_viewers += people;
                changed = true;
            }
            // The same entries can still differ: a department's shown parent, or a person's
            // listed departments, when the departments in view change (`diff`).
            if changed
                || !diff(
                    (&before.departments, &before.staff),
                    (&after.departments, &after.staff),
                    replica,
                    slots.as_ref().unwrap_or(&self.slots),
                )
                .is_empty()
            {
                effect.viewers += people;
            }
        }
        effect.hidden_staff = hidden.len();
        effect.shown_staff = shown.len();
        effect.hidden_departments = hidden_departments.len();
        effect.shown_departments = shown_departments.len();
        effect
    }
}
