// The client's strings come with the page (web-app/i18n/<lang>.toml, rendered by the server
// into <body data-strings>): one language per page; the switch reloads through /lang.

const body = document.body;
const strings = JSON.parse(body.dataset.strings || "{}");

/** "en" or "zh". */
export const lang = body.dataset.lang === "zh" ? "zh" : "en";
const locale = lang === "zh" ? "zh-CN" : "en";

/** The string for a dotted key, with {name} placeholders filled in. */
export function t(key, args) {
  let text = key.split(".").reduce((node, part) => (node && typeof node === "object" ? node[part] : undefined), strings);
  if (typeof text !== "string") text = key;
  if (args) for (const [name, value] of Object.entries(args)) text = text.split(`{${name}}`).join(String(value));
  return text;
}

/** The languages to switch to: [{code, name, current}]. */
export function languages() {
  return (body.dataset.languages || "").split(",").filter(Boolean).map((pair) => {
    const [code, name] = pair.split(":");
    return { code, name, current: code === lang };
  });
}

/** Switching goes through the server, which remembers the choice in a cookie. */
export function switchLanguage(code) {
  const next = location.pathname + location.hash;
  location.href = `/lang?to=${encodeURIComponent(code)}&next=${encodeURIComponent(next)}`;
}

const timeFormat = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(locale, { month: "short", day: "numeric" });
const fullDayFormat = new Intl.DateTimeFormat(locale, { year: "numeric", month: "long", day: "numeric", weekday: "long" });
const weekdayFormat = new Intl.DateTimeFormat(locale, { weekday: "short" });

function startOfDay(ts) {
  const d = new Date(ts);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** A message's time of day. */
export function clock(ts) {
  return timeFormat.format(new Date(ts));
}

/** A time in a list: the hour today, "yesterday", the weekday this week, else the date. */
export function when(ts) {
  if (!ts) return "";
  const days = Math.round((startOfDay(Date.now()) - startOfDay(ts)) / 86400000);
  if (days <= 0) return clock(ts);
  if (days === 1) return t("time.yesterday");
  if (days < 7) return weekdayFormat.format(new Date(ts));
  return dayFormat.format(new Date(ts));
}

/** The heading of a day in a chat. */
export function dayHeading(ts) {
  const days = Math.round((startOfDay(Date.now()) - startOfDay(ts)) / 86400000);
  if (days === 0) return t("time.today");
  if (days === 1) return t("time.yesterday");
  return fullDayFormat.format(new Date(ts));
}

/** The day a time falls on, as a key. */
export function dayKey(ts) {
  return startOfDay(ts);
}

/** A byte count for people. */
export function size(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Names joined as a list ("A, B and C" / "A、B 和 C"). */
export function list(names) {
  if (typeof Intl.ListFormat === "function") return new Intl.ListFormat(locale, { type: "conjunction" }).format(names);
  return names.join(", ");
}
