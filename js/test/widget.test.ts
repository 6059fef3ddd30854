import { afterEach, describe, expect, it, vi } from "vitest";
import { SNAPSHOT_RETRY_MS } from "../src/sync/channel";
import { ROW_HEIGHT } from "../src/ui/list";
import { RAW_PREVIEW_CHARS, type Row } from "../src/sync/protocol";
import { FakeModel, makeRow, mountWidget, nextFrame, trackRow } from "./fake_model";

let cleanup: (() => void) | null = null;

/** initialize + one view, as anywidget does for one `display(dbg)`; `cleanup` undoes both. */
function mount(model: FakeModel): HTMLElement {
  const mounted = mountWidget(model);
  const host = mounted.addView();
  cleanup = () => mounted.cleanup();
  return host;
}

afterEach(() => {
  cleanup?.();
  cleanup = null;
  document.body.replaceChildren();
});

/** What Python says beside the rows (a field left out is left out of the message). */
interface Extra {
  last_seq?: number;
  buffered?: number;
  matched?: number | null;
  skipped?: number;
}

/** An unasked snapshot (request_id null), as after clear() or a criteria change. */
function snapshot(model: FakeModel, rows: Row[], lastSeq = rows.at(-1)?.seq ?? 0, extra: Extra = {}): void {
  model.emitCustom({ type: "snapshot", rows, last_seq: lastSeq, request_id: null, ...extra });
}

function delta(model: FakeModel, rows: Row[], afterSeq: number, extra: Extra = {}): void {
  model.emitCustom({ type: "delta", rows, after_seq: afterSeq, last_seq: rows.at(-1)?.seq ?? afterSeq, skipped: 0, ...extra });
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const tracks = (a: number, b: number): Row[] => range(a, b).map((s) => trackRow(s));
const rowSeqs = (host: HTMLElement): number[] =>
  [...host.querySelectorAll<HTMLElement>('[data-testid="sd-row"]')]
    .map((n) => Number(n.dataset.seq))
    .sort((a, b) => b - a);
const byTestId = (host: HTMLElement, id: string): HTMLElement => {
  const node = host.querySelector<HTMLElement>(`[data-testid="${id}"]`);
  if (!node) throw new Error(`no element with data-testid=${id}`);
  return node;
};
const click = (node: Element): void => {
  node.dispatchEvent(new MouseEvent("click", { bubbles: true }));
};
const key = (node: Element, k: string): void => {
  node.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
};

describe("widget: rows", () => {
  it("asks for a snapshot on render and shows its rows newest first", async () => {
    const model = new FakeModel();
    const host = mount(model);
    expect(model.sentOfType("snapshot_request")).toHaveLength(1);
    snapshot(model, tracks(1, 5));
    await nextFrame();
    expect(rowSeqs(host)).toEqual([5, 4, 3, 2, 1]);
    const first = host.querySelector<HTMLElement>('[data-testid="sd-row"][data-seq="5"]')!;
    expect(first.dataset.type).toBe("track");
    expect(first.textContent).toContain("Event 5");
    expect(byTestId(host, "sd-count").textContent).toBe("5 of 5");
  });

  it("asks again when the model is initialized again (a page reload)", () => {
    const model = new FakeModel();
    mount(model);
    cleanup?.();
    mount(model);
    expect(model.sentOfType("snapshot_request")).toHaveLength(2);
  });

  it("asks again while a snapshot request stays unanswered (lost during a reload)", () => {
    vi.useFakeTimers();
    try {
      const model = new FakeModel();
      mount(model);
      expect(model.sentOfType("snapshot_request")).toHaveLength(1);
      vi.advanceTimersByTime(SNAPSHOT_RETRY_MS - 1);
      expect(model.sentOfType("snapshot_request")).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(model.sentOfType("snapshot_request")).toHaveLength(2);
      snapshot(model, tracks(1, 2));
      vi.advanceTimersByTime(SNAPSHOT_RETRY_MS * 3);
      expect(model.sentOfType("snapshot_request")).toHaveLength(2); // answered: no more asks
      cleanup?.();
      cleanup = null;
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("appends deltas and paints once per frame", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, [trackRow(1)]);
    delta(model, [trackRow(2)], 1);
    delta(model, [trackRow(3), trackRow(4)], 2);
    expect(rowSeqs(host)).toEqual([]); // nothing painted before the frame
    await nextFrame();
    expect(rowSeqs(host)).toEqual([4, 3, 2, 1]);
  });

  it("asks for a snapshot on a seq gap, once while it is outstanding", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, tracks(1, 3));
    delta(model, tracks(6, 7), 5);
    delta(model, tracks(8, 9), 7);
    expect(model.sentOfType("snapshot_request")).toHaveLength(2); // render + first gap
    snapshot(model, tracks(1, 9));
    delta(model, tracks(12, 12), 11);
    expect(model.sentOfType("snapshot_request")).toHaveLength(3);
    await nextFrame();
    expect(rowSeqs(host)).toEqual(range(1, 9).reverse());
  });

  it("holds at most max_rows rows", async () => {
    const model = new FakeModel({ max_rows: 50 });
    const host = mount(model);
    snapshot(model, tracks(1, 40));
    delta(model, tracks(41, 80), 40, { buffered: 50 }); // Python's buffer holds max_rows too
    await nextFrame();
    expect(byTestId(host, "sd-count").textContent).toBe("50 of 50");
  });

  it("keeps fewer than 100 row elements with 10,000 rows", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, tracks(1, 10_000));
    await nextFrame();
    const seqs = rowSeqs(host);
    expect(seqs.length).toBeGreaterThan(10);
    expect(seqs.length).toBeLessThan(100);
    expect(seqs[0]).toBe(10_000);
  });

  it("renders hostile event data as text and creates no element from it", async () => {
    const model = new FakeModel();
    const host = mount(model);
    const evil = "<img src=x onerror=globalThis.__pwned=1>";
    snapshot(model, [
      makeRow(1, { type: "track", event: evil, userId: "<b>bold</b>", properties: { html: evil } }),
    ]);
    await nextFrame();
    click(host.querySelector('[data-testid="sd-row"]')!);
    const label = host.querySelector('[data-seq="1"] .sd-label')!;
    expect(label.textContent).toBe(evil);
    expect(host.querySelector("img")).toBeNull();
    expect(host.querySelector("b")).toBeNull();
    expect(byTestId(host, "sd-detail").textContent).toContain(evil);
    click(byTestId(host, "sd-detail-tab-pretty"));
    expect(byTestId(host, "sd-detail").textContent).toContain("analytics.track(");
    expect(host.querySelector("img")).toBeNull();
    expect((globalThis as { __pwned?: number }).__pwned).toBeUndefined();
  });
});

