/**
 * The header: connection status, gap warning, counters, thinning note, clear button; under
 * them the counts per type and the per-type sparklines.
 */
import { button, el, on, setText } from "./dom";
import { bytes, count, timeOfDay } from "./format";
import { EVENT_TYPES, type Gap, type Stats, type Status } from "../sync/protocol";
import { visible } from "./visible";
import { Sparklines } from "./sparkline";
import { versionWarning } from "../version";

const STATE_TEXT: Record<string, string> = {
  connecting: "connecting",
  live: "live",
  reconnecting: "reconnecting",
  stopped: "stopped",
  error: "error",
};

/** What the header reads from the rows (the store), the same source as the list's count. */
export interface RowFigures {
  /** last_seq of the newest snapshot/delta applied (null before the first snapshot) */
  lastSeq: number | null;
  /** Python's buffer length as of a seq, when a message told it (RowStore.pythonBuffered) */
  pythonBuffered: { seq: number; count: number } | null;
}

/**
 * The header's "received" and "buffered", as of the newest rows applied, so that one screen
 * shows one total: the list's "N of M" counts rows of the same store, and M <= received.
 * Python numbers events from seq 1 and never reuses a seq, so events received = last_seq.
 * Buffered is the rows' own figure when it is as of that seq (a snapshot's row count, a
 * delta's `buffered`, read with its rows: exact, used as is). Otherwise (a delta from a kernel
 * without `buffered`) the newest exact figure at or before that seq (the rows' or the stats
 * trait's), plus the events received since, capped at max_messages; when only the stats
 * trait is newer than the rows, its figure (never more than received). Before the first
 * snapshot: the stats trait as is.
 */
export function headerCounts(stats: Stats, rows: RowFigures): { received: number; buffered: number } {
  const lastSeq = rows.lastSeq;
  if (lastSeq === null) return { received: stats.received ?? 0, buffered: stats.buffered ?? 0 };
  const exact = rows.pythonBuffered;
  if (exact && exact.seq === lastSeq) return { received: lastSeq, buffered: Math.max(0, Math.min(exact.count, lastSeq)) };
  const refs: Array<{ seq: number; count: number }> = [];
  if (exact) refs.push(exact);
  if (typeof stats.last_seq === "number" && typeof stats.buffered === "number") {
    refs.push({ seq: stats.last_seq, count: stats.buffered });
  }
  const cap = typeof stats.max_messages === "number" ? stats.max_messages : Infinity;
  let buffered: number;
  const before = refs.filter((r) => r.seq <= lastSeq).sort((a, b) => b.seq - a.seq)[0];
  if (before) buffered = Math.min(before.count + (lastSeq - before.seq), Math.max(cap, before.count));
  else buffered = refs[0]?.count ?? stats.buffered ?? 0;
  return { received: lastSeq, buffered: Math.max(0, Math.min(buffered, lastSeq)) };
}

/** With a filter: matching rows per second, shown and offered (shown + thinned). */
export interface MatchingRates {
  shown: number;
  offered: number;
}

/**
 * The thinning note. Without a filter: "showing 2,000 of 20,000 events/s" (rows sent of
 * events received, from the stats trait). With one, Python thins only the matching events,
 * so the note is about them: "showing 2,000 of 5,000 matching events/s" (from the deltas).
 */
export function thinningNote(stats: Stats, matching: MatchingRates | null): { text: string; title: string } {
  if (matching) {
    const offered = Math.max(matching.offered, matching.shown);
    return {
      text: `showing ${count(matching.shown)} of ${count(offered)} matching events/s`,
      title:
        "More events match the filter than the display budget allows; the newest are shown. " +
        "Python's buffer keeps every event (dbg.filtered()).",
    };
  }
  return {
    text: `showing ${count(stats.displayed_rate_per_s ?? 0)} of ${count(stats.rate_per_s ?? 0)} events/s`,
    title: "Input outruns the display; Python's buffer keeps every event.",
  };
}

/** `stats.warnings`: events received with at least one warning (clock, delivery, drift). */
function warningsOf(stats: Stats): number {
  const n: unknown = stats.warnings;  // read defensively: stats come from another process
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : 0;
}

const plural = (n: number, one: string, many: string): string => `${count(n)} ${n === 1 ? one : many}`;

