/**
 * The toolbar's "warnings" toggle (issue 11): like "invalid", it shows only the rows with
 * warnings (clock, delivery, schema drift) and mirrors itself to the `warnings_only` trait, so
 * Python's `dbg.filtered()` and the thinning filter agree with the list.
 */
import { afterEach, describe, expect, it } from "vitest";
import { RowStore } from "../src/data/store";
import { RowView } from "../src/data/view";
import { FakeModel, makeRow, mountWidget, nextFrame } from "./fake_model";

let cleanup: (() => void) | null = null;
afterEach(() => {
  cleanup?.();
  cleanup = null;
  document.body.replaceChildren();
});

const drift = ["Order Completed: properties.price is a string, established as number"];
const rows = () => [
  makeRow(1, { type: "track", event: "Order Completed" }),
  makeRow(2, { type: "track", event: "Order Completed" }, { warnings: drift }),
  makeRow(3, { type: "page", name: "Home" }, { valid: false, violations: ["missing userId"] }),
  makeRow(4, { type: "page", name: "Home" }, { valid: false, violations: ["missing userId"], warnings: ["sentAt is 5 s before timestamp"] }),
  makeRow(5, { type: "identify" }, { warnings: undefined as unknown as string[] }), // an older kernel's row
];

const seqsOf = (host: HTMLElement): number[] =>
  [...host.querySelectorAll<HTMLElement>('[data-testid="sd-row"]')].map((n) => Number(n.dataset.seq)).sort((a, b) => b - a);

describe("warnings toggle", () => {
  it("the view keeps only rows with warnings, combined with the other criteria", () => {
    const store = new RowStore(100);
    store.applySnapshot({ type: "snapshot", rows: rows(), last_seq: 5, request_id: null, buffered: 5, matched: null });
    const view = new RowView(store, { query: "", typeFilter: [], invalidOnly: false, warningsOnly: true });
    const seqs = (): number[] => Array.from({ length: view.length }, (_, i) => view.at(i)!.seq);
    expect(seqs()).toEqual([4, 2]);
    view.setCriteria({ query: "", typeFilter: [], invalidOnly: true, warningsOnly: true });
    expect(seqs()).toEqual([4]);
    view.setCriteria({ query: "type:track", typeFilter: [], invalidOnly: false, warningsOnly: true });
    expect(seqs()).toEqual([2]);
    view.setCriteria({ query: "", typeFilter: [], invalidOnly: false }); // no warningsOnly: off
    expect(seqs()).toEqual([5, 4, 3, 2, 1]);
  });

  it("the toolbar button filters the list and sets the trait; Python's changes show", async () => {
    const model = new FakeModel();
    const mounted = mountWidget(model);
    const host = mounted.addView();
    cleanup = () => mounted.cleanup();
    model.emitCustom({ type: "snapshot", rows: rows(), last_seq: 5, request_id: null, buffered: 5, matched: null });
    await nextFrame();
    expect(seqsOf(host)).toEqual([5, 4, 3, 2, 1]);
    const toggle = host.querySelector<HTMLButtonElement>('[data-testid="sd-warnings-toggle"]')!;
    expect(toggle.textContent).toBe("warnings");
    expect(toggle.getAttribute("aria-pressed")).toBe("false");
    toggle.click();
    expect(model.traits.warnings_only).toBe(true);
    expect(toggle.getAttribute("aria-pressed")).toBe("true");
    await nextFrame();
    expect(seqsOf(host)).toEqual([4, 2]);
    model.pythonSets("warnings_only", false);
    await nextFrame();
    expect(toggle.getAttribute("aria-pressed")).toBe("false");
    expect(seqsOf(host)).toEqual([5, 4, 3, 2, 1]);
  });
});