describe("widget: pause", () => {
  it("freezes the list while deltas arrive, counts them, and catches up on resume", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, tracks(1, 3));
    await nextFrame();
    click(byTestId(host, "sd-live-toggle"));
    expect(model.traits.paused).toBe(true);
    expect(model.saves).toBeGreaterThan(0);
    delta(model, tracks(4, 8), 3);
    delta(model, tracks(9, 10), 8);
    await nextFrame();
    expect(rowSeqs(host)).toEqual([3, 2, 1]);
    const newCount = byTestId(host, "sd-new-count");
    expect(newCount.hidden).toBe(false);
    expect(newCount.textContent).toBe("7 new");
    click(newCount);
    expect(model.traits.paused).toBe(false);
    await nextFrame();
    expect(rowSeqs(host)).toEqual(range(1, 10).reverse());
    expect(newCount.hidden).toBe(true);
  });

  it("freezes when Python sets paused, and resumes when Python clears it", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, tracks(1, 2));
    model.pythonSets("paused", true);
    delta(model, tracks(3, 4), 2);
    await nextFrame();
    expect(rowSeqs(host)).toEqual([2, 1]);
    expect(byTestId(host, "sd-new-count").textContent).toBe("2 new");
    model.pythonSets("paused", false);
    await nextFrame();
    expect(rowSeqs(host)).toEqual([4, 3, 2, 1]);
  });

  it("starts frozen when the trait is already set", async () => {
    const model = new FakeModel({ paused: true });
    const host = mount(model);
    snapshot(model, tracks(1, 2));
    await nextFrame();
    expect(byTestId(host, "sd-live-toggle").getAttribute("aria-pressed")).toBe("true");
    expect(byTestId(host, "sd-new-count").textContent).toBe("2 new");
  });
});

