/** Several views of one model (`display(dbg)` twice): one Session, one snapshot request. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { SNAPSHOT_RETRY_MS } from "../src/sync/channel";
import type { Row } from "../src/sync/protocol";
import { FakeModel, mountWidget, nextFrame, trackRow, type MountedWidget } from "./fake_model";

let mounted: MountedWidget | null = null;
afterEach(() => {
  mounted?.cleanup();
  mounted = null;
  document.body.replaceChildren();
  vi.useRealTimers();
});

const tracks = (a: number, b: number): Row[] => Array.from({ length: b - a + 1 }, (_, i) => trackRow(a + i));
const rowSeqs = (host: HTMLElement): number[] =>
  [...host.querySelectorAll<HTMLElement>('[data-testid="sd-row"]')].map((n) => Number(n.dataset.seq)).sort((a, b) => b - a);
const selectedSeqs = (host: HTMLElement): string[] =>
  [...host.querySelectorAll<HTMLElement>(".sd-selected")].map((n) => n.dataset.seq!);
const click = (node: Element): void => {
  node.dispatchEvent(new MouseEvent("click", { bubbles: true }));
};

function twoViews(model = new FakeModel()): { model: FakeModel; a: HTMLElement; b: HTMLElement } {
  mounted = mountWidget(model);
  return { model, a: mounted.addView("a"), b: mounted.addView("b") };
}

describe("two views of one model", () => {
  it("send one snapshot request and show the same rows from one store", async () => {
    const { model, a, b } = twoViews();
    expect(model.sentOfType("snapshot_request")).toHaveLength(1);
    model.emitCustom({ type: "snapshot", rows: tracks(1, 3), last_seq: 3, request_id: null });
    model.emitCustom({ type: "delta", rows: tracks(4, 5), after_seq: 3, last_seq: 5, skipped: 0 });
    await nextFrame();
    expect(rowSeqs(a)).toEqual([5, 4, 3, 2, 1]);
    expect(rowSeqs(b)).toEqual([5, 4, 3, 2, 1]);
    // A third view later starts from the store: no new request.
    const c = mounted!.addView("c");
    await nextFrame();
    expect(rowSeqs(c)).toEqual([5, 4, 3, 2, 1]);
    expect(model.sentOfType("snapshot_request")).toHaveLength(1);
  });

  it("ask once on a gap, and once per retry while unanswered, not once per view", () => {
    vi.useFakeTimers();
    const { model } = twoViews();
    vi.advanceTimersByTime(SNAPSHOT_RETRY_MS);
    expect(model.sentOfType("snapshot_request")).toHaveLength(2);
    model.emitCustom({ type: "snapshot", rows: tracks(1, 2), last_seq: 2, request_id: null });
    model.emitCustom({ type: "delta", rows: tracks(9, 9), after_seq: 8, last_seq: 9, skipped: 0 });
    expect(model.sentOfType("snapshot_request")).toHaveLength(3);
  });

  it("each view's cleanup removes its own listeners; the model's cleanup the rest", () => {
    vi.useFakeTimers();
    const { model, a } = twoViews();
    const filter = a.querySelector<HTMLInputElement>('[data-testid="sd-filter"]')!;
    filter.value = "x";
    filter.dispatchEvent(new Event("input")); // a pending debounce timer in view a
    expect(model.listenerCount("a")).toBeGreaterThan(0);
    expect(model.listenerCount("b")).toBeGreaterThan(0);
    expect(model.listenerCount("model")).toBeGreaterThan(0);

    mounted!.removeView("a");
    expect(model.listenerCount("a")).toBe(0);
    expect(a.children).toHaveLength(0);
    expect(model.listenerCount("b")).toBeGreaterThan(0);

    mounted!.removeView("b");
    expect(model.listenerCount("b")).toBe(0);
    expect(model.listenerCount("model")).toBeGreaterThan(0); // the store keeps following Python

    mounted!.removeModel();
    expect(model.listenerCount()).toBe(0);
    expect(vi.getTimerCount()).toBe(0); // debounce, paint frames, snapshot retry, request timeouts
  });

  it("a click in one view writes selected_seq only, and both views highlight that row", async () => {
    const { model, a, b } = twoViews();
    model.emitCustom({ type: "snapshot", rows: tracks(1, 5), last_seq: 5, request_id: null });
    await nextFrame();
    click(a.querySelector('[data-seq="3"]')!);
    expect(model.writes).toEqual([["selected_seq", 3]]);
    expect(selectedSeqs(a)).toEqual(["3"]);
    expect(selectedSeqs(b)).toEqual(["3"]);
    expect(b.querySelector('[data-testid="sd-detail-seq"]')!.textContent).toBe("3");
  });

  it("a selected_seq set from Python highlights the row in every view", async () => {
    const { model, a, b } = twoViews();
    model.emitCustom({ type: "snapshot", rows: tracks(1, 5), last_seq: 5, request_id: null });
    await nextFrame();
    model.pythonSets("selected_seq", 4);
    expect(selectedSeqs(a)).toEqual(["4"]);
    expect(selectedSeqs(b)).toEqual(["4"]);
    expect(model.writes).toEqual([]);
  });

  it("a view rendered while a row is selected shows it selected", async () => {
    const model = new FakeModel({ selected_seq: 2 });
    mounted = mountWidget(model);
    const a = mounted.addView("a");
    model.emitCustom({ type: "snapshot", rows: tracks(1, 3), last_seq: 3, request_id: null });
    const b = mounted.addView("b");
    await nextFrame();
    expect(selectedSeqs(a)).toEqual(["2"]);
    expect(selectedSeqs(b)).toEqual(["2"]);
    expect(b.querySelector('[data-testid="sd-detail-seq"]')!.textContent).toBe("2");
  });

  it("pause in one view pauses both (one store, one backlog)", async () => {
    const { model, a, b } = twoViews();
    model.emitCustom({ type: "snapshot", rows: tracks(1, 2), last_seq: 2, request_id: null });
    await nextFrame();
    click(a.querySelector('[data-testid="sd-live-toggle"]')!);
    expect(model.traits.paused).toBe(true);
    model.emitCustom({ type: "delta", rows: tracks(3, 5), after_seq: 2, last_seq: 5, skipped: 0 });
    await nextFrame();
    expect(rowSeqs(a)).toEqual([2, 1]);
    expect(rowSeqs(b)).toEqual([2, 1]);
    expect(b.querySelector('[data-testid="sd-new-count"]')!.textContent).toBe("3 new");
    click(b.querySelector('[data-testid="sd-new-count"]')!);
    await nextFrame();
    expect(rowSeqs(a)).toEqual([5, 4, 3, 2, 1]);
  });

  it("a full payload goes to the view that asked for it; an error reply too", async () => {
    const { model, a, b } = twoViews();
    const row = { ...trackRow(1), raw: '{"type":"track"', truncated: true, size: 50_000 };
    model.emitCustom({ type: "snapshot", rows: [row], last_seq: 1, request_id: null });
    await nextFrame();
    model.pythonSets("selected_seq", 1);
    click(a.querySelector('[data-testid="sd-show-full"]')!);
    click(b.querySelector('[data-testid="sd-show-full"]')!);
    const [reqA, reqB] = model.sentOfType("raw_request");
    model.emitCustom({ type: "error", message: "busy", request_id: reqB.request_id });
    expect(b.querySelector('[data-testid="sd-detail-note"]')!.textContent).toBe("Could not load the full payload: busy");
    expect(a.querySelector('[data-testid="sd-detail-note"]')!.textContent).toContain("Loading");
    model.emitCustom({ type: "raw", seq: 1, raw: '{"type":"track","event":"Full"}', request_id: reqA.request_id });
    expect(a.querySelector('[data-testid="sd-detail-text"]')!.textContent).toContain('"event": "Full"');
    expect(b.querySelector('[data-testid="sd-detail-text"]')!.textContent).not.toContain("Full");
  });
});
