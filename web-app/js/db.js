// The browser's copy of the contact list and the messages not yet acknowledged, in IndexedDB
// (one database per person), so a reload pulls only the delta and resends what was pending.
// Without IndexedDB (some private windows) the same interface keeps everything in memory.

const VERSION = 1;

function name(staff) {
  return `switchboard-${staff}`;
}

function promise(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

class IdbStore {
  constructor(db) {
    this.db = db;
  }

  /** Runs `work(stores)` in one transaction; resolves with its result once committed. */
  run(names, mode, work) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction(names, mode);
      const stores = Object.fromEntries(names.map((n) => [n, tx.objectStore(n)]));
      let result;
      Promise.resolve(work(stores)).then((value) => {
        result = value;
      }, (error) => {
        tx.abort();
        reject(error);
      });
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error("aborted"));
    });
  }

  /** {version, departments, staff} as stored (version null when there is no copy). */
  async contacts() {
    return this.run(["meta", "departments", "staff"], "readonly", async (s) => ({
      version: (await promise(s.meta.get("version"))) ?? null,
      departments: await promise(s.departments.getAll()),
      staff: await promise(s.staff.getAll()),
    }));
  }

  /** Replaces the copy with a snapshot. */
  replaceContacts(snapshot) {
    return this.run(["meta", "departments", "staff"], "readwrite", (s) => {
      s.departments.clear();
      s.staff.clear();
      for (const d of snapshot.departments) s.departments.put(d);
      for (const p of snapshot.staff) s.staff.put(p);
      s.meta.put(snapshot.version, "version");
    });
  }

  /**
   * Applies a delta taken `since` a version. Another tab may have moved the copy on meanwhile;
   * then nothing is written and the answer is false (reload the copy and pull again).
   */
  applyDelta(since, delta) {
    return this.run(["meta", "departments", "staff"], "readwrite", async (s) => {
      const stored = (await promise(s.meta.get("version"))) ?? null;
      if (stored !== since) return false;
      for (const change of delta.changes) {
        const store = change.kind === "department" ? s.departments : s.staff;
        if (change.op === "upsert") store.put(change.data);
        else store.delete(change.id);
      }
      s.meta.put(delta.version, "version");
      return true;
    });
  }

  outbox() {
    return this.run(["outbox"], "readonly", (s) => promise(s.outbox.getAll()));
  }

  putOutbox(item) {
    return this.run(["outbox"], "readwrite", (s) => {
      s.outbox.put(item);
    });
  }

  deleteOutbox(clientMsgId) {
    return this.run(["outbox"], "readwrite", (s) => {
      s.outbox.delete(clientMsgId);
    });
  }

  close() {
    this.db.close();
  }
}

/** The same, in memory. */
class MemoryStore {
  constructor() {
    this.version = null;
    this.departments = new Map();
    this.staff = new Map();
    this.pending = new Map();
  }

  async contacts() {
    return { version: this.version, departments: [...this.departments.values()], staff: [...this.staff.values()] };
  }

  async replaceContacts(snapshot) {
    this.departments = new Map(snapshot.departments.map((d) => [d.id, d]));
    this.staff = new Map(snapshot.staff.map((p) => [p.id, p]));
    this.version = snapshot.version;
  }

  async applyDelta(since, delta) {
    if (this.version !== since) return false;
    for (const change of delta.changes) {
      const map = change.kind === "department" ? this.departments : this.staff;
      if (change.op === "upsert") map.set(change.id, change.data);
      else map.delete(change.id);
    }
    this.version = delta.version;
    return true;
  }

  async outbox() {
    return [...this.pending.values()];
  }

  async putOutbox(item) {
    this.pending.set(item.client_msg_id, item);
  }

  async deleteOutbox(clientMsgId) {
    this.pending.delete(clientMsgId);
  }

  close() {}
}

/** Opens the person's store. */
export async function open(staff) {
  if (!window.indexedDB) return new MemoryStore();
  try {
    const request = indexedDB.open(name(staff), VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore("meta");
      db.createObjectStore("departments", { keyPath: "id" });
      db.createObjectStore("staff", { keyPath: "id" });
      db.createObjectStore("outbox", { keyPath: "client_msg_id" });
    };
    return new IdbStore(await promise(request));
  } catch {
    return new MemoryStore();
  }
}

/** Forgets the person's copy (signing out: colleagues' details do not stay behind). */
export function remove(staff) {
  if (!window.indexedDB) return Promise.resolve();
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(name(staff));
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });
}
