/** The toolbar: Live | Pause, "N new", filter box, match count, type, invalid and warnings toggles. */
import { button, el, on, setText } from "./dom";
import { count } from "./format";
import { EVENT_TYPES } from "../sync/protocol";
import { SuggestBox, type SuggestRequester } from "./suggest";

interface ToolbarHandlers {
  /** the Live/Pause button or the "N new" link was clicked */
  onPausedChange(paused: boolean): void;
  /** every keystroke in the filter box */
  onQueryInput(query: string): void;
  /** a type toggle was clicked: the new type_filter */
  onTypeFilterChange(types: string[]): void;
  onInvalidOnlyChange(invalidOnly: boolean): void;
  /** the warnings toggle was clicked: the new warnings_only */
  onWarningsOnlyChange?(warningsOnly: boolean): void;
  /** asks Python for the filter box's suggestions (none: no dropdown) */
  requestSuggestions?: SuggestRequester;
}

/** The filter box's tooltip: the filter language (README "Filter language") in brief. */
export const FILTER_HELP = [
  "Terms separated by spaces, all must match; -term excludes.",
  "text or \"quoted text\": anywhere in the payload (case-insensitive)",
  "field:value, a.b.c:value: a payload field (* wildcard; field:* = has the field)",
  "field:>10, >=, <, <=: numeric comparison",
  "valid:false: events with violations; violation:text: a violation containing text",
  "warning:text: a warning containing text; person:ID: every event of that person",
  "stream_id:ID: the Redis Stream entry id (* wildcard; stream_id:* = read from a stream)",
  "As you type: fields and values seen in the traffic (↓/↑, Tab or Enter, Esc).",
].join("\n");

/** What the list's count says (one paint: the same figures as the header's). */
export interface ListCounts {
  /** rows the list shows (the view's rows through the local filter) */
  shown: number;
  /** rows the view filtered over: the store's, or the frozen ones while paused */
  held: number;
  /** events in Python's buffer, as the header says (null before anything is known) */
  buffered: number | null;
  /** buffered events matching Python's criteria (null: no criteria, every event matches) */
  matched: number | null;
  /** matching rows thinned from the display since the last snapshot (Python kept them) */
  skipped: number;
  /** the store's capacity (the max_rows trait) */
  capacity: number;
  paused: boolean;
  /** while paused: rows received since the pause */
  backlog: number;
}

/**
 * The count's text and tooltip. "37 of 400" (+ " shown"): rows shown of the events in
 * Python's buffer, the header's "buffered". When Python counts more matches than the list
 * shows (matches thinned, more than max_rows, or paused): "200 of 1,240 matching (40,000
 * buffered)", and the tooltip says why.
 */
export function countText(c: ListCounts): { text: string; shown: boolean; title: string } {
  const buffered = c.buffered ?? c.held;
  const short = c.matched !== null && c.matched > c.shown;
  const text = short
    ? `${count(c.shown)} of ${count(c.matched!)} matching (${count(buffered)} buffered)`
    : `${count(c.shown)} of ${count(buffered)}`;
  const lines = [
    c.paused
      ? `${count(c.shown)} rows shown, frozen at the pause (${count(c.backlog)} new since).`
      : `${count(c.shown)} rows shown, of the ${count(c.held)} rows this view holds.`,
  ];
  if (c.buffered !== null) {
    lines.push(
      c.matched === null
        ? `The Python buffer holds ${count(c.buffered)} events; dbg.filtered() filters all of them.`
        : `The Python buffer holds ${count(c.buffered)} events; ${count(c.matched)} match the filter (dbg.filtered()).`,
    );
  }
  if (c.matched !== null) {
    lines.push("Python filters before it thins: every match is sent while matches arrive slower than the display budget.");
    if (c.matched > c.capacity) lines.push(`The list holds the newest ${count(c.capacity)} matches (max_rows).`);
  }
  if (c.skipped > 0) {
    const what = c.matched === null ? "rows" : "matching rows";
    lines.push(`${count(c.skipped)} ${what} were thinned from the display (input outran it); Python kept them.`);
  }
  return { text, shown: !short, title: lines.join("\n") };
}

/** Toolbar controls; state comes in through setters, user actions go out through handlers. */
export class Toolbar {
  readonly element: HTMLElement;
  readonly filter: HTMLInputElement;
  /** the filter box's suggestions and hint (null without a requester) */
  readonly suggest: SuggestBox | null;
  private readonly live: HTMLButtonElement;
  private readonly newCount: HTMLButtonElement;
  private readonly matchCount: HTMLElement;
  private readonly countBox: HTMLElement;
  private readonly suffix: HTMLElement;
  private readonly typeButtons = new Map<string, HTMLButtonElement>();
  private readonly invalid: HTMLButtonElement;
  private readonly warningsToggle: HTMLButtonElement;
  private readonly cleanups: Array<() => void> = [];
  private paused = false;
  private types: string[] = [];
  private invalidOnly = false;
  private warningsOnly = false;

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
    this.suggest = handlers.requestSuggestions
      ? new SuggestBox(this.filter, handlers.requestSuggestions, (text) => handlers.onQueryInput(text))
      : null;
    const filterBox = el("span", { className: "sd-filter-box" }, [this.filter]);
    if (this.suggest) filterBox.appendChild(this.suggest.element);
    this.matchCount = el("span", { className: "sd-count", testid: "sd-count" });
    // "37 of 400 shown": sd-count holds the numbers, the word outside it.
    this.suffix = el("span", { className: "sd-count", text: " shown" });
    this.countBox = el("span", { className: "sd-count-box", testid: "sd-count-box" }, [this.matchCount, this.suffix]);
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
    this.warningsToggle = button({
      className: "sd-toggle sd-toggle-warnings",
      testid: "sd-warnings-toggle",
      text: "warnings",
      title: "Show only events with warnings (clock, delivery and schema checks)",
      attrs: { "aria-pressed": "false" },
    });
    toggles.appendChild(this.warningsToggle);
    this.cleanups.push(
      on(this.warningsToggle, "click", () => handlers.onWarningsOnlyChange?.(!this.warningsOnly)),
      on(this.live, "click", () => handlers.onPausedChange(!this.paused)),
      on(this.newCount, "click", () => handlers.onPausedChange(false)),
      on(this.filter, "input", () => handlers.onQueryInput(this.filter.value)),
      on(this.invalid, "click", () => handlers.onInvalidOnlyChange(!this.invalidOnly)),
    );
    this.element = el("div", { className: "sd-toolbar" }, [
      this.live,
      this.newCount,
      filterBox,
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

  setWarningsOnly(warningsOnly: boolean): void {
    this.warningsOnly = warningsOnly;
    this.warningsToggle.classList.toggle("sd-on", warningsOnly);
    this.warningsToggle.setAttribute("aria-pressed", String(warningsOnly));
  }

  /** Shows the list's count (countText) and its tooltip. */
  setCounts(counts: ListCounts): void {
    const { text, shown, title } = countText(counts);
    setText(this.matchCount, text);
    setText(this.suffix, shown ? " shown" : "");
    if (this.countBox.title !== title) this.countBox.title = title;
  }

  destroy(): void {
    for (const fn of this.cleanups.splice(0)) fn();
    this.suggest?.destroy();
    this.element.remove();
  }
}
