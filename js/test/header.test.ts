/**
 * The header: loss you can count (issue 8/13: each gap's lost_estimate and its basis, the sum
 * in stats.lost_estimate) and one total per screen (issue 13: the header's received/buffered
 * and the list's "N of M" read the same rows).
 */
import { afterEach, describe, expect, it } from "vitest";
import { gapSummary, headerCounts, lostText } from "../src/ui/header";
import type { Row, Stats } from "../src/sync/protocol";
import { FakeModel, mountWidget, nextFrame, trackRow } from "./fake_model";

const at = (h: number, m: number, s: number): number => new Date(2024, 0, 1, h, m, s).getTime() / 1000;

const gapStats = (over: Partial<Stats> & { gap?: Record<string, unknown> } = {}): Stats => {
  const { gap, ...rest } = over;
  return {
    gaps: 1,
    lost_estimate: 14_800,
    last_gap: {
      started_at: at(12, 0, 1),
      ended_at: at(12, 0, 3),
      duration: 2,
      reason: "connection lost: Connection reset by peer",
      after_seq: 5000,
      lost_estimate: 14_800,
      estimate_basis: "publisher timestamps",
      ...gap,
    },
    ...rest,
  };
};

describe("header: events lost in gaps", () => {
  it("says how many events were lost, as an estimate, with the basis and span in the tooltip", () => {
    const g = gapSummary(gapStats())!;
    expect(g.text).toBe("⚠ 1 gap · ~14,800 events lost (estimate)");
    expect(g.title).toContain("Last gap: connection lost: Connection reset by peer");
    expect(g.title).toContain("from 12:00:01.000 to 12:00:03.000 (2.0 s) after seq 5,000");
    expect(g.title).toContain("~14,800 events lost (estimate): estimated from the publisher timestamps");
    expect(g.title).toContain("All 1 gap: ~14,800 events lost (estimate)");
  });

  it("names receive times as the basis when there were no publisher timestamps", () => {
    const g = gapSummary(gapStats({ gap: { estimate_basis: "receive times", lost_estimate: 120 }, lost_estimate: 120 }))!;
    expect(g.text).toBe("⚠ 1 gap · ~120 events lost (estimate)");
    expect(g.title).toContain("estimated from receive times");
  });

  it("drops the ~ and (estimate) when the source counted exactly", () => {
    const g = gapSummary(gapStats({ gap: { estimate_basis: "exact", lost_estimate: 1 }, lost_estimate: 1 }))!;
    expect(g.text).toBe("⚠ 1 gap · 1 event lost");
    expect(g.title).toContain("1 event lost: counted exactly by the source");
    expect(lostText(14_800, true)).toBe("14,800 events lost");
  });

  it("sums every gap; the last one may still wait for its estimate", () => {
    const g = gapSummary(gapStats({ gaps: 3, lost_estimate: 2500, gap: { lost_estimate: null, estimate_basis: "" } }))!;
    expect(g.text).toBe("⚠ 3 gaps · ~2,500 events lost (estimate)");
    expect(g.title).toContain("events lost: not known yet");
    expect(g.title).toContain("All 3 gaps: ~2,500 events lost (estimate)");
    const only = gapSummary(gapStats({ lost_estimate: 0, gap: { lost_estimate: null, estimate_basis: "" } }))!;
    expect(only.text).toBe("⚠ 1 gap · loss not known yet");
  });

  it("a gap with no loss says so; no gaps, no warning", () => {
    expect(gapSummary(gapStats({ lost_estimate: 0, gap: { lost_estimate: 0 } }))!.text).toBe(
      "⚠ 1 gap · ~0 events lost (estimate)",
    );
    expect(gapSummary({ gaps: 0, lost_estimate: 0, last_gap: null })).toBeNull();
    expect(gapSummary({})).toBeNull();
  });

  it("escapes control characters in the reason", () => {
    const g = gapSummary(gapStats({ gap: { reason: "kicked\u202e out\x1b[2J" } }))!;
    expect(g.title).toContain("Last gap: kicked\\u202e out\\x1b[2J");
  });

  it("shows in the widget, text and tooltip", async () => {
    const model = new FakeModel();
    const mounted = mountWidget(model);
    const host = mounted.addView();
    try {
      model.pythonSets("stats", gapStats({ gaps: 2, lost_estimate: 14_800 }));
      const gap = host.querySelector<HTMLElement>('[data-testid="sd-gap"]')!;
      expect(gap.hidden).toBe(false);
      expect(gap.textContent).toBe("⚠ 2 gaps · ~14,800 events lost (estimate)");
      expect(gap.title).toContain("publisher timestamps");
      model.pythonSets("stats", { gaps: 0, lost_estimate: 0, last_gap: null });
      expect(gap.hidden).toBe(true);
    } finally {
      mounted.cleanup();
    }
  });
});

