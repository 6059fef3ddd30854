import { describe, expect, it } from "vitest";
import { RowStore } from "../src/data/store";
import { RowView, type Criteria } from "../src/data/view";
import type { Row } from "../src/sync/protocol";
import { makeRow } from "./fake_model";

const all: Criteria = { query: "", typeFilter: [], invalidOnly: false };
const kinds = ["track", "page", "identify"];
const row = (seq: number): Row =>
  makeRow(seq, { type: kinds[seq % 3], event: `E${seq}` }, { valid: seq % 5 !== 0, violations: seq % 5 ? [] : ["bad"] });

function setup(n: number, capacity = 100): { store: RowStore; view: RowView } {
  const store = new RowStore(capacity);
  store.applySnapshot({ type: "snapshot", rows: Array.from({ length: n }, (_, i) => row(i + 1)), last_seq: n, request_id: null, buffered: n, matched: null });
  return { store, view: new RowView(store, all) };
}
const shown = (v: RowView): number[] => Array.from({ length: v.length }, (_, i) => v.at(i)!.seq);
const add = (store: RowStore, view: RowView, from: number, to: number): number => {
  const rows = Array.from({ length: to - from + 1 }, (_, i) => row(from + i));
  const { added } = store.applyDelta({ type: "delta", rows, after_seq: from - 1, last_seq: to, skipped: 0, buffered: to, matched: null });
  return view.append(added);
};

describe("RowView", () => {
  it("is newest first and finds rows by seq", () => {
    const { view } = setup(5);
    expect(shown(view)).toEqual([5, 4, 3, 2, 1]);
    expect(view.indexOfSeq(4)).toBe(1);
    expect(view.indexOfSeq(99)).toBe(-1);
  });

  it("combines type toggles, invalid-only and the query", () => {
    const { view } = setup(15);
    view.setCriteria({ query: "", typeFilter: ["page"], invalidOnly: false });
    expect(shown(view)).toEqual([13, 10, 7, 4, 1]);
    view.setCriteria({ query: "", typeFilter: ["page"], invalidOnly: true });
    expect(shown(view)).toEqual([10]);
    view.setCriteria({ query: "-event:e1*", typeFilter: [], invalidOnly: true });
    expect(shown(view)).toEqual([5]);
    expect(view.total).toBe(15);
  });

  it("hides rows without a known type when types are toggled", () => {
    const store = new RowStore(10);
    store.applySnapshot({ type: "snapshot", rows: [makeRow(1, "garbage", { valid: false })], last_seq: 1, request_id: null, buffered: 1, matched: null });
    const view = new RowView(store, { query: "", typeFilter: ["track"], invalidOnly: false });
    expect(view.length).toBe(0);
    view.setCriteria(all);
    expect(view.length).toBe(1);
  });

  it("appends matching new rows, reports how many went on top, drops evicted ones", () => {
    const { store, view } = setup(10, 12);
    view.setCriteria({ query: "type:track", typeFilter: [], invalidOnly: false });
    expect(add(store, view, 11, 16)).toBe(2); // 12 and 15 are tracks (seq % 3 === 0)
    expect(shown(view)).toEqual([15, 12, 9, 6]); // 3 was evicted with seqs 1..4
  });

  it("stays frozen while new rows arrive, and refilters the frozen rows", () => {
    const { store, view } = setup(6);
    view.freeze();
    expect(add(store, view, 7, 9)).toBe(0);
    expect(shown(view)).toEqual([6, 5, 4, 3, 2, 1]);
    view.setCriteria({ query: "type:track", typeFilter: [], invalidOnly: false });
    expect(shown(view)).toEqual([6, 3]);
    view.unfreeze();
    expect(shown(view)).toEqual([9, 6, 3]);
  });
});

describe("RowView: snapshots", () => {
  const types = (t: string[]): Criteria => ({ query: "", typeFilter: t, invalidOnly: false });
  const snapshotOf = (store: RowStore, seqs: number[], last: number): void =>
    store.applySnapshot({ type: "snapshot", rows: seqs.map(row), last_seq: last, request_id: null, buffered: last, matched: null });

  it("refilters a live view on a snapshot", () => {
    const { store, view } = setup(6);
    snapshotOf(store, [7, 8, 9], 9);
    view.applySnapshot();
    expect(shown(view)).toEqual([9, 8, 7]);
  });

  it("frozen: a snapshot with the freeze's criteria changes nothing", () => {
    const { store, view } = setup(6);
    view.freeze();
    snapshotOf(store, [1, 2, 3, 4, 5, 6, 7, 8], 8);
    view.applySnapshot();
    expect(shown(view)).toEqual([6, 5, 4, 3, 2, 1]);
  });

  it("frozen, criteria changed: merges the snapshot's rows up to the freeze, never newer", () => {
    const store = new RowStore(100);
    // Python had type:page: the store holds pages only (seq % 3 === 1)
    snapshotOf(store, [1, 4, 7, 10], 11);
    const view = new RowView(store, types(["page"]));
    view.freeze();
    view.setCriteria(types(["page", "track"])); // widened while paused: only the frozen pages
    expect(shown(view)).toEqual([10, 7, 4, 1]);
    snapshotOf(store, [1, 3, 4, 6, 7, 9, 10, 12, 13], 13); // Python's pages and tracks, to 13
    view.applySnapshot();
    expect(shown(view)).toEqual([10, 9, 7, 6, 4, 3, 1]); // 12 and 13 came after the pause
    view.unfreeze();
    expect(shown(view)).toEqual([13, 12, 10, 9, 7, 6, 4, 3, 1]);
  });

  it("finds where a list anchored on a seq stays (the newest row at or before it)", () => {
    const { view } = setup(12);
    view.setCriteria({ query: "type:track", typeFilter: [], invalidOnly: false }); // 12, 9, 6, 3
    expect(view.indexAtOrBefore(9)).toBe(1);
    expect(view.indexAtOrBefore(8)).toBe(2);
    expect(view.indexAtOrBefore(100)).toBe(0);
    expect(view.indexAtOrBefore(2)).toBe(-1);
  });
});