function asGap(gap: unknown): Gap | null {
  return gap !== null && typeof gap === "object" && !Array.isArray(gap) ? (gap as Gap) : null;
}

/** "~14,800 events lost (estimate)", or "14,800 events lost" when counted exactly. */
export function lostText(lost: number, exact: boolean): string {
  return exact ? `${plural(lost, "event", "events")} lost` : `~${plural(lost, "event", "events")} lost (estimate)`;
}

const BASIS_TEXT: Record<string, string> = {
  "publisher timestamps": "estimated from the publisher timestamps on both sides of the gap and the rate before it",
  "receive times": "estimated from receive times (no usable publisher timestamps) and the rate before the gap",
  exact: "counted exactly by the source",
};

/**
 * The gap warning: its text ("⚠ 2 gaps · ~14,800 events lost (estimate)") and tooltip (the
 * last gap's reason and span, the basis of its count, the total), or null without gaps.
 * `stats.lost_estimate` sums every gap; it reads as exact when the last gap was counted
 * exactly (a source either counts its losses or not).
 */
export function gapSummary(stats: Stats): { text: string; title: string } | null {
  const gaps = stats.gaps ?? 0;
  if (gaps <= 0) return null;
  const gap = asGap(stats.last_gap);
  const basis = typeof gap?.estimate_basis === "string" ? gap.estimate_basis : "";
  const exact = basis === "exact";
  const pending = gap !== null && typeof gap.lost_estimate !== "number";
  const total = typeof stats.lost_estimate === "number" ? stats.lost_estimate : null;
  const parts = [`⚠ ${plural(gaps, "gap", "gaps")}`];
  if (total !== null && (total > 0 || !pending)) parts.push(lostText(total, exact));
  else if (pending) parts.push("loss not known yet");

  const lines: string[] = [];
  if (gap) {
    lines.push(`Last gap: ${visible(gap.reason || "(no reason given)")}`);
    const span: string[] = [];
    if (typeof gap.started_at === "number") {
      span.push(`from ${timeOfDay(new Date(gap.started_at * 1000))}`);
      if (typeof gap.ended_at === "number") span.push(`to ${timeOfDay(new Date(gap.ended_at * 1000))}`);
    }
    if (typeof gap.duration === "number") span.push(`(${gap.duration.toFixed(1)} s)`);
    if (typeof gap.after_seq === "number") span.push(`after seq ${count(gap.after_seq)}`);
    if (span.length > 0) lines.push(`  ${span.join(" ")}`);
    if (typeof gap.lost_estimate === "number") {
      lines.push(`  ${lostText(gap.lost_estimate, exact)}: ${BASIS_TEXT[basis] ?? (basis ? `basis: ${visible(basis)}` : "basis unknown")}`);
    } else {
      lines.push("  events lost: not known yet (estimated once an event arrives after the gap)");
    }
  } else if (stats.last_gap !== undefined && stats.last_gap !== null) {
    lines.push(`Last gap: ${visible(String(stats.last_gap))}`);
  }
  if (total !== null) lines.push(`All ${plural(gaps, "gap", "gaps")}: ${lostText(total, exact)}`);
  lines.push("Events lost in a gap never reached the buffer (Redis pub/sub is at-most-once).");
  return { text: parts.join(" · "), title: lines.join("\n") };
}

/** The header strip. */
export class Header {
  readonly element: HTMLElement;
  private readonly dot = el("span", { className: "sd-dot" });
  private readonly stateText = el("span", { className: "sd-state" });
  private readonly status: HTMLElement;
  private readonly gap = el("span", { className: "sd-gap", testid: "sd-gap" });
  private readonly version = el("span", {
    className: "sd-version-warning",
    testid: "sd-version-warning",
    attrs: { role: "status" },
  });
  private readonly counters = el("span", { className: "sd-counters", testid: "sd-stats" });
  private readonly byType = el("span", { className: "sd-by-type" });
  private readonly sparks = new Sparklines();
  private readonly thinning = el("span", { className: "sd-thinning", testid: "sd-thinning" });
  private readonly off: () => void;
  private lastSkipped: number | null = null;
  private thinningSeen = false;
  private stats: Stats = {};

