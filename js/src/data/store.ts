/**
 * The front end's copy of the buffer, or of the part of it that matches the view's criteria
 * (Python filters before it thins): rows ordered by seq, at most `capacity`, fed by snapshot
 * and delta messages.
 */
import type { DeltaMsg, Row, SnapshotMsg } from "../sync/protocol";
import type { Persons } from "./filter";
import { isObject } from "./json";

/**
 * Index of the row with this seq in `rows[start..]` (ordered by seq), or -1: the one binary
 * search the store and the view share.
 */
export function findSeq(rows: readonly Row[], seq: number, start = 0): number {
  let lo = start;
  let hi = rows.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = rows[mid].seq;
    if (s === seq) return mid;
    if (s < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** What applying a delta did. */
interface DeltaResult {
  /** rows actually added (duplicates of rows already held are dropped) */
  added: Row[];
  /** the delta does not follow on from what we hold: ask Python for a snapshot */
  gap: boolean;
}

/** A bounded run of rows, oldest first, with seq continuity tracking. */
export class RowStore {
  private rows: Row[] = [];
  /** index of the oldest live row in `rows` (lazy eviction keeps pushes O(1)) */
  private start = 0;
  private _capacity: number;
  /** last_seq of the latest snapshot/delta applied; null before the first snapshot */
  private _lastSeq: number | null = null;
  /** rows dropped because the store was full */
  evicted = 0;
  /** rows Python deliberately did not send (thinning), since the last snapshot */
  skipped = 0;
  /** when paused: rows with a larger seq arrived after the pause */
  private pausedAtSeq: number | null = null;
  private _backlog = 0;
  /** Python's buffer length as of a seq, when a message told it exactly */
  private _pythonBuffered: { seq: number; count: number } | null = null;
  /** buffered events matching Python's criteria, as of the newest message (null: no criteria) */
  private _matched: number | null = null;
  private _persons: Persons | null = null;

  constructor(capacity: number) {
    this._capacity = RowStore.checkCapacity(capacity);
  }

  private static checkCapacity(capacity: number): number {
    return Number.isFinite(capacity) && capacity >= 1 ? Math.floor(capacity) : 10_000;
  }

  /** Number of rows held. */
  get size(): number {
    return this.rows.length - this.start;
  }

  get capacity(): number {
    return this._capacity;
  }

  /** last_seq of the latest message applied (null before the first snapshot). */
  get lastSeq(): number | null {
    return this._lastSeq;
  }

  /**
   * Python's buffer length when it had received `seq` events, exact, as told by the newest
   * message applied: a snapshot (all of its rows) or a delta (its `buffered`). Null before any.
   */
  get pythonBuffered(): { seq: number; count: number } | null {
    return this._pythonBuffered;
  }

  /**
   * How many of Python's buffered events match the view's criteria, as of `lastSeq` (the
   * newest message's `matched`); null when Python has no criteria (every event matches).
   */
  get matched(): number | null {
    return this._matched;
  }

  /** The id sets of the `person:` terms, from the newest snapshot (null: none). */
  get persons(): Persons | null {
    return this._persons;
  }

  /** The seq the pause started after (null when not paused): newer rows are the backlog. */
  get pausedAt(): number | null {
    return this.pausedAtSeq;
  }

  /** Rows received since `pause()` (0 when not paused). */
  get backlog(): number {
    return this._backlog;
  }

  /** The i-th row, oldest first. */
  at(i: number): Row | undefined {
    return i >= 0 && i < this.size ? this.rows[this.start + i] : undefined;
  }

  /** All rows held, oldest first (a fresh array). */
  toArray(): Row[] {
    return this.rows.slice(this.start);
  }

  /** The row with this seq, if held (binary search: rows are ordered by seq). */
  bySeq(seq: number): Row | undefined {
    const i = findSeq(this.rows, seq, this.start);
    return i >= 0 ? this.rows[i] : undefined;
  }

  /** Changes the capacity, evicting the oldest rows if needed. */
  setCapacity(capacity: number): void {
    this._capacity = RowStore.checkCapacity(capacity);
    this.trim();
  }

  /** Replaces everything with the snapshot's rows. */
  applySnapshot(msg: SnapshotMsg): void {
    const rows = [...msg.rows].sort((a, b) => a.seq - b.seq);
    this.rows = rows;
    this.start = 0;
    this.skipped = 0;
    this._lastSeq = msg.last_seq;
    // A kernel without `buffered` sent every buffered row (it had no criteria).
    const buffered = typeof msg.buffered === "number" ? msg.buffered : rows.length;
    this._pythonBuffered = { seq: msg.last_seq, count: buffered };
    this._matched = typeof msg.matched === "number" ? msg.matched : null;
    this._persons = isObject(msg.persons) ? (msg.persons as Persons) : null;
    if (this.pausedAtSeq !== null) {
      const since = this.pausedAtSeq;
      this._backlog = rows.reduce((n, r) => n + (r.seq > since ? 1 : 0), 0);
    }
    this.trim();
  }

  /**
   * Appends a delta's rows. A delta that starts after our last seq means a
   * message was lost: nothing is applied and `gap` is set. A delta that starts
   * before it overlaps what we hold: only the newer rows are added.
   */
  applyDelta(msg: DeltaMsg): DeltaResult {
    if (this._lastSeq === null || msg.after_seq > this._lastSeq) {
      return { added: [], gap: true };
    }
    if (msg.last_seq <= this._lastSeq) {
      return { added: [], gap: false }; // already covered, e.g. by a later snapshot
    }
    const after = this.newestSeq();
    const added = msg.rows.filter((r) => after === null || r.seq > after);
    added.sort((a, b) => a.seq - b.seq);
    for (const row of added) this.rows.push(row);
    this._lastSeq = msg.last_seq;
    // Declared by wire.py; a message without it (an older kernel) leaves the last exact figure.
    if (typeof msg.buffered === "number") this._pythonBuffered = { seq: msg.last_seq, count: msg.buffered };
    this._matched = typeof msg.matched === "number" ? msg.matched : null;
    this.skipped += msg.skipped;
    if (this.pausedAtSeq !== null) this._backlog += added.length;
    this.trim();
    return { added, gap: false };
  }

  /**
   * Drops rows older than `seq` (Python's buffer no longer holds them, e.g. evicted by its
   * byte cap). Returns how many were dropped.
   */
  dropBefore(seq: number): number {
    let n = 0;
    while (this.start < this.rows.length && this.rows[this.start].seq < seq) {
      this.start += 1;
      n += 1;
    }
    this.evicted += n;
    this.trim();
    return n;
  }

  /** Empties the store (the clear button); the next snapshot refills it. */
  clear(): void {
    this.rows = [];
    this.start = 0;
    this._backlog = 0;
    if (this.pausedAtSeq !== null) this.pausedAtSeq = this._lastSeq ?? -1;
  }

  /**
   * Starts counting rows that arrive from now on: rows with a seq after the newest message's
   * `last_seq` (not the newest row's seq: with a filter, or thinning, the rows between them
   * were received before the pause, and a later snapshot holding them must not count them).
   */
  pause(): void {
    if (this.pausedAtSeq === null) {
      this.pausedAtSeq = this._lastSeq ?? this.newestSeq() ?? -1;
      this._backlog = 0;
    }
  }

  /** Stops counting; the backlog goes back to 0. */
  resume(): void {
    this.pausedAtSeq = null;
    this._backlog = 0;
  }

  private newestSeq(): number | null {
    return this.size > 0 ? this.rows[this.rows.length - 1].seq : null;
  }

  private trim(): void {
    const excess = this.size - this._capacity;
    if (excess > 0) {
      this.start += excess;
      this.evicted += excess;
    }
    // Compact once the dead prefix is as large as the live part.
    if (this.start > 0 && this.start >= this.size) {
      this.rows = this.rows.slice(this.start);
      this.start = 0;
    }
  }
}
