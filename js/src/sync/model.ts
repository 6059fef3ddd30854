/**
 * The anywidget model as this front end uses it: the traits of SegmentDebugger
 * (segment_debugger/widget/widget.py; listed in spec/protocol.json) and the model methods we
 * call, typed with @anywidget/types.
 */
import type { AnyModel } from "@anywidget/types";
import { keysOf, type OutboundMsg, type Selected, type Stats, type Status } from "./protocol";

/** Synced traits of SegmentDebugger. */
export interface ModelTraits {
  /** two-way: the view is frozen */
  paused: boolean;
  /** two-way: the filter box text */
  query: string;
  /** two-way: event types shown; empty = all */
  type_filter: string[];
  /** two-way: only events with violations */
  invalid_only: boolean;
  /** two-way: only events with warnings */
  warnings_only: boolean;
  /** two-way: seq of the selected event, or null; the row with this seq is highlighted */
  selected_seq: number | null;
  /** Python -> front end: the selected event as a dict (derived by Python; not read here) */
  selected: Selected | null;
  /** Python -> front end */
  status: Status;
  /** Python -> front end */
  stats: Stats;
  /** Python -> front end: the store's capacity */
  max_rows: number;
  /**
   * Python -> front end: the kernel's segment_debugger `__version__` (the header warns when it
   * is not this bundle's); missing or empty from a kernel that does not send it: unknown.
   */
  _version?: string;
}

/** Every trait, checked against spec/protocol.json's `traits` by the tests. */
export const TRAIT_NAMES = keysOf<ModelTraits>()([
  "paused",
  "query",
  "type_filter",
  "invalid_only",
  "warnings_only",
  "selected_seq",
  "selected",
  "status",
  "stats",
  "max_rows",
  "_version",
]);

/** The traits this front end writes (spec/protocol.json: sync "two-way"); it only reads the rest. */
export const WRITABLE_TRAITS = [
  "paused",
  "query",
  "type_filter",
  "invalid_only",
  "warnings_only",
  "selected_seq",
] as const;
export type WritableTrait = (typeof WRITABLE_TRAITS)[number];

type Callback = (...args: any[]) => void;

/**
 * The subset of anywidget's `AnyModel<ModelTraits>` this widget uses. `set` takes only the
 * writable traits, so writing a Python -> front end trait (e.g. `selected`) fails to compile.
 */
export interface DebuggerModel extends Pick<AnyModel<ModelTraits>, "get" | "save_changes"> {
  set<K extends WritableTrait>(key: K, value: ModelTraits[K]): void;
  on(event: string, callback: Callback): void;
  off(event?: string | null, callback?: Callback | null): void;
  send(content: OutboundMsg): void;
}

/** Subscribes to a model event and returns the matching unsubscribe. */
export function listen(model: DebuggerModel, event: string, callback: Callback): () => void {
  model.on(event, callback);
  return () => model.off(event, callback);
}

/** Sets a trait from the front end and sends it to Python. */
export function save<K extends WritableTrait>(model: DebuggerModel, key: K, value: ModelTraits[K]): void {
  model.set(key, value);
  model.save_changes();
}
