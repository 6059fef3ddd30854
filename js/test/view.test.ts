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
  store.applySnapshot({ type: "snapshot", rows: Array.from({ length: n }, (_, i) => row(i + 1)), last_seq: n, request_id: null });
  return { store, view: new RowView(store, all) };
}
const shown = (v: RowView): number[] => Array.from({ length: v.length }, (_, i) => v.at(i)!.seq);
const add = (store: RowStore, view: RowView, from: number, to: number): number => {
  const rows = Array.from({ length: to - from + 1 }, (_, i) => row(from + i));
  const { added } = store.applyDelta({ type: "delta", rows, after_seq: from - 1, last_seq: to, skipped: 0, buffered: to });
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
    store.applySnapshot({ type: "snapshot", rows: [makeRow(1, "garbage", { valid: false })], last_seq: 1, request_id: null });
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
