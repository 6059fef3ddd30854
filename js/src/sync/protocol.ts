/**
 * Messages between the Python widget and this front end. Mirrors
 * segment_debugger/widget/wire.py; spec/protocol.json (generated from it) is checked against
 * the field lists below by test/protocol.test.ts.
 */
import { isObject } from "../data/json";

/** The six Segment call types, in the order the UI shows them. */
export const EVENT_TYPES = ["track", "identify", "page", "screen", "group", "alias"] as const;

/**
 * Payload text longer than this (characters) arrives truncated; `raw_request` gets it all.
 * Segment's 32 KB message limit: every spec-sized payload arrives whole, so the filter sees
 * what Python sees. Must equal wire.py's RAW_PREVIEW_CHARS.
 */
export const RAW_PREVIEW_CHARS = 32_768;

/** One event as the front end sees it (wire.py `Row`). */
export interface Row {
  seq: number;
  /** received_at, milliseconds since the epoch */
  t: number;
  channel: string;
  pattern: string | null;
  /** the Redis Stream entry id ("1714564800000-0") for events read from a stream, else null */
  stream_id: string | null;
  type: string | null;
  event: string | null;
  name: string | null;
  userId: string | null;
  anonymousId: string | null;
  messageId: string | null;
  timestamp: string | null;
  valid: boolean;
  violations: string[];
  /** checks that leave the event valid: clock skew, a messageId seen again, schema drift */
  warnings: string[];
  /** bytes of the raw payload */
  size: number;
  /** payload decoded as UTF-8, at most RAW_PREVIEW_CHARS */
  raw: string;
  /** true when raw was cut to RAW_PREVIEW_CHARS */
  truncated: boolean;
}

/**
 * Python -> front end: the buffered rows that match the view's criteria (the query,
 * type_filter and invalid_only traits; every row when there are none), oldest first, at
 * most `max_rows` (the newest); replaces the store. Sent when asked (`request_id`), after a
 * clear, and unasked (`request_id` null) when the criteria traits change. `buffered`: events
 * in Python's buffer; `matched`: how many of them match (null: no criteria, all match).
 */
export interface SnapshotMsg {
  type: "snapshot";
  rows: Row[];
  last_seq: number;
  request_id: string | null;
  buffered: number;
  matched: number | null;
  /**
   * for each `person:ID` term of the query, every id of that person (rows whose userId, else
   * anonymousId, is one of them match); null: no such term. A new snapshot follows when a
   * person grows or shrinks. Absent (an older kernel): none.
   */
  persons?: Record<string, string[]> | null;
}

/**
 * Python -> front end: the matching rows in (after_seq, last_seq] (Python filters before it
 * thins: events the criteria reject are neither rows nor `skipped`); `skipped` matching rows
 * were thinned away (the newest are sent). `after_seq`/`last_seq` chain over every seq.
 * `buffered` is how many events Python's buffer held when the rows were read (under the
 * buffer's lock, with them): exact as of `last_seq`; `matched` how many of them match the
 * criteria (null: no criteria).
 */
export interface DeltaMsg {
  type: "delta";
  rows: Row[];
  after_seq: number;
  last_seq: number;
  skipped: number;
  buffered: number;
  matched: number | null;
}

/** Python -> front end: the full payload of one event (null when evicted meanwhile). */
export interface RawMsg {
  type: "raw";
  seq: number;
  raw: string | null;
  request_id: string | null;
}

/** Python -> front end: a request could not be served. */
interface ErrorMsg {
  type: "error";
  message: string;
  request_id: string | null;
}

/**
 * Python -> front end: the filtered view (exactly `dbg.filtered()`) as an NDJSON file,
 * answering `export_request`. The file's bytes are not in the message: they are its one
 * binary buffer (`size` bytes), handed to `msg:custom` listeners beside it.
 */
export interface ExportMsg {
  type: "export";
  request_id: string | null;
  /** segment-events-<UTC time>.ndjson */
  filename: string;
  /** events in the file */
  count: number;
  /** bytes in the buffer */
  size: number;
}

/** One entry of the filter box's dropdown (wire.py `SuggestionItem`). */
export interface SuggestionItem {
  /** what the entry shows (may be event data: text only) */
  label: string;
  /** replaces text[start, end) of the request */
  insert: string;
  /** beside it: JSON types and count, a count, or what a pseudo-field does */
  detail: string;
}

/**
 * Python -> front end: suggestions and a one-line hint for the filter box's text at the
 * caret, answering `suggest_request` (Python's analysis/suggest.py).
 */
export interface SuggestionsMsg {
  type: "suggestions";
  items: SuggestionItem[];
  /** the term the items replace: text[start, end) */
  start: number;
  end: number;
  /** a term the grammar reads differently from what was likely meant, or null */
  hint: string | null;
  request_id: string | null;
}

export type InboundMsg = SnapshotMsg | DeltaMsg | RawMsg | ExportMsg | SuggestionsMsg | ErrorMsg;

/**
 * The binary buffers of a custom message, as anywidget hands them to `msg:custom` listeners
 * (DataView in JupyterLab / Voila, ArrayBuffer elsewhere).
 */
export type Buffers = ReadonlyArray<ArrayBuffer | ArrayBufferView>;

interface SnapshotRequest {
  type: "snapshot_request";
  request_id: string;
}

interface RawRequest {
  type: "raw_request";
  seq: number;
  request_id: string;
}

interface ClearRequest {
  type: "clear_request";
  request_id: string;
}

interface ExportRequest {
  type: "export_request";
  request_id: string;
}

interface SuggestRequest {
  type: "suggest_request";
  text: string;
  /** characters before the caret */
  caret: number;
  request_id: string;
}