describe("widget: filter", () => {
  it("filters at once and saves the query after a pause in typing", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, [
      makeRow(1, { type: "track", event: "A", userId: "u" }),
      makeRow(2, { type: "identify", userId: "u" }),
      makeRow(3, { type: "identify", userId: "v" }),
    ]);
    const input = byTestId(host, "sd-filter") as HTMLInputElement;
    input.value = "type:identify";
    input.dispatchEvent(new Event("input"));
    expect(model.traits.query).toBe("");
    await nextFrame();
    expect(rowSeqs(host)).toEqual([3, 2]);
    expect(byTestId(host, "sd-count").textContent).toBe("2 of 3");
    await vi.waitFor(() => expect(model.traits.query).toBe("type:identify"), { timeout: 2000 });
  });

  it("applies a query set from Python, and new rows pass through it", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, tracks(1, 4));
    model.pythonSets("query", "properties.n:>2");
    delta(model, tracks(5, 5), 4);
    await nextFrame();
    expect(rowSeqs(host)).toEqual([5, 4, 3]);
    expect((byTestId(host, "sd-filter") as HTMLInputElement).value).toBe("properties.n:>2");
  });

  it("filters on the rows' stream ids (stream_id:), not on the payload", async () => {
    const model = new FakeModel();
    const host = mount(model);
    const fromStream = (seq: number): Row => ({ ...trackRow(seq), stream_id: `1714564800000-${seq}` });
    snapshot(model, [trackRow(1), fromStream(2), fromStream(3), trackRow(4)]);
    model.pythonSets("query", "stream_id:*");
    delta(model, [fromStream(5), trackRow(6)], 4);
    await nextFrame();
    expect(rowSeqs(host)).toEqual([5, 3, 2]);
    model.pythonSets("query", "stream_id:*-3");
    await nextFrame();
    expect(rowSeqs(host)).toEqual([3]);
    model.pythonSets("query", "-stream_id:*");
    await nextFrame();
    expect(rowSeqs(host)).toEqual([6, 4, 1]);
    expect(byTestId(host, "sd-filter").title).toContain("stream_id:");
  });

  it("type and invalid toggles filter and set their traits", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, [
      makeRow(1, { type: "track", event: "A" }),
      makeRow(2, { type: "page", name: "P" }),
      makeRow(3, { type: "page", name: "Q" }, { valid: false, violations: ["missing userId"] }),
    ]);
    click(byTestId(host, "sd-type-toggle-page"));
    expect(model.traits.type_filter).toEqual(["page"]);
    await nextFrame();
    expect(rowSeqs(host)).toEqual([3, 2]);
    click(byTestId(host, "sd-invalid-toggle"));
    expect(model.traits.invalid_only).toBe(true);
    await nextFrame();
    expect(rowSeqs(host)).toEqual([3]);
    model.pythonSets("type_filter", []);
    model.pythonSets("invalid_only", false);
    await nextFrame();
    expect(rowSeqs(host)).toEqual([3, 2, 1]);
  });
});

