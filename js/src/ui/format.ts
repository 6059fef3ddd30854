/** How one row reads in the list: type badge, label, user and time. */
import { EVENT_TYPES, type Row } from "../sync/protocol";
import { isObject } from "../data/json";
import { payloadOf } from "../data/payload";

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
    if (!isObject(cur)) return undefined;
    cur = cur[key];
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

/** When the row was received (row.t) as an ISO string, or "" when unknown. */
export function receivedIso(row: Row): string {
  return Number.isFinite(row.t) ? new Date(row.t).toISOString() : "";
}

/**
 * The time column: when the event was received, as local time of day, so times run in
 * the list's (arrival) order. `title` (the tooltip) holds the full received time, the
 * event's own `timestamp` (which senders set and which need not be in order) and, for events
 * read from a Redis Stream, the entry id (the time the stream stored it, and its place there).
 */
export function time(row: Row): { text: string; title: string } {
  const text = Number.isFinite(row.t) ? timeOfDay(new Date(row.t)) : "";
  let title = `received ${receivedIso(row) || "?"}\ntimestamp ${row.timestamp ?? "(none)"}`;
  if (row.stream_id != null) title += `\nstream id ${row.stream_id}`;
  return { text, title };
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
