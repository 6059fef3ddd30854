/**
 * Messages between the Python widget and this front end.
 * Mirrors segment_debugger/protocol.py: keep the two in step.
 */

/** The six Segment call types, in the order the UI shows them. */
export const EVENT_TYPES = ["track", "identify", "page", "screen", "group", "alias"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * Payload text longer than this (characters) arrives truncated; `raw_request` gets it all.
 * Segment's 32 KB message limit: every spec-sized payload arrives whole, so the filter sees
 * what Python sees. Must equal protocol.py's RAW_PREVIEW_CHARS.
 */
export const RAW_PREVIEW_CHARS = 32_768;

/** One event as the front end sees it (protocol.py `Row`). */
export interface Row {
  seq: number;
  /** received_at, milliseconds since the epoch */
  t: number;
  channel: string;
  pattern: string | null;
  type: string | null;
  event: string | null;
  name: string | null;
  userId: string | null;
  anonymousId: string | null;
  messageId: string | null;
  timestamp: string | null;
  valid: boolean;
  violations: string[];
  /** bytes of the raw payload */
  size: number;
  /** payload decoded as UTF-8, at most RAW_PREVIEW_CHARS */
  raw: string;
  /** true when raw was cut to RAW_PREVIEW_CHARS */
  truncated: boolean;
}

/** Python -> front end: every buffered row, oldest first; replaces the store. */
export interface SnapshotMsg {
  type: "snapshot";
  rows: Row[];
  last_seq: number;
  request_id: string | null;
}

/** Python -> front end: rows in (after_seq, last_seq]; `skipped` were thinned away. */
export interface DeltaMsg {
  type: "delta";
  rows: Row[];
  after_seq: number;
  last_seq: number;
  skipped: number;
}

/** Python -> front end: the full payload of one event (null when evicted meanwhile). */
export interface RawMsg {
  type: "raw";
  seq: number;
  raw: string | null;
  request_id: string | null;
}

/** Python -> front end: a request could not be served. */
export interface ErrorMsg {
  type: "error";
  message: string;
  request_id: string | null;
}

export type InboundMsg = SnapshotMsg | DeltaMsg | RawMsg | ErrorMsg;

export interface SnapshotRequest {
  type: "snapshot_request";
  request_id: string;
}

export interface RawRequest {
  type: "raw_request";
  seq: number;
  request_id: string;
}

export interface ClearRequest {
  type: "clear_request";
  request_id: string;
}

export type OutboundMsg = SnapshotRequest | RawRequest | ClearRequest;

/** The `status` trait. */
export interface Status {
  state: "connecting" | "live" | "reconnecting" | "stopped" | "error" | string;
  reason?: string | null;
  url?: string | null;
  since?: number | string | null;
}

/** The `stats` trait: the buffer's stats plus the pump's display figures. */
export interface Stats {
  received?: number;
  buffered?: number;
  evicted?: number;
  invalid?: number;
  gaps?: number;
  bytes?: number;
  rate_per_s?: number;
  by_type?: Record<string, number>;
  first_seq?: number | null;
  last_seq?: number;
  last_gap?: unknown;
  displayed_rate_per_s?: number;
  skipped?: number;
}

/** The `selected` trait: an event dict, always with its seq. */
export interface Selected {
  seq: number;
  [field: string]: unknown;
}

/** Narrows an unknown custom message to an inbound message, or null when it is not one. */
export function asInbound(msg: unknown): InboundMsg | null {
  if (typeof msg !== "object" || msg === null) return null;
  const type = (msg as { type?: unknown }).type;
  switch (type) {
    case "snapshot":
    case "delta":
      return Array.isArray((msg as { rows?: unknown }).rows) ? (msg as InboundMsg) : null;
    case "raw":
    case "error":
      return msg as InboundMsg;
    default:
      return null;
  }
}
