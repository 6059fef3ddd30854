/** The header: connection status, gap warning, counters, thinning note, clear button. */
import { button, el, on, setText } from "./dom";
import { bytes, count, timeOfDay } from "./format";
import { EVENT_TYPES, type Stats, type Status } from "../sync/protocol";

const STATE_TEXT: Record<string, string> = {
  connecting: "connecting",
  live: "live",
  reconnecting: "reconnecting",
  stopped: "stopped",
  error: "error",
};

/**
 * Describes the last gap: Python's Gap dict {started_at (epoch s), duration (s), reason,
 * after_seq}; any other shape is shown as text.
 */
function gapText(gap: unknown): string {
  if (gap === null || gap === undefined || gap === "") return "";
  if (typeof gap !== "object") return String(gap);
  const g = gap as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof g.reason === "string" && g.reason) parts.push(g.reason);
  if (typeof g.started_at === "number") parts.push(`at ${timeOfDay(new Date(g.started_at * 1000))}`);
  if (typeof g.duration === "number") parts.push(`(${g.duration.toFixed(1)} s)`);
  return parts.length > 0 ? parts.join(" ") : JSON.stringify(gap);
}

/** The header strip. */
export class Header {
  readonly element: HTMLElement;
  private readonly dot = el("span", { className: "sd-dot" });
  private readonly stateText = el("span", { className: "sd-state" });
  private readonly status: HTMLElement;
  private readonly gap = el("span", { className: "sd-gap", testid: "sd-gap" });
  private readonly counters = el("span", { className: "sd-counters", testid: "sd-stats" });
  private readonly byType = el("span", { className: "sd-by-type" });
  private readonly thinning = el("span", { className: "sd-thinning", testid: "sd-thinning" });
  private readonly off: () => void;
  private lastSkipped: number | null = null;
  private thinningSeen = false;

  constructor(onClear: () => void) {
    this.status = el("span", { className: "sd-status", testid: "sd-status" }, [this.dot, this.stateText]);
    const clear = button({
      className: "sd-button sd-clear",
      testid: "sd-clear",
      text: "Clear",
      title: "Empty the buffer (Python and here)",
    });
    this.off = on(clear, "click", onClear);
    this.element = el("div", { className: "sd-header" }, [
      this.status,
      this.gap,
      this.counters,
      this.byType,
      this.thinning,
      el("span", { className: "sd-spacer" }),
      clear,
    ]);
    this.gap.hidden = true;
    this.thinning.hidden = true;
  }

  /** Shows the status trait. */
  setStatus(status: Status | null | undefined): void {
    const state = status?.state ?? "connecting";
    const reason = status?.reason ? `: ${status.reason}` : "";
    this.status.dataset.state = state;
    setText(this.stateText, `${STATE_TEXT[state] ?? state}${reason}`);
    this.status.title = status?.url ? `${state} — ${status.url}` : state;
  }

  /** Shows the stats trait. */
  setStats(stats: Stats | null | undefined): void {
    const s = stats ?? {};
    const received = s.received ?? 0;
    const rate = s.rate_per_s ?? 0;
    const parts = [
      `${count(received)} received`,
      `${count(rate)}/s`,
      `${count(s.buffered ?? 0)} buffered`,
    ];
    if (s.evicted) parts.push(`${count(s.evicted)} evicted`);
    if (s.invalid) parts.push(`${count(s.invalid)} invalid`);
    if (s.bytes) parts.push(bytes(s.bytes));
    setText(this.counters, parts.join(" · "));
    const byType = s.by_type ?? {};
    setText(
      this.byType,
      EVENT_TYPES.filter((t) => byType[t])
        .map((t) => `${t} ${count(byType[t])}`)
        .join(" · "),
    );
    const gapDesc = (s.gaps ?? 0) > 0 ? gapText(s.last_gap) : "";
    this.gap.hidden = (s.gaps ?? 0) === 0;
    setText(this.gap, this.gap.hidden ? "" : `⚠ ${count(s.gaps ?? 0)} gap(s)${gapDesc ? ` — last: ${gapDesc}` : ""}`);
    // Thinning: shown once `skipped` grows, until a stats update where it did not.
    const skipped = s.skipped ?? 0;
    this.thinningSeen = this.lastSkipped !== null && skipped > this.lastSkipped;
    this.lastSkipped = skipped;
    this.thinning.hidden = !this.thinningSeen;
    if (this.thinningSeen) {
      const shown = s.displayed_rate_per_s ?? 0;
      setText(this.thinning, `showing ${count(shown)} of ${count(rate)} events/s`);
      this.thinning.title = "Input outruns the display; Python's buffer keeps every event.";
    }
  }

  destroy(): void {
    this.off();
    this.element.remove();
  }
}
