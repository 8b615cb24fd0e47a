// The contact list: a snapshot once, then deltas only (docs/api.md, "Syncing a contact list"),
// kept in IndexedDB. Search is local: the snapshot carries each person's full pinyin and
// initials, so typing "zw", "zhangwei" or "张" needs no request.

import { ApiError, get } from "./api.js";

export class Contacts extends EventTarget {
  constructor(store) {
    super();
    this.store = store;
    this.version = null;
    this.departments = new Map();
    this.staff = new Map();
    this.syncing = null;
    this.again = false;
  }

  /** Reads the stored copy. */
  async load() {
    const copy = await this.store.contacts();
    this.version = copy.version;
    this.departments = new Map(copy.departments.map((d) => [d.id, d]));
    this.staff = new Map(copy.staff.map((p) => [p.id, p]));
    this.reindex();
  }

  /** Brings the copy up to date; calls made while a pull runs lead to one more pull after it. */
  sync() {
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.again = false;
          await this.pull();
        } while (this.again);
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  async pull() {
    if (this.version === null) return this.snapshot();
    let delta;
    try {
      delta = await get(`/api/v1/contacts/delta?since=${encodeURIComponent(this.version)}`);
    } catch (error) {
      // 409: a copy newer than the server's (another server, a restore): start over.
      if (error instanceof ApiError && error.status === 409) return this.snapshot();
      throw error;
    }
    if (delta.reset) return this.snapshot();
    if (delta.version === this.version && delta.changes.length === 0) return;
    const applied = await this.store.applyDelta(this.version, delta);
    if (!applied) {
      // Another tab moved the stored copy on: take it and pull from there.
      await this.load();
      this.again = true;
      return;
    }
    for (const change of delta.changes) {
      const map = change.kind === "department" ? this.departments : this.staff;
      if (change.op === "upsert") map.set(change.id, change.data);
      else map.delete(change.id);
    }
    this.version = delta.version;
    this.reindex();
    this.dispatchEvent(new CustomEvent("change", { detail: { changes: delta.changes } }));
  }

  async snapshot() {
    const snapshot = await get("/api/v1/contacts/snapshot");
    await this.store.replaceContacts(snapshot);
    this.version = snapshot.version;
    this.departments = new Map(snapshot.departments.map((d) => [d.id, d]));
    this.staff = new Map(snapshot.staff.map((p) => [p.id, p]));
    this.reindex();
    this.dispatchEvent(new CustomEvent("change", { detail: { snapshot: true } }));
  }

  reindex() {
    this.childrenOf = new Map();
    this.membersOf = new Map();
    for (const d of this.departments.values()) {
      const parent = d.parent_id && this.departments.has(d.parent_id) ? d.parent_id : null;
      if (!this.childrenOf.has(parent)) this.childrenOf.set(parent, []);
      this.childrenOf.get(parent).push(d);
    }
    for (const list of this.childrenOf.values()) list.sort(byOrder);
    this.unplaced = [];
    for (const p of this.staff.values()) {
      const memberships = (p.departments || []).filter((m) => this.departments.has(m.department_id));
      if (memberships.length === 0) this.unplaced.push(p);
      for (const m of memberships) {
        if (!this.membersOf.has(m.department_id)) this.membersOf.set(m.department_id, []);
        this.membersOf.get(m.department_id).push({ person: p, order: m.order_key ?? 0 });
      }
    }
    for (const [id, list] of this.membersOf) {
      list.sort((a, b) => a.order - b.order || byPinyin(a.person, b.person));
      this.membersOf.set(id, list.map((entry) => entry.person));
    }
    this.unplaced.sort(byPinyin);
    this.keys = [...this.staff.values()].map((p) => ({ person: p, ...searchKeys(p) }));
  }

  /** Top-level departments (those whose parent is not visible). */
  roots() {
    return this.childrenOf.get(null) || [];
  }

  children(id) {
    return this.childrenOf.get(id) || [];
  }

  members(id) {
    return this.membersOf.get(id) || [];
  }

  /** Everyone under a department, sub-departments included, once each. */
  everyoneUnder(id) {
    const seen = new Map();
    const walk = (dept) => {
      for (const p of this.members(dept)) seen.set(p.id, p);
      for (const child of this.children(dept)) walk(child.id);
    };
    walk(id);
    return [...seen.values()];
  }

  person(id) {
    return this.staff.get(id) || null;
  }

  department(id) {
    return this.departments.get(id) || null;
  }

  /** "研发中心 / 平台组": the visible path to a department. */
  path(id) {
    const names = [];
    let dept = this.departments.get(id);
    for (let guard = 0; dept && guard < 64; guard++) {
      names.unshift(dept.name);
      dept = dept.parent_id ? this.departments.get(dept.parent_id) : null;
    }
    return names.join(" / ");
  }

  /** A person's name, or null when they are not in the list. */
  nameOf(id) {
    return this.staff.get(id)?.display_name ?? null;
  }

  /** People matching a query, best first. */
  search(query, limit = 100) {
    const q = normalize(query);
    if (!q) return [];
    const scored = [];
    for (const entry of this.keys) {
      const score = match(entry, q);
      if (score > 0) scored.push([score, entry.person]);
    }
    scored.sort((a, b) => b[0] - a[0] || byPinyin(a[1], b[1]));
    return scored.slice(0, limit).map(([, person]) => person);
  }
}

function byOrder(a, b) {
  return (a.order_key ?? 0) - (b.order_key ?? 0) || String(a.name).localeCompare(String(b.name));
}

function byPinyin(a, b) {
  return String(a.pinyin_full || a.display_name).localeCompare(String(b.pinyin_full || b.display_name));
}

function normalize(text) {
  return String(text || "").toLowerCase().replace(/\s+/g, "");
}

function searchKeys(p) {
  return {
    name: normalize(p.display_name),
    full: normalize(p.pinyin_full),
    initials: normalize(p.pinyin_initials),
    login: normalize(p.login),
    // Present only when not masked for this viewer: masked fields never arrive.
    emails: (p.emails || []).map(normalize),
    phones: (p.phones || []).map((x) => String(x).replace(/\D/g, "")),
  };
}

/** How well a person matches: exact beats prefix beats substring; names beat pinyin. */
function match(k, q) {
  if (k.name === q) return 100;
  if (k.initials === q || k.full === q || k.login === q) return 90;
  if (k.name.startsWith(q)) return 80;
  if (k.initials.startsWith(q)) return 75;
  if (k.full.startsWith(q) || k.login.startsWith(q)) return 70;
  if (k.name.includes(q)) return 60;
  if (k.full.includes(q)) return 50;
  if (k.emails.some((e) => e.startsWith(q))) return 45;
  if (q.length >= 3 && /^\d+$/.test(q) && k.phones.some((p) => p.includes(q))) return 40;
  if (k.login.includes(q) || k.emails.some((e) => e.includes(q))) return 30;
  return 0;
}