describe("header: counts as of the rows", () => {
  it("received is the newest seq applied; before any rows, the stats trait", () => {
    expect(headerCounts({ received: 10, buffered: 10 }, { lastSeq: null, pythonBuffered: null })).toEqual({
      received: 10,
      buffered: 10,
    });
    // stats older than the rows: events since then are counted, up to max_messages
    const stats: Stats = { received: 1044, last_seq: 1044, buffered: 1000, max_messages: 1000 };
    expect(headerCounts(stats, { lastSeq: 1124, pythonBuffered: null })).toEqual({ received: 1124, buffered: 1000 });
    expect(headerCounts({ ...stats, buffered: 900, max_messages: 10_000 }, { lastSeq: 1124, pythonBuffered: null })).toEqual({
      received: 1124,
      buffered: 980,
    });
    // stats newer than the rows: never more buffered than received
    expect(headerCounts({ received: 500, last_seq: 500, buffered: 500 }, { lastSeq: 450, pythonBuffered: null })).toEqual({
      received: 450,
      buffered: 450,
    });
  });

  it("a delta's `buffered` as of the newest rows is used as is", () => {
    // stats at the same seq (read at another moment) and a smaller max_messages do not change it
    const stats: Stats = { received: 170, last_seq: 170, buffered: 160, max_messages: 100 };
    expect(headerCounts(stats, { lastSeq: 170, pythonBuffered: { seq: 170, count: 120 } })).toEqual({
      received: 170,
      buffered: 120,
    });
    // stats newer than the rows do not either: the header is as of the rows shown
    expect(
      headerCounts({ received: 400, last_seq: 400, buffered: 400 }, { lastSeq: 170, pythonBuffered: { seq: 170, count: 7 } }),
    ).toEqual({ received: 170, buffered: 7 });
  });

  it("an exact figure from the rows (snapshot, delta `buffered`) wins over older stats", () => {
    const stats: Stats = { received: 100, last_seq: 100, buffered: 100 };
    // Python was cleared at seq 150: the snapshot (empty) said 0 buffered, 20 events since
    expect(headerCounts(stats, { lastSeq: 170, pythonBuffered: { seq: 150, count: 0 } })).toEqual({
      received: 170,
      buffered: 20,
    });
  });
});

// ---- one screen, one total: a fake Python driving the widget in random order ----------------

/** A seeded PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Python's buffer and pump, as far as the front end can tell. */
class FakePython {
  lastSeq = 0;
  buffer: Row[] = [];
  cursor = 0;
  skipped = 0;
  evicted = 0;

  constructor(
    readonly model: FakeModel,
    readonly cap: number,
    readonly sendBuffered: boolean,
  ) {
    model.onSend = (msg) => {
      if (msg.type === "snapshot_request") queueMicrotask(() => this.snapshot(msg.request_id));
    };
  }

  publish(n: number, extraEvict: number): void {
    for (let i = 0; i < n; i++) this.buffer.push(trackRow(++this.lastSeq));
    const drop = Math.max(0, this.buffer.length - this.cap) + Math.min(extraEvict, this.buffer.length);
    this.buffer.splice(0, drop); // count cap, and the byte cap's extra evictions
    this.evicted += drop;
  }

  /** The pump's delta: at most `budget` of the newest rows since the cursor; `lose` drops it. */
  delta(budget: number, lose = false): void {
    if (this.lastSeq === this.cursor) return;
    const fresh = this.buffer.filter((r) => r.seq > this.cursor);
    const rows = fresh.slice(Math.max(0, fresh.length - budget));
    const skipped = this.lastSeq - this.cursor - rows.length;
    const msg: Record<string, unknown> = { type: "delta", rows, after_seq: this.cursor, last_seq: this.lastSeq, skipped };
    if (this.sendBuffered) msg.buffered = this.buffer.length;
    this.cursor = this.lastSeq;
    this.skipped += skipped;
    if (!lose) this.model.emitCustom(msg);
  }

  snapshot(requestId: string | null = null): void {
    this.model.emitCustom({ type: "snapshot", rows: [...this.buffer], last_seq: this.lastSeq, request_id: requestId });
    this.cursor = this.lastSeq;
  }

  clear(): void {
    this.buffer = [];
    this.snapshot();
  }

