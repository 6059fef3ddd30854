/**
 * The anywidget model as this front end uses it: the traits of
 * segment_debugger/widget.py (SegmentDebugger) and the model methods we call.
 */
import type { OutboundMsg, Selected, Stats, Status } from "./protocol";

/** Synced traits of SegmentDebugger (see segment_debugger/protocol.py). */
export interface ModelTraits {
  /** two-way: the view is frozen */
  paused: boolean;
  /** two-way: the filter box text */
  query: string;
  /** two-way: event types shown; empty = all */
  type_filter: string[];
  /** two-way: only events with violations */
  invalid_only: boolean;
  /** two-way: the selected event, or null */
  selected: Selected | null;
  /** Python -> front end */
  status: Status;
  /** Python -> front end */
  stats: Stats;
  /** Python -> front end: the store's capacity */
  max_rows: number;
  /** Python -> front end: the delta interval */
  throttle_ms: number;
}

type Callback = (...args: any[]) => void;

/** The subset of anywidget's AnyModel this widget needs. */
export interface WidgetModel {
  get<K extends keyof ModelTraits>(key: K): ModelTraits[K];
  set<K extends keyof ModelTraits>(key: K, value: ModelTraits[K]): void;
  save_changes(): void;
  on(event: string, callback: Callback): void;
  off(event?: string | null, callback?: Callback | null): void;
  send(content: OutboundMsg, callbacks?: unknown, buffers?: ArrayBuffer[]): void;
}

/** Subscribes to a model event and returns the matching unsubscribe. */
export function listen(model: WidgetModel, event: string, callback: Callback): () => void {
  model.on(event, callback);
  return () => model.off(event, callback);
}