describe("widget: filter before thinning (issue 10)", () => {
  const mixed = (n: number): Row[] =>
    range(1, n).map((seq) =>
      seq % 4 === 0
        ? makeRow(seq, { type: "identify", userId: `u-${seq}` })
        : makeRow(seq, { type: "track", event: `E${seq}`, userId: `u-${seq}` }),
    );
  const identifies = (n: number): Row[] => mixed(n).filter((r) => r.type === "identify");

  it("an unasked snapshot (criteria changed) replaces the store; widening waits for it", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, mixed(40), 40, { buffered: 40, matched: null });
    click(byTestId(host, "sd-type-toggle-identify"));
    expect(model.traits.type_filter).toEqual(["identify"]);
    await nextFrame();
    expect(rowSeqs(host)).toEqual([40, 36, 32, 28, 24, 20, 16, 12, 8, 4]); // at once, locally
    expect(byTestId(host, "sd-count").textContent).toBe("10 of 40");
    // Python's snapshot of what matches; then deltas carry matching rows only
    snapshot(model, identifies(40), 40, { buffered: 40, matched: 10 });
    delta(model, [makeRow(44, { type: "identify", userId: "u-44" })], 40, { last_seq: 45, buffered: 45, matched: 11 });
    await nextFrame();
    expect(rowSeqs(host)).toEqual([44, 40, 36, 32, 28, 24, 20, 16, 12, 8, 4]);
    expect(byTestId(host, "sd-count").textContent).toBe("11 of 45");
    expect(byTestId(host, "sd-stats").textContent).toMatch(/^45 received · .* · 45 buffered/);
    // widening: the store holds identify rows only until Python's snapshot brings the rest
    click(byTestId(host, "sd-type-toggle-identify"));
    await nextFrame();
    expect(rowSeqs(host)).toHaveLength(11);
    snapshot(model, mixed(45), 45, { buffered: 45, matched: null });
    await nextFrame();
    expect(byTestId(host, "sd-count").textContent).toBe("45 of 45");
    expect(model.sentOfType("snapshot_request")).toHaveLength(1); // nothing asked for
  });

  it("counts 'N of M matching (B buffered)' when Python matched more than the list shows", async () => {
    const model = new FakeModel({ max_rows: 200, query: "type:track" });
    const host = mount(model);
    const rows = range(1, 200).map((i) => trackRow(i * 100));
    snapshot(model, rows, 40_000, { buffered: 40_000, matched: 1240 });
    await nextFrame();
    const counted = byTestId(host, "sd-count");
    expect(counted.textContent).toBe("200 of 1,240 matching (40,000 buffered)");
    const box = byTestId(host, "sd-count-box");
    expect(box.textContent).toBe("200 of 1,240 matching (40,000 buffered)"); // no " shown"
    expect(box.title).toContain("1,240 match the filter (dbg.filtered())");
    expect(box.title).toContain("The list holds the newest 200 matches (max_rows).");
    expect(byTestId(host, "sd-stats").dataset.buffered).toBe("40000"); // the header's figure
    // a thinned delta: 50 matches, 10 sent
    delta(model, range(1, 10).map((i) => trackRow(40_000 + i)), 40_000, {
      last_seq: 40_500, skipped: 40, buffered: 40_000, matched: 1290,
    });
    await nextFrame();
    expect(counted.textContent).toBe("200 of 1,290 matching (40,000 buffered)");
    expect(box.title).toContain("40 matching rows were thinned from the display");
  });

  it("says the thinning note is about matching events when a filter is set", async () => {
    const model = new FakeModel({ query: "type:track" });
    const host = mount(model);
    snapshot(model, tracks(1, 10), 100, { buffered: 100, matched: 10 });
    model.pythonSets("stats", { received: 100, rate_per_s: 20_000, displayed_rate_per_s: 100, skipped: 0 });
    delta(model, tracks(101, 110), 100, { last_seq: 2000, skipped: 90, buffered: 2000, matched: 110 });
    model.pythonSets("stats", { received: 2000, rate_per_s: 20_000, displayed_rate_per_s: 100, skipped: 90 });
    const note = byTestId(host, "sd-thinning");
    expect(note.hidden).toBe(false);
    expect(note.textContent).toMatch(/^showing [\d,]+ of [\d,]+ matching events\/s$/);
    const [, shown, offered] = /showing ([\d,]+) of ([\d,]+)/.exec(note.textContent!)!.map((x) => Number(x.replace(/,/g, "")));
    expect(offered).toBe(shown * 10); // 10 shown of 100 matching, per the same span
  });

  it("paused: a criteria snapshot updates the backlog and the frozen rows only up to the pause", async () => {
    const model = new FakeModel({ type_filter: ["identify"] });
    const host = mount(model);
    snapshot(model, identifies(20), 20, { buffered: 20, matched: 5 });
    await nextFrame();
    click(byTestId(host, "sd-live-toggle"));
    delta(model, [makeRow(24, { type: "identify" })], 20, { last_seq: 25, buffered: 25, matched: 6 });
    await nextFrame();
    expect(rowSeqs(host)).toEqual([20, 16, 12, 8, 4]);
    expect(byTestId(host, "sd-new-count").textContent).toBe("1 new");
    // the user widens the filter while paused; Python answers with every row
    click(byTestId(host, "sd-type-toggle-identify"));
    await nextFrame();
    expect(rowSeqs(host)).toEqual([20, 16, 12, 8, 4]); // the store had identifies only
    snapshot(model, mixed(25), 25, { buffered: 25, matched: null });
    await nextFrame();
    expect(rowSeqs(host)).toEqual(range(1, 20).reverse()); // what matched at the pause, no newer
    expect(byTestId(host, "sd-new-count").textContent).toBe("5 new"); // 21..25
    expect(byTestId(host, "sd-live-toggle").getAttribute("aria-pressed")).toBe("true");
    click(byTestId(host, "sd-live-toggle"));
    await nextFrame();
    expect(rowSeqs(host)).toEqual(range(1, 25).reverse());
  });

  it("paused: a resync snapshot with unchanged criteria leaves the frozen rows alone", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, tracks(1, 5).filter((r) => r.seq !== 3), 5, { buffered: 5 }); // 3 was thinned
    click(byTestId(host, "sd-live-toggle"));
    snapshot(model, tracks(1, 8), 8, { buffered: 8 });
    await nextFrame();
    expect(rowSeqs(host)).toEqual([5, 4, 2, 1]);
    expect(byTestId(host, "sd-new-count").textContent).toBe("3 new");
  });

  it("a snapshot arriving while the user types leaves the filter box and its filter alone", async () => {
    vi.useFakeTimers();
    try {
      const model = new FakeModel();
      const host = mount(model);
      snapshot(model, mixed(40), 40, { buffered: 40 });
      const input = byTestId(host, "sd-filter") as HTMLInputElement;
      input.focus();
      const type = (text: string): void => {
        input.value = text;
        input.dispatchEvent(new Event("input"));
      };
      type("type:");
      vi.advanceTimersByTime(200);
      expect(model.traits.query).toBe("type:"); // saved after a pause in typing
      type("type:ident");
      // Python's snapshot for "type:" arrives while the user goes on typing
      snapshot(model, mixed(40), 40, { buffered: 40, matched: 40 });
      expect(input.value).toBe("type:ident");
      type("type:identify");
      vi.advanceTimersByTime(16);
      expect(input.value).toBe("type:identify");
      expect(rowSeqs(host)).toEqual([40, 36, 32, 28, 24, 20, 16, 12, 8, 4]); // the newest text, locally
      vi.advanceTimersByTime(200);
      expect(model.traits.query).toBe("type:identify");
      snapshot(model, identifies(40), 40, { buffered: 40, matched: 10 });
      vi.advanceTimersByTime(16);
      expect(input.value).toBe("type:identify");
      expect(rowSeqs(host)).toEqual([40, 36, 32, 28, 24, 20, 16, 12, 8, 4]);
      expect(byTestId(host, "sd-count").textContent).toBe("10 of 40");
    } finally {
      vi.useRealTimers();
    }
  });

  it("a snapshot keeps the row the user scrolled to in place; at the top it stays live", async () => {
    const model = new FakeModel({ query: "type:track" });
    const host = mount(model);
    const trackSeqs = mixed(400).filter((r) => r.type === "track");
    snapshot(model, trackSeqs.filter((r) => r.seq % 2 === 1), 400, { buffered: 400, matched: 300 }); // thinned
    await nextFrame();
    const list = host.querySelector<HTMLElement>("[role=listbox]")!;
    list.scrollTop = 20 * ROW_HEIGHT + 5;
    list.dispatchEvent(new Event("scroll"));
    const topSeq = (): number => {
      const index = Math.floor(list.scrollTop / ROW_HEIGHT);
      return Number(host.querySelector<HTMLElement>(`[data-testid="sd-row"][style*="translateY(${index * ROW_HEIGHT}px)"]`)?.dataset.seq);
    };
    const before = topSeq();
    // every match, now: rows appear above and between the ones shown
    snapshot(model, trackSeqs, 400, { buffered: 400, matched: 300 });
    await nextFrame();
    expect(topSeq()).toBe(before);
    expect(list.scrollTop % ROW_HEIGHT).toBe(5);
    list.scrollTop = 0;
    list.dispatchEvent(new Event("scroll"));
    snapshot(model, trackSeqs.filter((r) => r.seq > 10), 400, { buffered: 400, matched: 290 });
    await nextFrame();
    expect(list.scrollTop).toBe(0);
    expect(rowSeqs(host)[0]).toBe(399);
  });
});