export type OutboundMsg = SnapshotRequest | RawRequest | ClearRequest | ExportRequest | SuggestRequest;

/** The `status` trait. */
export interface Status {
  state: "connecting" | "live" | "reconnecting" | "stopped" | "error" | string;
  reason?: string | null;
  url?: string | null;
  since?: number | string | null;
}

/** What a gap's `lost_estimate` rests on ("" while it is not known yet). */
export type EstimateBasis = "publisher timestamps" | "receive times" | "exact" | "";

/** A stretch of possible loss (core/buffer.py `Gap.to_dict()`), times in epoch seconds. */
export interface Gap {
  started_at?: number;
  ended_at?: number;
  /** seconds */
  duration?: number;
  reason?: string;
  /** the last seq buffered before the gap */
  after_seq?: number;
  /** events lost in the gap: exact, estimated, or null while unknown */
  lost_estimate?: number | null;
  estimate_basis?: EstimateBasis | string;
}

/**
 * `stats.rates`: events received per second per type over the last 60 s (Python's
 * analysis/rates.py), one value per second from epoch second `t0`; only types with an arrival
 * in the window are listed. null when nothing arrived in the window.
 */
export interface Rates {
  /** epoch second of the first value */
  t0: number;
  /** type ("track", ..., "unknown") -> one count per second, oldest first */
  by_type: Record<string, number[]>;
}

/** The `stats` trait: the buffer's stats plus the pump's display figures. */
export interface Stats {
  /** events ever received; equals last_seq (seqs count received events from 1) */
  received?: number;
  buffered?: number;
  evicted?: number;
  cleared?: number;
  invalid?: number;
  /** events received with at least one warning (clock, delivery, drift, identity) */
  warnings?: number;
  gaps?: number;
  /** events lost in gaps, summed over every gap (estimates included) */
  lost_estimate?: number;
  bytes?: number;
  rate_per_s?: number;
  by_type?: Record<string, number>;
  first_seq?: number | null;
  last_seq?: number;
  max_messages?: number;
  max_bytes?: number;
  /** the newest gap (null: none); read defensively (gapSummary) */
  last_gap?: Gap | null;
  displayed_rate_per_s?: number;
  skipped?: number;
  /** per-type events/s, the last 60 s (null: no arrivals in the window) */
  rates?: Rates | null;
}

/** The `selected` trait (Python -> front end): the selected event as a dict, with its seq. */
export interface Selected {
  seq: number;
  /** the event's person (wire.py `PersonSummary`); null: the event carries no id */
  person?: PersonSummary | null;
  [field: string]: unknown;
}

/** The selected event's person, as Python's identity graph sees it (wire.py `PersonSummary`). */
export interface PersonSummary {
  /** its key: the userId, or the anonymousId of an anonymous person */
  person: string;
  user_ids: string[];
  /** in the order first buffered (alias previousIds included) */
  anonymous_ids: string[];
  /** the person's buffered events when the event was selected */
  events: number;
}

/**
 * `keysOf<T>()([...])`: the list as a tuple, checked by tsc against T. Every entry must be a
 * key of T and every key of T must be listed: a missing one fails with `missing: "<name>"`.
 */
export function keysOf<T>() {
  return <const K extends readonly (keyof T)[]>(
    keys: K & ([Exclude<keyof T, K[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, K[number]> }),
  ): K => keys;
}

/** The fields of a Row, in wire order (tied to the `Row` interface by tsc). */
export const ROW_FIELDS = keysOf<Row>()([
  "seq",
  "t",
  "channel",
  "pattern",
  "stream_id",
  "type",
  "event",
  "name",
  "userId",
  "anonymousId",
  "messageId",
  "timestamp",
  "valid",
  "violations",
  "warnings",
  "size",
  "raw",
  "truncated",
]);

type AnyMsg = InboundMsg | OutboundMsg;

/** Every message type and its fields (tied to the message interfaces by tsc). */
export const MESSAGE_FIELDS = {
  snapshot: keysOf<SnapshotMsg>()(["type", "rows", "last_seq", "request_id", "buffered", "matched", "persons"]),
  delta: keysOf<DeltaMsg>()(["type", "rows", "after_seq", "last_seq", "skipped", "buffered", "matched"]),
  raw: keysOf<RawMsg>()(["type", "seq", "raw", "request_id"]),
  export: keysOf<ExportMsg>()(["type", "request_id", "filename", "count", "size"]),
  suggestions: keysOf<SuggestionsMsg>()(["type", "items", "start", "end", "hint", "request_id"]),
  error: keysOf<ErrorMsg>()(["type", "message", "request_id"]),
  snapshot_request: keysOf<SnapshotRequest>()(["type", "request_id"]),
  raw_request: keysOf<RawRequest>()(["type", "seq", "request_id"]),
  clear_request: keysOf<ClearRequest>()(["type", "request_id"]),
  export_request: keysOf<ExportRequest>()(["type", "request_id"]),
  suggest_request: keysOf<SuggestRequest>()(["type", "text", "caret", "request_id"]),
} as const satisfies { [M in AnyMsg as M["type"]]: readonly (keyof M)[] };

/** Narrows an unknown custom message to an inbound message, or null when it is not one. */
export function asInbound(msg: unknown): InboundMsg | null {
  if (!isObject(msg)) return null;
  switch (msg.type) {
    case "snapshot":
    case "delta":
      return Array.isArray(msg.rows) ? (msg as unknown as InboundMsg) : null;
    case "suggestions":
      return Array.isArray(msg.items) ? (msg as unknown as InboundMsg) : null;
    case "raw":
    case "export":
    case "error":
      return msg as unknown as InboundMsg;
    default:
      return null;
  }
}
