/**
 * The model-level state, one per widget model however many views show it: the store fed by
 * snapshots and deltas, the request channel with its snapshot retry, and the paused flag
 * (the store counts the backlog). Views subscribe to it and keep only their own UI state.
 */
import { DeltaRates } from "../data/rate";
import { RowStore } from "../data/store";
import { Channel, EXPORT_TIMEOUT_MS, SnapshotRequests, type ReplyHandlers } from "./channel";
import { listen, save, type DebuggerModel } from "./model";
import { asInbound, type Buffers, type ExportMsg, type RawMsg, type Row, type SuggestionsMsg } from "./protocol";

/** A suggestion request unanswered this long is given up (the next keystroke asks again). */
const SUGGEST_TIMEOUT_MS = 10_000;

/** Store capacity when the max_rows trait is missing or not a positive number. */
const DEFAULT_MAX_ROWS = 10_000;

/** What changed in the shared state; views repaint from it. */
export type SessionEvent =
  /** the store was replaced */
  | { kind: "snapshot" }
  /** rows were appended to the store */
  | { kind: "delta"; added: readonly Row[] }
  /** the store dropped its oldest rows (capacity, or Python evicted them) */
  | { kind: "trimmed" }
  /** the user emptied the store (clear button); Python's empty snapshot follows */
  | { kind: "cleared" }
  | { kind: "paused"; paused: boolean };

type Listener = (event: SessionEvent) => void;

export class Session {
  readonly store: RowStore;
  /** rows per second the deltas bring (shown, and shown + thinned: the matching rate) */
  readonly rates = new DeltaRates();
  private readonly channel: Channel;
  private readonly snapshots: SnapshotRequests;
  private readonly listeners = new Set<Listener>();
  private readonly cleanups: Array<() => void> = [];
  private _paused = false;

  constructor(private readonly model: DebuggerModel) {
    this.store = new RowStore(model.get("max_rows") || DEFAULT_MAX_ROWS);
    this.channel = new Channel(model);
    this.snapshots = new SnapshotRequests(this.channel, (e) =>
      console.warn(`segment_debugger: snapshot request failed: ${e.message}`),
    );
    if (model.get("paused")) this.applyPaused(true);
    this.cleanups.push(
      listen(model, "msg:custom", (msg: unknown, buffers?: Buffers) => this.onMessage(msg, buffers ?? [])),
      listen(model, "change:paused", () => this.applyPaused(Boolean(model.get("paused")))),
      listen(model, "change:max_rows", () => {
        this.store.setCapacity(model.get("max_rows") || DEFAULT_MAX_ROWS);
        this.emit({ kind: "trimmed" });
      }),
      listen(model, "change:stats", () => {
        // Rows Python no longer buffers (its byte cap evicts too) leave the store as well.
        const first = model.get("stats")?.first_seq;
        if (typeof first === "number" && this.store.dropBefore(first) > 0) this.emit({ kind: "trimmed" });
      }),
    );
    this.snapshots.ask();
  }

  get paused(): boolean {
    return this._paused;
  }

  /** Calls `listener` on every change; returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The user paused or resumed: at once here, then mirrored to Python. */
  setPaused(paused: boolean): void {
    this.applyPaused(paused);
    if (Boolean(this.model.get("paused")) !== paused) save(this.model, "paused", paused);
  }

  /** The clear button: empties the store and the selection, asks Python to clear its buffer. */
  clear(): void {
    this.store.clear();
    this.emit({ kind: "cleared" });
    if (this.model.get("selected_seq") != null) save(this.model, "selected_seq", null);
    // Python answers with an (empty) snapshot, applied like any other.
    this.channel.request({ type: "clear_request" }, { onReply: () => {}, onError: () => {} });
  }

  /** Asks Python for the full payload of one event; returns the cancel. */
  requestRaw(seq: number, handlers: ReplyHandlers<RawMsg>): () => void {
    return this.channel.request({ type: "raw_request", seq }, handlers);
  }

  /**
   * Asks Python for the filtered view as an NDJSON file (the kernel builds it from its
   * buffer: exactly `dbg.filtered()`); the reply's one buffer holds the bytes. Returns the
   * cancel.
   */
  requestExport(handlers: ReplyHandlers<ExportMsg>): () => void {
    return this.channel.request({ type: "export_request" }, handlers, EXPORT_TIMEOUT_MS);
  }

  /**
   * Asks Python for the filter box's suggestions and hint at the caret (computed from the
   * traffic: analysis/suggest.py). Returns the cancel.
   */
  requestSuggestions(text: string, caret: number, handlers: ReplyHandlers<SuggestionsMsg>): () => void {
    return this.channel.request({ type: "suggest_request", text, caret }, handlers, SUGGEST_TIMEOUT_MS);
  }

  /** Removes every listener and timer; pending requests are dropped. */
  dispose(): void {
    for (const fn of this.cleanups.splice(0)) fn();
    this.snapshots.close();
    this.channel.close();
    this.listeners.clear();
  }

  private emit(event: SessionEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }

  private applyPaused(paused: boolean): void {
    if (paused === this._paused) return;
    this._paused = paused;
    if (paused) this.store.pause();
    else this.store.resume();
    this.emit({ kind: "paused", paused });
  }

  private onMessage(content: unknown, buffers: Buffers): void {
    const msg = asInbound(content);
    if (!msg) {
      console.warn("segment_debugger: ignoring an unknown message", content);
      return;
    }
    if (msg.type === "error") console.warn(`segment_debugger: ${msg.message}`);
    const settled = this.channel.settle(msg, buffers);
    switch (msg.type) {
      case "snapshot":
        // Asked for, after a clear, or unasked when the criteria traits changed: Python's
        // rows now match the new criteria (views keep their own filter box and scroll).
        this.store.applySnapshot(msg);
        this.rates.reset(performance.now());
        this.snapshots.answered();
        this.emit({ kind: "snapshot" });
        return;
      case "delta": {
        const before = this.store.lastSeq;
        const result = this.store.applyDelta(msg);
        if (result.gap) this.snapshots.ask();
        else {
          if (before !== null && msg.last_seq > before) this.rates.add(performance.now(), msg.rows.length, msg.skipped);
          this.emit({ kind: "delta", added: result.added });
        }
        return;
      }
      case "raw":
        if (!settled) console.debug("segment_debugger: a raw reply nobody waits for", msg.seq);
        return;
      case "export":
        // Late (after its timeout) or its view closed: the bytes are dropped, never saved unasked.
        if (!settled) console.debug("segment_debugger: an export nobody waits for", msg.filename);
        return;
      case "suggestions": // late, or for text the box no longer holds: dropped
        return;
      case "error":
        return;
    }
  }
}
