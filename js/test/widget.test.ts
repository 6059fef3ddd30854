import { afterEach, describe, expect, it } from "vitest";
import widget from "../src/widget";
import { FakeModel, nextFrame, trackRow } from "./fake_model";
import type { Row } from "../src/protocol";

let cleanup: (() => void) | null = null;

function mount(model: FakeModel): HTMLElement {
  const host = document.createElement("div");
  document.body.appendChild(host);
  cleanup = widget.render({ model, el: host });
  return host;
}

afterEach(() => {
  cleanup?.();
  cleanup = null;
  document.body.replaceChildren();
});

function snapshot(model: FakeModel, rows: Row[]): void {
  model.emitCustom({ type: "snapshot", rows, last_seq: rows.at(-1)?.seq ?? 0, request_id: null });
}

function delta(model: FakeModel, rows: Row[], afterSeq: number): void {
  model.emitCustom({ type: "delta", rows, after_seq: afterSeq, last_seq: rows.at(-1)?.seq ?? afterSeq, skipped: 0 });
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const rowSeqs = (host: HTMLElement): number[] =>
  [...host.querySelectorAll<HTMLElement>('[data-testid="sd-row"]')]
    .map((n) => Number(n.dataset.seq))
    .sort((a, b) => b - a);
const byTestId = (host: HTMLElement, id: string): HTMLElement =>
  host.querySelector<HTMLElement>(`[data-testid="${id}"]`)!;

describe("widget", () => {
  it("asks for a snapshot on render and shows its rows newest first", async () => {
    const model = new FakeModel();
    const host = mount(model);
    expect(model.sentOfType("snapshot_request")).toHaveLength(1);
    snapshot(model, range(1, 5).map((s) => trackRow(s)));
    await nextFrame();
    expect(rowSeqs(host)).toEqual([5, 4, 3, 2, 1]);
    const first = host.querySelector<HTMLElement>('[data-testid="sd-row"][data-seq="5"]')!;
    expect(first.dataset.type).toBe("track");
    expect(first.textContent).toContain("Event 5");
    expect(byTestId(host, "sd-count").textContent).toBe("5 of 5");
  });

  it("appends deltas and repaints once per frame", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, [trackRow(1)]);
    delta(model, [trackRow(2)], 1);
    delta(model, [trackRow(3), trackRow(4)], 2);
    expect(rowSeqs(host)).toEqual([]); // nothing painted before the frame
    await nextFrame();
    expect(rowSeqs(host)).toEqual([4, 3, 2, 1]);
  });
});
