/** The toolbar: Live | Pause, "N new", filter box, match count, type and invalid toggles. */
import { button, el, on, setText } from "./dom";
import { count } from "./format";
import { EVENT_TYPES } from "../sync/protocol";

interface ToolbarHandlers {
  /** the Live/Pause button or the "N new" link was clicked */
  onPausedChange(paused: boolean): void;
  /** every keystroke in the filter box */
  onQueryInput(query: string): void;
  /** a type toggle was clicked: the new type_filter */
  onTypeFilterChange(types: string[]): void;
  onInvalidOnlyChange(invalidOnly: boolean): void;
}

/** The filter box's tooltip: the filter language (README "Filter language") in brief. */
export const FILTER_HELP = [
  "Terms separated by spaces, all must match; -term excludes.",
  "text or \"quoted text\": anywhere in the payload (case-insensitive)",
  "field:value, a.b.c:value: a payload field (* wildcard; field:* = has the field)",
  "field:>10, >=, <, <=: numeric comparison",
  "valid:false: events with violations; violation:text: a violation containing text",
  "stream_id:ID: the Redis Stream entry id (* wildcard; stream_id:* = read from a stream)",
].join("\n");

/** Toolbar controls; state comes in through setters, user actions go out through handlers. */
export class Toolbar {
  readonly element: HTMLElement;
  readonly filter: HTMLInputElement;
  private readonly live: HTMLButtonElement;
  private readonly newCount: HTMLButtonElement;
  private readonly matchCount: HTMLElement;
  private readonly countBox: HTMLElement;
  private held = 0;
  private buffered: number | null = null;
  private skipped = 0;
  private readonly typeButtons = new Map<string, HTMLButtonElement>();
  private readonly invalid: HTMLButtonElement;
  private readonly cleanups: Array<() => void> = [];
  private paused = false;
  private types: string[] = [];
  private invalidOnly = false;

  constructor(private readonly handlers: ToolbarHandlers) {
    this.live = button({ className: "sd-button sd-live", testid: "sd-live-toggle" });
    this.newCount = button({
      className: "sd-link sd-new",
      testid: "sd-new-count",
      title: "Back to live",
    });
    this.filter = el("input", {
      className: "sd-filter",
      testid: "sd-filter",
      title: FILTER_HELP,
      attrs: {
        type: "search",
        placeholder: 'Filter: type:track -valid:false "text"',
        spellcheck: "false",
        autocomplete: "off",
        "aria-label": "Filter events",
      },
    });
    this.matchCount = el("span", { className: "sd-count", testid: "sd-count" });
    // "1,234 of 5,000 shown": sd-count holds the numbers, the word outside it.
    this.countBox = el("span", { className: "sd-count-box" }, [
      this.matchCount,
      el("span", { className: "sd-count", text: " shown" }),
    ]);
    const toggles = el("span", { className: "sd-toggles" });
    for (const type of EVENT_TYPES) {
      const b = button({
        className: `sd-toggle sd-type-${type}`,
        testid: `sd-type-toggle-${type}`,
        text: type,
        title: `Show only ${type} events (combine several)`,
        attrs: { "aria-pressed": "false" },
      });
      this.typeButtons.set(type, b);
      toggles.appendChild(b);
      this.cleanups.push(on(b, "click", () => this.toggleType(type)));
    }
    this.invalid = button({
      className: "sd-toggle sd-toggle-invalid",
      testid: "sd-invalid-toggle",
      text: "invalid",
      title: "Show only events with violations",
      attrs: { "aria-pressed": "false" },
    });
    toggles.appendChild(this.invalid);
    this.cleanups.push(
      on(this.live, "click", () => handlers.onPausedChange(!this.paused)),
      on(this.newCount, "click", () => handlers.onPausedChange(false)),
      on(this.filter, "input", () => handlers.onQueryInput(this.filter.value)),
      on(this.invalid, "click", () => handlers.onInvalidOnlyChange(!this.invalidOnly)),
    );
    this.element = el("div", { className: "sd-toolbar" }, [
      this.live,
      this.newCount,
      this.filter,
      this.countBox,
      toggles,
    ]);
    this.setPaused(false, 0);
  }

  private toggleType(type: string): void {
    const next = this.types.includes(type)
      ? this.types.filter((t) => t !== type)
      : [...this.types, type];
    this.handlers.onTypeFilterChange(EVENT_TYPES.filter((t) => next.includes(t)));
  }

  /** Shows live or paused, and the backlog while paused. */
  setPaused(paused: boolean, backlog: number): void {
    this.paused = paused;
    setText(this.live, paused ? "❚❚ Paused" : "● Live");
    this.live.title = paused ? "Paused: click to go back to live" : "Live: click to pause the view";
    this.live.setAttribute("aria-pressed", String(paused));
    this.live.classList.toggle("sd-paused", paused);
    this.newCount.hidden = !paused;
    setText(this.newCount, paused ? `${count(backlog)} new` : "");
  }

  /** Puts text in the filter box unless the user is typing in it. */
  setQuery(query: string): void {
    if (this.filter.value !== query && document.activeElement !== this.filter) this.filter.value = query;
  }

  setTypeFilter(types: readonly string[]): void {
    this.types = [...types];
    for (const [type, b] of this.typeButtons) {
      const onNow = this.types.includes(type);
      b.classList.toggle("sd-on", onNow);
      b.setAttribute("aria-pressed", String(onNow));
    }
  }

  setInvalidOnly(invalidOnly: boolean): void {
    this.invalidOnly = invalidOnly;
    this.invalid.classList.toggle("sd-on", invalidOnly);
    this.invalid.setAttribute("aria-pressed", String(invalidOnly));
  }

  /**
   * "1,234 of 5,000": rows matching the filter, of the rows this browser view holds
   * (not Python's buffer: see the tooltip).
   */
  setMatchCount(shown: number, total: number): void {
    setText(this.matchCount, `${count(shown)} of ${count(total)}`);
    this.held = total;
    this.updateCountTitle();
  }

  /** Python's side, for the count's tooltip: events buffered, rows thinned from the display. */
  setPythonCounts(buffered: number | null, skipped: number): void {
    if (buffered === this.buffered && skipped === this.skipped) return;
    this.buffered = buffered;
    this.skipped = skipped;
    this.updateCountTitle();
  }

  private updateCountTitle(): void {
    const lines = [`Rows matching the filter, of the ${count(this.held)} rows this view holds.`];
    if (this.buffered !== null) {
      lines.push(`The Python buffer holds ${count(this.buffered)} events; dbg.filtered() filters all of them.`);
    }
    if (this.skipped > 0) {
      lines.push(`${count(this.skipped)} rows were thinned from the display (input outran it); Python kept them.`);
    }
    this.countBox.title = lines.join("\n");
  }

  destroy(): void {
    for (const fn of this.cleanups.splice(0)) fn();
    this.element.remove();
  }
}
