// The WebSocket (docs/protocol.md): connects with the token in the query (browsers cannot set
// headers on a WebSocket), reconnects by itself with exponential backoff and jitter, notices a
// dead connection by its own pings, and matches replies to requests by `id`.
//
// Events: "welcome" (detail: the welcome frame), "frame" (every frame without a waiting
// request), "state" (detail: "connecting" | "online" | "offline"), "ended" (detail: the close
// code after which reconnecting is pointless: signed out, replaced, unsupported version).

const NO_RECONNECT = new Set([4001, 4003, 4005, 4010]);
const PING_EVERY_MS = 25000;
const PONG_WITHIN_MS = 10000;
const REQUEST_TIMEOUT_MS = 30000;

export class Socket extends EventTarget {
  constructor(token, device) {
    super();
    this.token = token;
    this.device = device;
    this.ws = null;
    this.state = "offline";
    this.attempt = 0;
    this.nextId = 1;
    this.pending = new Map();
    this.stopped = false;
    this.timer = null;
    this.pinger = null;
    window.addEventListener("offline", () => this.ws && this.ws.close(4000, "offline"));
    window.addEventListener("online", () => this.reconnectNow());
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, "bye");
    this.ws = null;
    this.setState("offline");
  }

  /** Connects at once (the network came back, or the person asked). */
  reconnectNow() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  connect() {
    clearTimeout(this.timer);
    this.setState("connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = new URLSearchParams({ token: this.token, device: this.device, v: "1" });
    let ws;
    try {
      ws = new WebSocket(`${scheme}://${location.host}/ws?${query}`);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = (event) => this.closed(ws, event.code);
    ws.onerror = () => {};
  }

  closed(ws, code) {
    if (this.ws !== ws) return;
    this.ws = null;
    clearInterval(this.pinger);
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new Error("disconnected"));
    }
    this.pending.clear();
    this.setState("offline");
    if (this.stopped) return;
    if (NO_RECONNECT.has(code)) {
      this.stopped = true;
      this.dispatchEvent(new CustomEvent("ended", { detail: code }));
      return;
    }
    this.retry();
  }

  /** Waits 0.5 s, 1 s, 2 s … up to 30 s (with jitter, so a restarted server is not stormed). */
  retry() {
    const base = Math.min(30000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    const wait = base / 2 + Math.random() * (base / 2);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame.type === "welcome") {
      this.attempt = 0;
      this.setState("online");
      this.keepAlive();
      this.dispatchEvent(new CustomEvent("welcome", { detail: frame }));
      return;
    }
    this.lastHeard = Date.now();
    const waiting = frame.id !== undefined ? this.pending.get(frame.id) : undefined;
    if (waiting && waiting.accepts(frame)) {
      if (frame.type === "error") {
        clearTimeout(waiting.timer);
        this.pending.delete(frame.id);
        waiting.reject(Object.assign(new Error(frame.message), { code: frame.code, frame }));
        return;
      }
      if (waiting.collect && frame.type !== waiting.last) {
        waiting.collect(frame);
        return;
      }
      clearTimeout(waiting.timer);
      this.pending.delete(frame.id);
      waiting.resolve(frame);
      return;
    }
    this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
  }

  /** Our own ping: a connection that silently died (a laptop asleep, a NAT forgetting it) is
   * noticed within PING_EVERY_MS + PONG_WITHIN_MS and replaced. */
  keepAlive() {
    clearInterval(this.pinger);
    const ws = this.ws;
    this.pinger = setInterval(() => {
      if (this.ws !== ws) return;
      this.request({ type: "ping" }, { timeout: PONG_WITHIN_MS }).catch(() => {
        if (this.ws === ws) ws.close(4000, "no pong");
      });
    }, PING_EVERY_MS);
  }

  get online() {
    return this.state === "online" && this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a frame; false when not connected. */
  send(frame) {
    if (!this.online) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Sends a frame with a fresh `id` and resolves with the reply (rejects on an `error` reply,
   * a disconnect or a timeout). `collect` receives intermediate frames with the same id until
   * one of type `last` arrives (sync: `messages`… then `sync.done`).
   */
  request(frame, { collect, last, timeout = REQUEST_TIMEOUT_MS, accepts } = {}) {
    return new Promise((resolve, reject) => {
      if (!this.online) {
        reject(new Error("offline"));
        return;
      }
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error("timeout"));
      }, timeout);
      this.pending.set(id, { resolve, reject, timer, collect, last, accepts: accepts || (() => true) });
      this.ws.send(JSON.stringify({ ...frame, id }));
    });
  }
}
