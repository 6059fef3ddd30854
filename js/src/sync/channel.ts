/**
 * The one request/reply channel to Python: every request gets a `request_id`, its reply
 * (`raw`, `snapshot` or `error` carrying that id) is routed back to whoever asked, and a
 * request with no reply within its timeout fails with a RequestError instead of hanging.
 *
 * Why our own channel and not anywidget's experimental `invoke` / `command`: `command` replies
 * leave Python through anywidget's own send path, beside our pump. A snapshot reply must go
 * out through the same Python send funnel as the deltas (the pump, under its lock), so that a
 * delta sent after the snapshot can never reach the front end before it: the store relies on
 * that seq ordering to detect gaps. Our replies are ordinary custom messages that arrive
 * interleaved with the deltas, in send order, on the same `msg:custom` stream.
 */
import type { DebuggerModel } from "./model";
import type { Buffers, ExportMsg, InboundMsg, OutboundMsg, RawMsg, SnapshotMsg, SuggestionsMsg } from "./protocol";

/** How long a request waits for its reply (a cell running in the kernel delays replies). */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * How long an export waits: the kernel builds the whole file (up to wire.py's
 * MAX_BROWSER_EXPORT_BYTES, 256 MB) and the bytes then cross the kernel connection.
 */
export const EXPORT_TIMEOUT_MS = 120_000;

/**
 * A snapshot request unanswered for this long is sent again (a request made while the kernel
 * connection is still coming back after a reload can be lost), and until then repeat asks on
 * further gaps are held back.
 */
export const SNAPSHOT_RETRY_MS = 3000;

type Outbound<T extends OutboundMsg["type"]> = Extract<OutboundMsg, { type: T }>;
type RequestBody<T extends OutboundMsg["type"]> = Omit<Outbound<T>, "request_id">;

/** What answers each request: Python replies to a clear with the (empty) snapshot. */
const REPLY_TYPE = {
  snapshot_request: "snapshot",
  raw_request: "raw",
  clear_request: "snapshot",
  export_request: "export",
  suggest_request: "suggestions",
} as const satisfies Record<OutboundMsg["type"], InboundMsg["type"]>;

interface ReplyOf {
  snapshot_request: SnapshotMsg;
  raw_request: RawMsg;
  clear_request: SnapshotMsg;
  export_request: ExportMsg;
  suggest_request: SuggestionsMsg;
}

/** Why a request failed: Python said so (`error`), or no reply came in time (`timeout`). */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly kind: "error" | "timeout",
    readonly requestId: string,
  ) {
    super(message);
    this.name = "RequestError";
  }
}

/** Callbacks of one request; exactly one of them runs, at most once. */
export interface ReplyHandlers<R> {
  /** `buffers`: the reply's binary buffers (an export's bytes), empty for the others */
  onReply(reply: R, buffers: Buffers): void;
  onError(error: RequestError): void;
}

interface Pending {
  expect: InboundMsg["type"];
  handlers: ReplyHandlers<never>;
  timer: ReturnType<typeof setTimeout>;
}

let channelCounter = 0;

/**
 * Sends requests and matches replies to them. Callbacks run synchronously when the reply
 * (or the timeout) comes, so a caller that is torn down first cancels its request.
 */
export class Channel {
  private readonly pending = new Map<string, Pending>();
  private readonly prefix: string;
  private counter = 0;

  constructor(private readonly model: Pick<DebuggerModel, "send">) {
    channelCounter += 1;
    this.prefix = `${Date.now().toString(36)}-${channelCounter}`;
  }

  /** Requests waiting for their reply. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Sends a request; returns its cancel (the handlers will not run after it). */
  request<T extends OutboundMsg["type"]>(
    body: RequestBody<T> & { type: T },
    handlers: ReplyHandlers<ReplyOf[T]>,
    timeoutMs = REQUEST_TIMEOUT_MS,
  ): () => void {
    this.counter += 1;
    const id = `${this.prefix}-${this.counter}`;
    const timer = setTimeout(() => {
      if (this.pending.delete(id)) {
        handlers.onError(
          new RequestError(`no reply from Python to ${body.type} within ${timeoutMs / 1000} s`, "timeout", id),
        );
      }
    }, timeoutMs);
    this.pending.set(id, { expect: REPLY_TYPE[body.type], handlers: handlers as ReplyHandlers<never>, timer });
    this.model.send({ ...body, request_id: id } as Outbound<T>);
    return () => this.cancel(id);
  }

  /**
   * Routes an inbound message to the request it answers (by `request_id`). Returns true when
   * it settled one; messages that answer nothing (deltas, Python's own snapshots, late
   * replies) return false and are for the caller to handle.
   */
  settle(msg: InboundMsg, buffers: Buffers = []): boolean {
    const id = "request_id" in msg ? msg.request_id : null;
    const pending = id === null ? undefined : this.pending.get(id);
    if (id === null || !pending) return false;
    this.cancel(id);
    if (msg.type === "error") pending.handlers.onError(new RequestError(msg.message, "error", id));
    else if (msg.type === pending.expect) (pending.handlers.onReply as (m: InboundMsg, b: Buffers) => void)(msg, buffers);
    else pending.handlers.onError(new RequestError(`expected a ${pending.expect} reply, got ${msg.type}`, "error", id));
    return true;
  }

  /** Drops every pending request and its timer (their handlers never run). */
  close(): void {
    for (const id of [...this.pending.keys()]) this.cancel(id);
  }

  private cancel(id: string): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pending.delete(id);
  }
}

/**
 * Snapshot requests: at most one outstanding, re-sent every SNAPSHOT_RETRY_MS until a
 * snapshot arrives. Any snapshot counts as the answer (the reply, the one after a clear, or
 * one Python sends on its own): each replaces the store whole.
 */
export class SnapshotRequests {
  private askedAt: number | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly channel: Channel,
    private readonly onError: (error: RequestError) => void,
  ) {}

  /** True while a snapshot request is unanswered. */
  get outstanding(): boolean {
    return this.askedAt !== null;
  }

  /** Asks for a snapshot, unless a request made less than SNAPSHOT_RETRY_MS ago is pending. */
  ask(): void {
    const now = Date.now();
    if (this.askedAt !== null && now - this.askedAt < SNAPSHOT_RETRY_MS) return;
    this.askedAt = now;
    // The reply itself is applied where every snapshot is (the store); a timeout is the
    // retry's business, an error reply is reported and retried the same way.
    this.channel.request(
      { type: "snapshot_request" },
      { onReply: () => {}, onError: (e) => e.kind === "error" && this.onError(e) },
      SNAPSHOT_RETRY_MS,
    );
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      this.retry = null;
      if (this.askedAt === null) return; // answered meanwhile
      this.askedAt = null;
      this.ask();
    }, SNAPSHOT_RETRY_MS);
  }

  /** A snapshot arrived: stop asking. */
  answered(): void {
    this.askedAt = null;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
  }

  close(): void {
    this.answered();
  }
}