  constructor(onClear: () => void) {
    this.status = el("span", { className: "sd-status", testid: "sd-status" }, [this.dot, this.stateText]);
    const clear = button({
      className: "sd-button sd-clear",
      testid: "sd-clear",
      text: "Clear",
      title: "Empty the buffer (Python and here)",
    });
    this.off = on(clear, "click", onClear);
    // Two rows that never wrap, so the header's height never changes with its data: text
    // that appears (counts per type, sparklines, the thinning note, a gap) must not push the
    // list down, least of all while the view is paused (widget.css: .sd-header-row).
    this.element = el("div", { className: "sd-header" }, [
      el("div", { className: "sd-header-row sd-header-main", testid: "sd-header-main" }, [
        this.status,
        this.version,
        this.gap,
        this.counters,
        this.thinning,
        el("span", { className: "sd-spacer" }),
        clear,
      ]),
      el("div", { className: "sd-header-row sd-header-rates", testid: "sd-header-rates" }, [
        this.byType,
        this.sparks.element,
      ]),
    ]);
    this.gap.hidden = true;
    this.thinning.hidden = true;
    this.version.hidden = true;
  }

  /**
   * Shows the version warning when the kernel's version (the `_version` trait) is known and
   * differs from this bundle's (versionWarning); hides it otherwise. Never blocks anything.
   */
  setKernelVersion(kernel: unknown, frontend?: string): void {
    const warning = versionWarning(kernel, frontend);
    this.version.hidden = warning === null;
    setText(this.version, warning?.text ?? "");
    this.version.title = warning?.title ?? "";
  }

  /** Shows the status trait. */
  setStatus(status: Status | null | undefined): void {
    const state = status?.state ?? "connecting";
    const reason = status?.reason ? `: ${status.reason}` : "";
    this.status.dataset.state = state;
    setText(this.stateText, `${STATE_TEXT[state] ?? state}${reason}`);
    this.status.title = status?.url ? `${state} — ${status.url}` : state;
  }

  /**
   * Shows the stats trait: gap warning, types, thinning at once (with a filter, `matching`
   * gives the rates of matching rows, DeltaRates); the counters at the next
   * `setRows` (the paint that also updates the list's count), so both read the same rows.
   */
  setStats(stats: Stats | null | undefined, matching?: MatchingRates | null): void {
    const s = stats ?? {};
    this.stats = s;
    const byType = s.by_type ?? {};
    setText(
      this.byType,
      EVENT_TYPES.filter((t) => byType[t])
        .map((t) => `${t} ${count(byType[t])}`)
        .join(" · "),
    );
    this.byType.title = "Received per type (as of the last stats update, twice a second)";
    this.sparks.set(s.rates);
    const gap = gapSummary(s);
    this.gap.hidden = gap === null;
    setText(this.gap, gap?.text ?? "");
    this.gap.title = gap?.title ?? "";
    // Thinning: shown once `skipped` grows, until a stats update where it did not.
    const skipped = s.skipped ?? 0;
    this.thinningSeen = this.lastSkipped !== null && skipped > this.lastSkipped;
    this.lastSkipped = skipped;
    this.thinning.hidden = !this.thinningSeen;
    if (this.thinningSeen) {
      const note = thinningNote(s, matching ?? null);
      setText(this.thinning, note.text);
      this.thinning.title = note.title;
    }
  }

  /** Shows the counters: received and buffered as of `rows` (headerCounts), the rest from stats. */
  setRows(rows: RowFigures): { received: number; buffered: number } {
    const s = this.stats;
    const { received, buffered } = headerCounts(s, rows);
    const parts = [
      `${count(received)} received`,
      `${count(s.rate_per_s ?? 0)}/s`,
      `${count(buffered)} buffered`,
    ];
    if (s.evicted) parts.push(`${count(s.evicted)} evicted`);
    if (s.invalid) parts.push(`${count(s.invalid)} invalid`);
    const warned = warningsOf(s);
    if (warned) parts.push(`${count(warned)} with warnings`);
    if (s.bytes) parts.push(bytes(s.bytes));
    setText(this.counters, parts.join(" · "));
    this.counters.dataset.received = String(received);
    this.counters.dataset.buffered = String(buffered);
    this.counters.dataset.warnings = String(warned);
    return { received, buffered };
  }

  destroy(): void {
    this.off();
    this.sparks.destroy();
    this.element.remove();
  }
}
