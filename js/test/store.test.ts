import { describe, expect, it } from "vitest";
import { RowStore } from "../src/data/store";
import type { DeltaMsg, Row, SnapshotMsg } from "../src/sync/protocol";
import { trackRow } from "./fake_model";

const rows = (a: number, b: number): Row[] =>
  Array.from({ length: b - a + 1 }, (_, i) => trackRow(a + i));
const snap = (rs: Row[], last = rs.at(-1)?.seq ?? 0, buffered = rs.length, matched: number | null = null): SnapshotMsg => ({
  type: "snapshot",
  rows: rs,
  last_seq: last,
  request_id: null,
  buffered,
  matched,
});
const delta = (
  rs: Row[],
  after: number,
  last = rs.at(-1)?.seq ?? after,
  skipped = 0,
  buffered = last,
  matched: number | null = null,
): DeltaMsg => ({
  type: "delta",
  rows: rs,
  after_seq: after,
  last_seq: last,
  skipped,
  buffered,
  matched,
});
const seqs = (store: RowStore): number[] => store.toArray().map((r) => r.seq);

describe("RowStore", () => {
  it("replaces its rows with a snapshot", () => {
    const store = new RowStore(100);
    store.applySnapshot(snap(rows(1, 3)));
    store.applySnapshot(snap(rows(7, 9)));
    expect(seqs(store)).toEqual([7, 8, 9]);
    expect(store.lastSeq).toBe(9);
  });

  it("appends deltas that follow on", () => {
    const store = new RowStore(100);
    store.applySnapshot(snap(rows(1, 2)));
    const r = store.applyDelta(delta(rows(3, 5), 2));
    expect(r.gap).toBe(false);
    expect(r.added.map((x) => x.seq)).toEqual([3, 4, 5]);
    expect(seqs(store)).toEqual([1, 2, 3, 4, 5]);
    expect(store.lastSeq).toBe(5);
  });

  it("follows on from an empty snapshot's last_seq", () => {
    const store = new RowStore(100);
    store.applySnapshot(snap([], 41));
    expect(store.applyDelta(delta(rows(42, 43), 41)).gap).toBe(false);
    expect(seqs(store)).toEqual([42, 43]);
  });

  it("reports a gap when a delta starts after its last seq, and applies nothing", () => {
    const store = new RowStore(100);
    store.applySnapshot(snap(rows(1, 2)));
    const r = store.applyDelta(delta(rows(6, 7), 5));
    expect(r).toEqual({ added: [], gap: true });
    expect(seqs(store)).toEqual([1, 2]);
    expect(store.lastSeq).toBe(2);
  });

  it("reports a gap for a delta before any snapshot", () => {
    const store = new RowStore(100);
    expect(store.applyDelta(delta(rows(1, 2), 0)).gap).toBe(true);
    expect(store.size).toBe(0);
  });

  it("ignores a delta the snapshot already covers and keeps only new rows of an overlap", () => {
    const store = new RowStore(100);
    store.applySnapshot(snap(rows(1, 5)));
    expect(store.applyDelta(delta(rows(4, 5), 3))).toEqual({ added: [], gap: false });
    const r = store.applyDelta(delta(rows(4, 7), 3));
    expect(r.added.map((x) => x.seq)).toEqual([6, 7]);
    expect(seqs(store)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("accepts thinned deltas: last_seq moves on past the skipped rows", () => {
    const store = new RowStore(100);
    store.applySnapshot(snap(rows(1, 1)));
    const r = store.applyDelta(delta([trackRow(3), trackRow(6)], 1, 6, 3));
    expect(r.gap).toBe(false);
    expect(store.lastSeq).toBe(6);
    expect(store.skipped).toBe(3);
    expect(store.applyDelta(delta(rows(7, 7), 6)).gap).toBe(false);
  });

  it("evicts the oldest rows beyond its capacity and counts them", () => {
    const store = new RowStore(3);
    store.applySnapshot(snap(rows(1, 2)));
    store.applyDelta(delta(rows(3, 6), 2));
    expect(seqs(store)).toEqual([4, 5, 6]);
    expect(store.evicted).toBe(3);
    for (let s = 7; s <= 1000; s++) store.applyDelta(delta([trackRow(s)], s - 1));
    expect(seqs(store)).toEqual([998, 999, 1000]);
    expect(store.at(0)?.seq).toBe(998);
    expect(store.at(3)).toBeUndefined();
    expect(store.bySeq(999)?.seq).toBe(999);
    expect(store.bySeq(997)).toBeUndefined();
  });

  it("shrinks when the capacity shrinks", () => {
    const store = new RowStore(10);
    store.applySnapshot(snap(rows(1, 10)));
    store.setCapacity(4);
    expect(seqs(store)).toEqual([7, 8, 9, 10]);
  });

  it("counts the rows that arrive while paused", () => {
    const store = new RowStore(100);
    store.applySnapshot(snap(rows(1, 3)));
    store.pause();
    store.applyDelta(delta(rows(4, 5), 3));
    store.applyDelta(delta(rows(6, 9), 5));
    expect(store.backlog).toBe(6);
    // a resync snapshot while paused: the backlog is what is newer than the pause point
    store.applySnapshot(snap(rows(2, 10)));
    expect(store.backlog).toBe(7);
    store.resume();
    expect(store.backlog).toBe(0);
    store.applyDelta(delta(rows(11, 12), 10));
    expect(store.backlog).toBe(0);
  });

  it("drops rows Python no longer buffers", () => {
    const store = new RowStore(100);
    store.applySnapshot(snap(rows(1, 6)));
    expect(store.dropBefore(4)).toBe(3);
    expect(seqs(store)).toEqual([4, 5, 6]);
    expect(store.dropBefore(4)).toBe(0);
    expect(store.evicted).toBe(3);
  });

  it("knows Python's buffer length as of the newest message: a snapshot's rows, a delta's buffered", () => {
    const store = new RowStore(100);
    expect(store.pythonBuffered).toBeNull();
    store.applySnapshot(snap(rows(5, 7), 9));
    expect(store.pythonBuffered).toEqual({ seq: 9, count: 3 });
    store.applyDelta(delta(rows(10, 12), 9, 12, 0, 4)); // Python evicted two meanwhile
    expect(store.pythonBuffered).toEqual({ seq: 12, count: 4 });
    store.applyDelta(delta(rows(14, 14), 12, 14, 1, 6)); // thinned: 13 skipped, still buffered
    expect(store.pythonBuffered).toEqual({ seq: 14, count: 6 });
    // a delta without it (an older kernel) keeps the last exact figure
    const old: Record<string, unknown> = { ...delta(rows(15, 15), 14) };
    delete old.buffered;
    store.applyDelta(old as unknown as DeltaMsg);
    expect(store.lastSeq).toBe(15);
    expect(store.pythonBuffered).toEqual({ seq: 14, count: 6 });
    // a gap is not applied, nor is its figure
    store.applyDelta(delta(rows(20, 20), 19, 20, 0, 50));
    expect(store.pythonBuffered).toEqual({ seq: 14, count: 6 });
  });

  it("empties on clear", () => {
    const store = new RowStore(100);
    store.applySnapshot(snap(rows(1, 3)));
    store.clear();
    expect(store.size).toBe(0);
  });
});

describe("RowStore: filter before thinning", () => {
  it("takes buffered and matched from snapshots and deltas (null matched: no criteria)", () => {
    const store = new RowStore(100);
    store.applySnapshot(snap(rows(3, 5), 400, 400, 37));
    expect(store.pythonBuffered).toEqual({ seq: 400, count: 400 });
    expect(store.matched).toBe(37);
    store.applyDelta(delta(rows(401, 401), 400, 410, 0, 410, 38));
    expect(store.pythonBuffered).toEqual({ seq: 410, count: 410 });
    expect(store.matched).toBe(38);
    store.applySnapshot(snap(rows(1, 410), 410, 410, null));
    expect(store.matched).toBeNull();
  });

  it("reads a snapshot from a kernel without buffered/matched as every row, no criteria", () => {
    const store = new RowStore(100);
    store.applySnapshot({ type: "snapshot", rows: rows(1, 4), last_seq: 9, request_id: null } as unknown as SnapshotMsg);
    expect(store.pythonBuffered).toEqual({ seq: 9, count: 4 });
    expect(store.matched).toBeNull();
  });

  it("pauses after the newest message's last_seq, not the newest row's seq", () => {
    const store = new RowStore(100);
    // a rare match: the newest matching row is seq 3, but 50 events were received
    store.applySnapshot(snap(rows(3, 3), 50, 50, 1));
    store.pause();
    expect(store.pausedAt).toBe(50);
    // new criteria: Python's snapshot holds rows received before the pause and after it
    store.applySnapshot(snap([...rows(10, 12), ...rows(51, 52)], 52, 52, 5));
    expect(store.backlog).toBe(2);
  });
});