describe("widget: selection and detail", () => {
  it("selects a clicked row and tells Python its seq, through selected_seq only", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, [makeRow(7, { type: "track", event: "Buy", messageId: "msg-7", properties: { a: 1 } })]);
    await nextFrame();
    click(host.querySelector('[data-seq="7"]')!);
    expect(model.traits.selected_seq).toBe(7);
    expect(model.writes).toEqual([["selected_seq", 7]]);
    expect(model.traits.selected).toBeNull(); // Python's to derive
    expect(host.querySelector('[data-seq="7"]')!.classList.contains("sd-selected")).toBe(true);
    expect(byTestId(host, "sd-detail").textContent).toContain("msg-7");
  });

  it("highlights the row Python selects", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, tracks(1, 5));
    await nextFrame();
    model.pythonSets("selected_seq", 2);
    expect(host.querySelector(".sd-selected")?.getAttribute("data-seq")).toBe("2");
    expect(byTestId(host, "sd-detail-messageId").textContent).toBe("m-2");
    model.pythonSets("selected_seq", null);
    expect(host.querySelector(".sd-selected")).toBeNull();
    expect(model.writes).toEqual([]); // Python's selection is not echoed back
  });

  it("moves the selection with the arrow keys and clears it with Escape", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, tracks(1, 5));
    await nextFrame();
    const root = byTestId(host, "sd-root");
    key(root, "ArrowDown");
    expect(model.traits.selected_seq).toBe(5);
    key(root, "ArrowDown");
    key(root, "ArrowDown");
    expect(model.traits.selected_seq).toBe(3);
    key(root, "ArrowUp");
    expect(model.traits.selected_seq).toBe(4);
    key(root, "Escape");
    expect(model.traits.selected_seq).toBeNull();
    expect(host.querySelector(".sd-selected")).toBeNull();
    expect(model.writes.map(([k]) => k)).toEqual(Array(5).fill("selected_seq"));
  });

  it("shows violations", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, [makeRow(1, { type: "track" }, { valid: false, violations: ["track without event"] })]);
    await nextFrame();
    click(host.querySelector('[data-seq="1"]')!);
    click(byTestId(host, "sd-detail-tab-violations"));
    expect(byTestId(host, "sd-violations").textContent).toBe("track without event");
  });

  it("fetches a truncated payload on request and renders it in chunks", async () => {
    const model = new FakeModel();
    const host = mount(model);
    const big = JSON.stringify({ type: "track", event: "Big", properties: { blob: "x".repeat(1_000_000) } });
    const row = makeRow(1, { type: "track", event: "Big" }, { raw: big.slice(0, RAW_PREVIEW_CHARS), truncated: true, size: big.length });
    snapshot(model, [row]);
    await nextFrame();
    click(host.querySelector('[data-seq="1"]')!);
    const text = byTestId(host, "sd-detail-text");
    expect(text.textContent!.length).toBe(RAW_PREVIEW_CHARS);
    click(byTestId(host, "sd-show-full"));
    const [req] = model.sentOfType("raw_request");
    expect(req.seq).toBe(1);
    const started = performance.now();
    model.emitCustom({ type: "raw", seq: 1, raw: big, request_id: req.request_id });
    expect(performance.now() - started).toBeLessThan(500);
    expect(text.textContent!.length).toBeLessThan(big.length); // first chunk only, the rest follows
    await vi.waitFor(() => expect(text.textContent!.length).toBeGreaterThan(big.length), { timeout: 5000 });
  });
});

