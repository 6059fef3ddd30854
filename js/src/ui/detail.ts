/**
 * The detail pane for the selected row: tabs Raw (pretty-printed JSON, copy),
 * Pretty (the analytics.js call) and Violations. Big or truncated payloads show
 * a preview and a button that fetches the full text, rendered in chunks so a
 * 1 MB payload never blocks the page. Control and invisible characters are shown escaped
 * everywhere (visible.ts): the fields, Raw (line breaks of the text kept) and Pretty. Copy
 * copies the payload as it is. Under the fields, the event's person (from Python's identity
 * graph, via the `selected` trait): its ids, its event count and "Show this person", which
 * sets the filter to `person:ID`.
 */
import { button, el, on, setText } from "./dom";
import { bytes, count, receivedIso } from "./format";
import { personQuery } from "../data/filter";
import { prettyFromRaw } from "./pretty";
import { visibleNodes } from "./visible";
import type { PersonSummary, Row } from "../sync/protocol";

/** Payload text longer than this is shown as a preview first. */
const BIG_PAYLOAD_CHARS = 100_000;
/** Characters per DOM block when rendering a big text. */
const CHUNK_CHARS = 16 * 1024;
/** Blocks appended per animation frame. */
const CHUNKS_PER_FRAME = 8;

type Tab = "raw" | "pretty" | "violations" | "checks";

interface DetailHandlers {
  /** ask Python for the full payload of this seq */
  onRequestRaw(seq: number): void;
  /** "Show this person": set the filter box to this query (`person:ID`, quoted when needed) */
  onShowPerson?(query: string): void;
}

/** Pretty-prints JSON text; returns it unchanged when it does not parse. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/** Writes text into an element, hidden characters escaped, line breaks kept. */
function writeText(target: HTMLElement, text: string): void {
  target.replaceChildren(...visibleNodes(text, true));
}

/**
 * Splits text into chunks of about `size` characters, cutting after a newline when there is
 * one in the chunk's second half (so most lines stay whole).
 */
export function splitChunks(text: string, size: number): string[] {
  const chunks: string[] = [];
  let pos = 0;
  while (pos < text.length) {
    let end = Math.min(pos + size, text.length);
    if (end < text.length) {
      const nl = text.lastIndexOf("\n", end - 1);
      if (nl >= pos + size / 2) end = nl + 1;
      // never between the two halves of a surrogate pair (each would show as an escape)
      else if (isHighSurrogate(text.charCodeAt(end - 1)) && end - 1 > pos) end -= 1;
    }
    chunks.push(text.slice(pos, end));
    pos = end;
  }
  return chunks;
}

/**
 * Writes long text into an element as one block per chunk, a few chunks per frame. Blocks use
 * `content-visibility: auto` (CSS), so the browser lays out only the ones on screen.
 */
class ChunkedText {
  private frame: number | null = null;

  write(target: HTMLElement, text: string): void {
    this.cancel();
    if (text.length <= CHUNK_CHARS) {
      writeText(target, text);
      return;
    }
    const chunks = splitChunks(text, CHUNK_CHARS);
    target.replaceChildren();
    let next = 0;
    const step = (): void => {
      this.frame = null;
      const stop = Math.min(next + CHUNKS_PER_FRAME, chunks.length);
      for (; next < stop; next++) {
        target.appendChild(el("div", { className: "sd-chunk" }, visibleNodes(chunks[next], true)));
      }
      if (next < chunks.length) this.frame = requestAnimationFrame(step);
    };
    step();
  }

  cancel(): void {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
  }
}