  stats(): void {
    this.model.pythonSets("stats", {
      received: this.lastSeq,
      last_seq: this.lastSeq,
      buffered: this.buffer.length,
      first_seq: this.buffer[0]?.seq ?? null,
      evicted: this.evicted,
      max_messages: this.cap,
      skipped: this.skipped,
      rate_per_s: 0,
    });
  }
}

/** What the screen says: the header's received and buffered, the list's "N of M". */
function onScreen(host: HTMLElement): { received: number; buffered: number; shown: number; held: number } {
  const header = host.querySelector<HTMLElement>('[data-testid="sd-stats"]')!;
  const num = (s: string): number => Number(s.replace(/,/g, ""));
  const received = /^([\d,]+) received/.exec(header.textContent ?? "")?.[1];
  const buffered = /· ([\d,]+) buffered/.exec(header.textContent ?? "")?.[1];
  const count = /^([\d,]+) of ([\d,]+)$/.exec(host.querySelector('[data-testid="sd-count"]')!.textContent ?? "");
  expect(received, header.textContent ?? "").toBeDefined();
  expect(count).not.toBeNull();
  return { received: num(received!), buffered: num(buffered!), shown: num(count![1]), held: num(count![2]) };
}

describe("one screen, one total (issue 13)", () => {
  let cleanup: (() => void) | null = null;
  afterEach(() => {
    cleanup?.();
    cleanup = null;
    document.body.replaceChildren();
  });

  function mount(cap: number): { model: FakeModel; host: HTMLElement } {
    const model = new FakeModel({ max_rows: cap });
    const mounted = mountWidget(model);
    const host = mounted.addView();
    cleanup = () => mounted.cleanup();
    return { model, host };
  }

  it("rows ten times a second, stats twice: the header's received is the list's total", async () => {
    const { model, host } = mount(10_000);
    const py = new FakePython(model, 10_000, false);
    py.snapshot(); // answers the first snapshot request
    for (let tick = 1; tick <= 40; tick++) {
      py.publish(27, 0);
      py.delta(1000);
      if (tick % 5 === 0) py.stats();
      await nextFrame();
      const s = onScreen(host);
      expect(s.held, `tick ${tick}`).toBe(s.received); // nothing evicted or thinned: one total
      expect(s.buffered).toBe(s.received);
      expect(s.received).toBe(py.cursor);
    }
    // the stats trait running ahead of the rows does not make a second total
    py.publish(500, 0);
    py.stats();
    await nextFrame();
    const s = onScreen(host);
    expect(s).toEqual({ received: 1080, buffered: 1080, shown: 1080, held: 1080 });
  });

  for (const [seed, sendBuffered] of [
    [1, false],
    [2, false],
    [3, true],
    [4, true],
    [5, false],
  ] as const) {
    it(`any sequence of deltas, stats, evictions, thinning, losses and clears agrees (seed ${seed}${sendBuffered ? ", delta carries buffered" : ""})`, async () => {
      const random = rng(seed);
      const cap = 60;
      const { model, host } = mount(cap);
      const py = new FakePython(model, cap, sendBuffered);
      py.snapshot(); // answers the first snapshot request
      let painted = false;
      for (let step = 0; step < 400; step++) {
        const r = random();
        if (r < 0.35) py.publish(Math.floor(random() * 25), random() < 0.1 ? Math.floor(random() * 10) : 0);
        else if (r < 0.6) py.delta(1 + Math.floor(random() * 30), random() < 0.03);
        else if (r < 0.75) py.stats();
        else if (r < 0.77) py.clear();
        else {
          await nextFrame();
          await Promise.resolve(); // a snapshot request answered
          painted = true;
        }
        if (!painted) continue;
        const s = onScreen(host);
        const where = `seed ${seed} step ${step}: ${JSON.stringify(s)}`;
        expect(s.shown, where).toBeLessThanOrEqual(s.held);
        expect(s.held, where).toBeLessThanOrEqual(s.buffered);
        expect(s.buffered, where).toBeLessThanOrEqual(s.received);
        expect(s.received, where).toBeLessThanOrEqual(py.lastSeq);
      }
      // settled: one more delta, stats and frame: everything as Python has it
      py.delta(1000);
      py.stats();
      await nextFrame();
      await Promise.resolve();
      await nextFrame();
      const s = onScreen(host);
      expect(s.received).toBe(py.lastSeq);
      expect(s.held).toBeLessThanOrEqual(s.buffered);
      expect(s.buffered).toBe(py.buffer.length);
    });
  }
});
