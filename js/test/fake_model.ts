/**
 * A fake anywidget model: traits, change events, custom messages, a record of sends. Like
 * anywidget, it hands out a different proxy object per caller (`proxy(context)`), and counts
 * listeners per context, so tests see which of initialize / a view left one behind.
 */
import type { DebuggerModel, ModelTraits, WritableTrait } from "../src/sync/model";
import { createWidget } from "../src/index";
import type { OutboundMsg, Row } from "../src/sync/protocol";

type Callback = (...args: any[]) => void;

interface Registration {
  event: string;
  callback: Callback;
  context: string;
}

export class FakeModel {
  traits: ModelTraits;
  sent: OutboundMsg[] = [];
  saves = 0;
  /** every trait the front end set (through a proxy), in order */
  writes: Array<[WritableTrait, unknown]> = [];
  /** when set, `send` hands each message to this (a fake Python) after recording it */
  onSend: ((msg: OutboundMsg) => void) | null = null;
  private registrations: Registration[] = [];

  constructor(traits: Partial<ModelTraits> = {}) {
    this.traits = {
      paused: false,
      query: "",
      type_filter: [],
      invalid_only: false,
      warnings_only: false,
      selected_seq: null,
      selected: null,
      status: { state: "live", reason: null, url: "redis://localhost:6379/0", since: 0 },
      stats: {},
      max_rows: 10_000,
      ...traits,
    };
  }

  /** The model as one caller sees it; its listeners are counted under `context`. */
  proxy(context: string): DebuggerModel {
    return {
      get: (key) => this.traits[key],
      set: (key, value) => {
        this.writes.push([key, value]);
        this.set(key, value);
      },
      save_changes: () => {
        this.saves += 1;
      },
      on: (event, callback) => {
        this.registrations.push({ event, callback, context });
      },
      off: (event, callback) => {
        this.registrations = this.registrations.filter(
          (r) => r.context !== context || (event && r.event !== event) || (callback && r.callback !== callback),
        );
      },
      send: (content) => {
        this.sent.push(content);
        this.onSend?.(content);
      },
    };
  }

  private set<K extends keyof ModelTraits>(key: K, value: ModelTraits[K]): void {
    const old = this.traits[key];
    this.traits[key] = value;
    if (old !== value) this.emit(`change:${key}`);
  }

  /** Python's side: sets a trait and fires its change event. */
  pythonSets<K extends keyof ModelTraits>(key: K, value: ModelTraits[K]): void {
    this.set(key, value);
  }

  /** Python's side: a custom message arrives, with its binary buffers (DataView, as anywidget). */
  emitCustom(msg: unknown, buffers: Array<ArrayBuffer | ArrayBufferView> = []): void {
    this.emit("msg:custom", msg, buffers);
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const r of [...this.registrations]) if (r.event === event) r.callback(...args);
  }

  /** How many listeners are registered (by `context`, or in all). */
  listenerCount(context?: string): number {
    return this.registrations.filter((r) => context === undefined || r.context === context).length;
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
    stream_id: null,
    type: s("type"),
    event: s("event"),
    name: s("name"),
    userId: s("userId"),
    anonymousId: s("anonymousId"),
    messageId: s("messageId") ?? `m-${seq}`,
    timestamp: s("timestamp"),
    valid: true,
    violations: [],
    warnings: [],
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

/** One model as anywidget runs it: `initialize` once, then `addView()` per `display(dbg)`. */
export interface MountedWidget {
  /** renders one more view into a new host element (listeners counted under `context`) */
  addView(context?: string): HTMLElement;
  /** the cleanup `render` returned for the view in `context` */
  removeView(context: string): void;
  /** the cleanup `initialize` returned */
  removeModel(): void;
  /** every view's cleanup, then the model's */
  cleanup(): void;
}

export function mountWidget(model: FakeModel): MountedWidget {
  const def = createWidget();
  let modelCleanup: (() => void) | null = def.initialize({ model: model.proxy("model") });
  const views = new Map<string, () => void>();
  let n = 0;
  const removeView = (context: string): void => {
    views.get(context)?.();
    views.delete(context);
  };
  const removeModel = (): void => {
    modelCleanup?.();
    modelCleanup = null;
  };
  return {
    addView(context = `view-${++n}`) {
      const host = document.createElement("div");
      document.body.appendChild(host);
      views.set(context, def.render({ model: model.proxy(context), el: host }));
      return host;
    },
    removeView,
    removeModel,
    cleanup() {
      for (const context of [...views.keys()]) removeView(context);
      removeModel();
    },
  };
}