/** The detail pane. */
export class DetailPane {
  readonly element: HTMLElement;
  private readonly meta = el("div", { className: "sd-detail-meta" });
  private readonly personBox = el("div", { className: "sd-person", testid: "sd-person" });
  private readonly personButton: HTMLButtonElement;
  /** the key of the person shown (what "Show this person" filters on), or null */
  private personKey: string | null = null;
  private readonly tabs = new Map<Tab, HTMLButtonElement>();
  private readonly body = el("div", { className: "sd-detail-body" });
  private readonly note = el("div", { className: "sd-detail-note", testid: "sd-detail-note" });
  private readonly fullButton: HTMLButtonElement;
  private readonly copyButton: HTMLButtonElement;
  private readonly pre = el("pre", { className: "sd-pre", testid: "sd-detail-text" });
  private readonly cleanups: Array<() => void> = [];
  private readonly chunks = new ChunkedText();
  private tab: Tab = "raw";
  private row: Row | null = null;
  /** the full payload text when fetched (or when the row was not truncated) */
  private full: string | null = null;
  private loading = false;
  /** the user asked for the whole payload */
  private expanded = false;
  private copyTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly handlers: DetailHandlers) {
    const tabBar = el("div", { className: "sd-tabs", attrs: { role: "tablist" } });
    for (const [tab, text] of [
      ["raw", "Raw"],
      ["pretty", "Pretty"],
      ["violations", "Violations"],
      ["checks", "Checks"],
    ] as const) {
      const b = button({
        className: "sd-tab",
        testid: `sd-detail-tab-${tab}`,
        text,
        attrs: { role: "tab" },
      });
      this.tabs.set(tab, b);
      tabBar.appendChild(b);
      this.cleanups.push(on(b, "click", () => this.setTab(tab)));
    }
    this.copyButton = button({
      className: "sd-button sd-copy",
      testid: "sd-copy",
      text: "Copy",
    });
    this.fullButton = button({
      className: "sd-button sd-full",
      testid: "sd-show-full",
      text: "Show full payload",
    });
    this.personButton = button({
      className: "sd-button sd-show-person",
      testid: "sd-show-person",
      text: "Show this person",
      title: "Filter the list to every event of this person (person:ID)",
    });
    this.cleanups.push(
      on(this.personButton, "click", () => {
        if (this.personKey !== null) this.handlers.onShowPerson?.(personQuery(this.personKey));
      }),
    );
    tabBar.appendChild(el("span", { className: "sd-spacer" }));
    tabBar.appendChild(this.copyButton);
    this.cleanups.push(
      on(this.copyButton, "click", () => void this.copy()),
      on(this.fullButton, "click", () => this.loadFull()),
    );
    this.element = el("div", { className: "sd-detail", testid: "sd-detail" }, [
      this.meta,
      this.personBox,
      tabBar,
      this.note,
      this.body,
    ]);
    this.show(null);
  }

  /** Shows a row (null: the empty state). */
  show(row: Row | null): void {
    if (row && this.row && row.seq === this.row.seq) return;
    this.row = row;
    this.loading = false;
    this.expanded = false;
    this.full = row && !row.truncated ? row.raw : null;
    this.element.classList.toggle("sd-empty", row === null);
    this.meta.replaceChildren();
    this.setPerson(row?.seq ?? null, undefined);
    if (row) {
      const items: Array<[string, string]> = [
        ["seq", String(row.seq)],
        ["type", row.type ?? "?"],
        ["messageId", row.messageId ?? "—"],
        ["timestamp", row.timestamp ?? "—"],
        ["received", receivedIso(row) || "—"],
        ["channel", row.channel],
        // with the channel it was read from; pub/sub events have none
        ...(row.stream_id != null ? [["stream id", row.stream_id] as [string, string]] : []),
        ["size", bytes(row.size)],
      ];
      for (const [k, v] of items) {
        this.meta.appendChild(
          el("span", { className: "sd-meta-item" }, [
            el("span", { className: "sd-meta-key", text: k }),
            el("span", { className: "sd-meta-value", testid: `sd-detail-${k.replace(/ /g, "_")}` }, visibleNodes(v)),
          ]),
        );
      }
      setText(this.tabs.get("violations")!, `Violations (${row.violations.length})`);
      setText(this.tabs.get("checks")!, `Checks (${(row.warnings ?? []).length})`);
    } else {
      setText(this.tabs.get("violations")!, "Violations");
      setText(this.tabs.get("checks")!, "Checks");
    }
    this.render();
  }

  /**
   * Shows the person of the event `seq` (Python's `selected.person`): ignored unless that
   * row is shown. `undefined`: not known yet (the pane shows nothing); null: nobody's (the
   * event carries neither userId nor anonymousId).
   */
  setPerson(seq: number | null, person: PersonSummary | null | undefined): void {
    if (seq === null || this.row?.seq !== seq || person === undefined) {
      this.personKey = null;
      this.personBox.replaceChildren();
      return;
    }
    if (person === null || typeof person.person !== "string") {
      this.personKey = null;
      this.personBox.replaceChildren(
        el("span", { className: "sd-meta-key", text: "person" }),
        el("span", { className: "sd-person-none", text: "none: no userId nor anonymousId" }),
      );
      return;
    }
    this.personKey = person.person;
    const ids = (label: string, list: unknown, testid: string): HTMLElement => {
      const items = Array.isArray(list) ? list.filter((i): i is string => typeof i === "string") : [];
      const value = el("span", { className: "sd-meta-value", testid });
      items.forEach((id, i) => {
        if (i > 0) value.appendChild(document.createTextNode(", "));
        value.append(...visibleNodes(id));
      });
      if (items.length === 0) value.textContent = "—";
      return el("span", { className: "sd-meta-item" }, [el("span", { className: "sd-meta-key", text: label }), value]);
    };
    const events = typeof person.events === "number" ? person.events : 0;
    this.personBox.replaceChildren(
      el("span", { className: "sd-meta-item" }, [
        el("span", { className: "sd-meta-key", text: "person" }),
        el("span", { className: "sd-meta-value", testid: "sd-person-key" }, visibleNodes(person.person)),
      ]),
      ids("user ids", person.user_ids, "sd-person-user-ids"),
      ids("anonymous ids", person.anonymous_ids, "sd-person-anonymous-ids"),
      el("span", { className: "sd-meta-item" }, [
        el("span", { className: "sd-meta-key", text: "events" }),
        el("span", { className: "sd-meta-value", testid: "sd-person-events", text: count(events) }),
      ]),
      this.personButton,
    );
  }

  /** The currently shown row's seq, or null. */
  get seq(): number | null {
    return this.row?.seq ?? null;
  }

  /** Answer to a raw_request: the full text (null when Python no longer has it). */
  receiveRaw(seq: number, raw: string | null): void {
    if (!this.row || this.row.seq !== seq) return;
    this.loading = false;
    if (raw === null) {
      setText(this.note, "The full payload is no longer in Python's buffer (evicted).");
      return;
    }
    this.full = raw;
    this.expanded = true;
    this.render();
  }

  /** A raw_request failed. */
  receiveError(message: string): void {
    if (!this.loading) return;
    this.loading = false;
    setText(this.note, `Could not load the full payload: ${message}`);
  }

  setTab(tab: Tab): void {
    this.tab = tab;
    this.render();
  }

  private loadFull(): void {
    const row = this.row;
    if (!row) return;
    if (!row.truncated) {
      this.expanded = true;
      this.render();
      return;
    }
    this.loading = true;
    setText(this.note, "Loading the full payload…");
    this.handlers.onRequestRaw(row.seq);
  }

  private render(): void {
    this.chunks.cancel();
    for (const [tab, b] of this.tabs) {
      b.classList.toggle("sd-on", tab === this.tab);
      b.setAttribute("aria-selected", String(tab === this.tab));
    }
    setText(this.note, "");
    this.body.replaceChildren();
    const row = this.row;
    this.copyButton.hidden = row === null || this.tab === "violations" || this.tab === "checks";
    if (!row) {
      this.body.appendChild(el("div", { className: "sd-placeholder", text: "Select an event to see it here. ↑/↓ move, Esc clears." }));
      return;
    }
    if (this.tab === "violations") {
      if (row.violations.length === 0) {
        this.body.appendChild(el("div", { className: "sd-placeholder", text: "No violations: the event follows the Segment spec." }));
      } else {
        const list = el("ul", { className: "sd-violations", testid: "sd-violations" });
        for (const v of row.violations) list.appendChild(el("li", {}, visibleNodes(v)));
        this.body.appendChild(list);
      }
      return;
    }
    if (this.tab === "checks") {
      // warnings: clock and delivery checks, schema drift; they leave the event valid
      const warnings = row.warnings ?? [];
      if (warnings.length === 0) {
        this.body.appendChild(el("div", { className: "sd-placeholder", text: "No warnings: clock, delivery and schema checks passed." }));
      } else {
        const list = el("ul", { className: "sd-warnings", testid: "sd-warnings" });
        for (const w of warnings) list.appendChild(el("li", {}, visibleNodes(w)));
        this.body.appendChild(list);
      }
      return;
    }
    this.body.appendChild(this.pre);
    if (this.tab === "pretty") {
      if (this.full === null) {
        this.showPreviewNote(row, "The Pretty view needs the full payload.");
        this.pre.textContent = "";
      } else {
        this.renderText(prettyFromRaw(this.full), true);
      }
      return;
    }
    // Raw
    if (this.full === null) {
      this.showPreviewNote(row, `Showing the first ${count(row.raw.length)} characters.`);
      writeText(this.pre, row.raw);
    } else if (this.full.length > BIG_PAYLOAD_CHARS && !this.expanded) {
      // A big payload that was sent whole: preview first, all of it on request.
      this.showPreviewNote(row, `Showing the first ${count(BIG_PAYLOAD_CHARS)} characters.`);
      writeText(this.pre, this.full.slice(0, BIG_PAYLOAD_CHARS));
    } else {
      this.renderText(prettyJson(this.full), false);
    }
  }

  private showPreviewNote(row: Row, text: string): void {
    this.note.replaceChildren(
      el("span", { text: `Large payload (${bytes(row.size)}). ${text} ` }),
      this.fullButton,
    );
    this.fullButton.disabled = this.loading;
  }

  private renderText(text: string, withNote: boolean): void {
    if (!this.pre.isConnected) this.body.replaceChildren(this.pre);
    if (withNote && text.length > BIG_PAYLOAD_CHARS) setText(this.note, `${bytes(text.length)} of text`);
    this.chunks.write(this.pre, text);
  }

  private async copy(): Promise<void> {
    const text = this.tab === "pretty" ? (this.full ? prettyFromRaw(this.full) : "") : (this.full ?? this.row?.raw ?? "");
    const done = (msg: string): void => {
      setText(this.copyButton, msg);
      if (this.copyTimer !== null) clearTimeout(this.copyTimer);
      this.copyTimer = setTimeout(() => {
        this.copyTimer = null;
        setText(this.copyButton, "Copy");
      }, 1200);
    };
    try {
      await navigator.clipboard.writeText(text);
      done("Copied");
    } catch {
      done("Copy failed");
    }
  }

  destroy(): void {
    this.chunks.cancel();
    if (this.copyTimer !== null) clearTimeout(this.copyTimer);
    for (const fn of this.cleanups.splice(0)) fn();
    this.element.remove();
  }
}
