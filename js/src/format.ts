/** How one row reads in the list: type badge, label, user and time. */
import { EVENT_TYPES, type Row } from "./protocol";
import { payloadOf } from "./payload";

/** The badge text and CSS modifier for a row's type. */
export function badge(row: Row): { text: string; kind: string } {
  const type = row.type ?? "";
  if ((EVENT_TYPES as readonly string[]).includes(type)) return { text: type, kind: type };
  return { text: type || "?", kind: "unknown" };
}

function str(v: unknown): string | null {
  if (typeof v === "string" && v !== "") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return null;
}

function field(data: Record<string, unknown> | null, ...path: string[]): unknown {
  let cur: unknown = data;
  for (const key of path) {
    if (typeof cur !== "object" || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/**
 * The row's main label: track -> event, page/screen -> name,
 * identify -> traits.email or userId, group -> groupId, alias -> previousId → userId.
 */
export function label(row: Row): string {
  switch (row.type) {
    case "track":
      return row.event ?? "";
    case "page":
    case "screen":
      return row.name ?? str(field(payloadOf(row), "properties", "name")) ?? "";
    case "identify":
      return (
        str(field(payloadOf(row), "traits", "email")) ??
        str(field(payloadOf(row), "context", "traits", "email")) ??
        row.userId ??
        ""
      );
    case "group":
      return str(field(payloadOf(row), "groupId")) ?? "";
    case "alias": {
      const prev = str(field(payloadOf(row), "previousId")) ?? "?";
      return `${prev} → ${row.userId ?? "?"}`;
    }
    default:
      return row.event ?? row.name ?? (row.valid ? "" : (row.violations[0] ?? ""));
  }
}

/** The user column: userId, else anonymousId, else empty. */
export function user(row: Row): string {
  return row.userId ?? row.anonymousId ?? "";
}

const pad = (n: number, width = 2): string => String(n).padStart(width, "0");

/** Time of day (local, HH:MM:SS.mmm) of a Date. */
export function timeOfDay(d: Date): string {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/**
 * The time column: the event's timestamp as local time of day when it parses,
 * else the time it was received. `title` holds the full text for a tooltip.
 */
export function time(row: Row): { text: string; title: string } {
  const received = new Date(row.t);
  const receivedIso = Number.isFinite(row.t) ? received.toISOString() : "";
  if (row.timestamp) {
    const d = new Date(row.timestamp);
    if (!Number.isNaN(d.getTime())) {
      return { text: timeOfDay(d), title: `timestamp ${row.timestamp}\nreceived ${receivedIso}` };
    }
  }
  return {
    text: Number.isFinite(row.t) ? timeOfDay(received) : "",
    title: `received ${receivedIso}`,
  };
}

/** Thousands separators: 1234567 -> "1,234,567". */
export function count(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** A byte size for humans: 1536 -> "1.5 KB". */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}