describe("widget: match count", () => {
  it("counts the rows shown of Python's buffered events, the header's figure", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, tracks(1, 5));
    model.pythonSets("stats", { buffered: 5, last_seq: 5, skipped: 0 });
    await nextFrame();
    const counted = byTestId(host, "sd-count");
    expect(counted.textContent).toBe("5 of 5");
    const box = counted.parentElement!;
    expect(box.textContent).toBe("5 of 5 shown");
    expect(box.title).toContain("of the 5 rows this view holds");
    expect(box.title).toContain("The Python buffer holds 5 events");
    expect(box.title).not.toContain("thinned");
    // input outran the display: 4,995 events thinned from the deltas, all buffered in Python
    model.emitCustom({ type: "delta", rows: [], after_seq: 5, last_seq: 5000, skipped: 4995 });
    model.pythonSets("stats", { buffered: 5000, last_seq: 5000, skipped: 4995 });
    await nextFrame();
    expect(counted.textContent).toBe("5 of 5,000");
    expect(byTestId(host, "sd-stats").dataset.buffered).toBe("5000");
    expect(box.title).toContain("The Python buffer holds 5,000 events");
    expect(box.title).toContain("4,995 rows were thinned from the display");
  });
});

describe("widget: header", () => {
  it("shows status, counters and thinning", async () => {
    const model = new FakeModel();
    const host = mount(model);
    model.pythonSets("status", { state: "reconnecting", reason: "connection refused" });
    expect(byTestId(host, "sd-status").textContent).toBe("reconnecting: connection refused");
    model.pythonSets("stats", { received: 1234, rate_per_s: 20000, buffered: 1000, evicted: 234, skipped: 0 });
    await nextFrame(); // the counters are painted with the list's count
    expect(byTestId(host, "sd-stats").textContent).toBe("1,234 received · 20,000/s · 1,000 buffered · 234 evicted");
    expect(byTestId(host, "sd-thinning").hidden).toBe(true);
    model.pythonSets("stats", { received: 5000, rate_per_s: 20000, displayed_rate_per_s: 2000, skipped: 900 });
    expect(byTestId(host, "sd-thinning").hidden).toBe(false);
    expect(byTestId(host, "sd-thinning").textContent).toBe("showing 2,000 of 20,000 events/s");
  });

  it("shows the last gap and drops rows Python evicted", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, tracks(1, 5));
    const started = new Date(2024, 0, 1, 12, 0, 1).getTime() / 1000;
    model.pythonSets("stats", {
      gaps: 1,
      last_gap: { started_at: started, ended_at: started + 2, duration: 2, reason: "connection lost", after_seq: 3 },
      first_seq: 3,
    });
    const gap = byTestId(host, "sd-gap");
    expect(gap.textContent).toBe("⚠ 1 gap · loss not known yet");
    expect(gap.title).toContain("Last gap: connection lost\n  from 12:00:01.000 to 12:00:03.000 (2.0 s) after seq 3");
    await nextFrame();
    expect(rowSeqs(host)).toEqual([5, 4, 3]);
  });

  it("clear empties the list and asks Python to clear", async () => {
    const model = new FakeModel();
    const host = mount(model);
    snapshot(model, tracks(1, 3));
    await nextFrame();
    click(byTestId(host, "sd-clear"));
    expect(model.sentOfType("clear_request")).toHaveLength(1);
    await nextFrame();
    expect(rowSeqs(host)).toEqual([]);
  });
});

describe("widget: cleanup", () => {
  it("removes every model listener and its DOM", () => {
    const model = new FakeModel();
    const host = mount(model);
    expect(model.listenerCount()).toBeGreaterThan(0);
    const input = byTestId(host, "sd-filter") as HTMLInputElement;
    input.value = "x";
    input.dispatchEvent(new Event("input")); // leaves a debounce timer pending
    cleanup?.();
    cleanup = null;
    expect(model.listenerCount()).toBe(0);
    expect(host.children).toHaveLength(0);
  });
});
