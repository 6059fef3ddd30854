/** A fake anywidget model: traits, change events, custom messages, a record of sends. */
import type { ModelTraits, WidgetModel } from "../src/model";
import type { OutboundMsg, Row } from "../src/protocol";

type Callback = (...args: any[]) => void;

export class FakeModel implements WidgetModel {
  traits: ModelTraits;
  sent: OutboundMsg[] = [];
  saves = 0;
  private listeners = new Map<string, Set<Callback>>();

  constructor(traits: Partial<ModelTraits> = {}) {
    this.traits = {
      paused: false,
      query: "",
      type_filter: [],
      invalid_only: false,
      selected: null,
      status: { state: "live", reason: null, url: "redis://localhost:6379/0", since: 0 },
      stats: {},
      max_rows: 10_000,
      throttle_ms: 100,
      ...traits,
    };
  }

  get<K extends keyof ModelTraits>(key: K): ModelTraits[K] {
    return this.traits[key];
  }

  set<K extends keyof ModelTraits>(key: K, value: ModelTraits[K]): void {
    const old = this.traits[key];
    this.traits[key] = value;
    if (old !== value) this.emit(`change:${key}`);
  }

  save_changes(): void {
    this.saves += 1;
  }

  on(event: string, callback: Callback): void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(callback);
  }

  off(event?: string | null, callback?: Callback | null): void {
    if (!event) {
      this.listeners.clear();
      return;
    }
    if (!callback) this.listeners.delete(event);
    else this.listeners.get(event)?.delete(callback);
  }

  send(content: OutboundMsg): void {
    this.sent.push(content);
  }

  /** Python's side: sets a trait and fires its change event. */
  pythonSets<K extends keyof ModelTraits>(key: K, value: ModelTraits[K]): void {
    this.set(key, value);
  }

  /** Python's side: a custom message arrives. */
  emitCustom(msg: unknown): void {
    this.emit("msg:custom", msg, []);
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const cb of [...(this.listeners.get(event) ?? [])]) cb(...args);
  }

  /** How many listeners are still registered (0 after cleanup). */
  listenerCount(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  sentOfType<T extends OutboundMsg["type"]>(type: T): Extract<OutboundMsg, { type: T }>[] {
    return this.sent.filter((m): m is Extract<OutboundMsg, { type: T }> => m.type === type);
  }
}

/** A row like Python's Row for a parsed payload. */
export function makeRow(seq: number, payload: Record<string, unknown> | string, extra: Partial<Row> = {}): Row {
  const raw = typeof payload === "string" ? payload : JSON.stringify(payload);
  const data = typeof payload === "string" ? {} : payload;
  const s = (k: string): string | null => (typeof data[k] === "string" ? (data[k] as string) : null);
  return {
    seq,
    t: 1_700_000_000_000 + seq,
    channel: "segment",
    pattern: null,
    type: s("type"),
    event: s("event"),
    name: s("name"),
    userId: s("userId"),
    anonymousId: s("anonymousId"),
    messageId: s("messageId") ?? `m-${seq}`,
    timestamp: s("timestamp"),
    valid: true,
    violations: [],
    size: raw.length,
    raw,
    truncated: false,
    ...extra,
  };
}

/** A track row numbered seq. */
export function trackRow(seq: number, event = `Event ${seq}`): Row {
  return makeRow(seq, { type: "track", event, userId: `user-${seq}`, messageId: `m-${seq}`, properties: { n: seq } });
}

/** Resolves after the next animation frame (the widget paints then). */
export function nextFrame(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}
