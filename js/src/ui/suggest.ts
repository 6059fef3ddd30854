/**
 * The filter box's dropdown of suggestions and its one-line hint (issue 11). Python computes
 * both from the traffic (analysis/suggest.py): field paths seen, pseudo-fields, the most
 * frequent values after `field:`, and a hint for a term the grammar reads differently from
 * what was likely meant. Here: ask at most twice a second (never blocking typing), drop
 * replies to text the box no longer holds, and drive the list from the keyboard — ↓/↑ move,
 * Tab or Enter accept, Esc closes; Enter with no list open keeps its meaning — or the mouse.
 * Accessible as an ARIA combobox (listbox/option, aria-activedescendant). Labels, details and
 * the hint are event data: text only, control and invisible characters shown as escapes.
 */
import type { ReplyHandlers } from "../sync/channel";
import type { SuggestionItem, SuggestionsMsg } from "../sync/protocol";
import { el, on } from "./dom";
import { setVisible } from "./visible";

/** At most one request per this many milliseconds (two a second). */
export const SUGGEST_INTERVAL_MS = 500;

/** Where suggestions come from: Python, through the session's request channel. */
export type SuggestRequester = (
  text: string,
  caret: number,
  handlers: ReplyHandlers<SuggestionsMsg>,
) => () => void;

let boxCounter = 0;

/** Replaces `text[start, end)` by `insert`; returns the new text and where the caret goes. */
export function applySuggestion(
  text: string,
  reply: Pick<SuggestionsMsg, "start" | "end">,
  item: SuggestionItem,
): { text: string; caret: number } {
  const start = Math.max(0, Math.min(text.length, reply.start));
  const end = Math.max(start, Math.min(text.length, reply.end));
  return { text: text.slice(0, start) + item.insert + text.slice(end), caret: start + item.insert.length };
}

/**
 * Suggestions for one filter input. `onAccept(text)` runs when a suggestion changed the box
 * (the toolbar treats it as typing). `element` is the popup (hint + list), placed by CSS under
 * the box; `destroy()` removes every listener and timer.
 */
export class SuggestBox {
  readonly element: HTMLElement;
  readonly list: HTMLUListElement;
  readonly hint: HTMLElement;
  private readonly listId: string;
  private readonly cleanups: Array<() => void> = [];
  private items: SuggestionItem[] = [];
  private reply: SuggestionsMsg | null = null;
  private active = -1;
  private open = false;
  /** text and caret of the request whose reply we wait for */
  private asked: { text: string; caret: number } | null = null;
  private cancel: (() => void) | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastSent = -Infinity;

  constructor(
    private readonly input: HTMLInputElement,
    private readonly requester: SuggestRequester,
    private readonly onAccept: (text: string) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    boxCounter += 1;
    this.listId = `sd-suggest-${boxCounter}`;
    this.list = el("ul", {
      className: "sd-suggest-list",
      testid: "sd-suggest-list",
      attrs: { id: this.listId, role: "listbox", "aria-label": "Filter suggestions" },
    });
    this.hint = el("div", { className: "sd-hint", testid: "sd-filter-hint", attrs: { role: "status" } });
    this.hint.hidden = true;
    this.list.hidden = true;
    // The list is in the DOM only while open: the view's one listbox otherwise is the event list.
    this.element = el("div", { className: "sd-suggest" }, [this.hint]);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", this.listId);
    input.setAttribute("aria-expanded", "false");
    this.cleanups.push(
      on(input, "input", () => this.schedule()),
      on(input, "keydown", (ev) => this.onKey(ev)),
      on(input, "blur", () => this.close()),
      // Keep the focus in the box while an option is clicked.
      on(this.list, "mousedown", (ev) => ev.preventDefault()),
      on(this.list, "click", (ev) => {
        const option = (ev.target as Element | null)?.closest?.("[role=option]");
        const index = option ? Number((option as HTMLElement).dataset.index) : -1;
        if (index >= 0) this.accept(index);
      }),
    );
  }

  /** True while the list is shown. */
  get isOpen(): boolean {
    return this.open;
  }

  /** The items shown (or last received). */
  get suggestions(): readonly SuggestionItem[] {
    return this.items;
  }

  /** Asks for suggestions for the box's text now, or when the interval allows (one trailing ask). */
  schedule(): void {
    if (this.input.value === "") {
      this.clearTimer();
      this.cancelRequest();
      this.show(null);
      return;
    }
    if (this.timer !== null) return; // the trailing ask will read the box as it is then
    const wait = this.lastSent + SUGGEST_INTERVAL_MS - this.now();
    if (wait <= 0) this.send();
    else
      this.timer = setTimeout(() => {
        this.timer = null;
        this.send();
      }, wait);
  }

  private send(): void {
    const text = this.input.value;
    if (text === "") return;
    const caret = this.input.selectionStart ?? text.length;
    this.cancelRequest();
    this.lastSent = this.now();
    this.asked = { text, caret };
    this.cancel = this.requester(text, caret, {
      onReply: (reply) => {
        this.cancel = null;
        const asked = this.asked;
        this.asked = null;
        if (!asked || asked.text !== this.input.value) {
          this.schedule(); // stale: the box changed meanwhile
          return;
        }
        this.show(reply);
      },
      onError: () => {
        this.cancel = null;
        this.asked = null;
      },
    });
  }

  /** Shows a reply: its hint, and its items as the list (open while the box has the focus). */
  show(reply: SuggestionsMsg | null): void {
    this.reply = reply;
    this.items = reply?.items ?? [];
    const hint = reply?.hint ?? null;
    this.hint.hidden = hint === null;
    setVisible(this.hint, hint ?? "");
    this.list.replaceChildren(
      ...this.items.map((item, i) =>
        el(
          "li",
          {
            className: "sd-suggest-item",
            attrs: { id: `${this.listId}-${i}`, role: "option", "aria-selected": "false", "data-index": String(i) },
          },
          [this.textNode("sd-suggest-label", item.label), this.textNode("sd-suggest-detail", item.detail)],
        ),
      ),
    );
    this.active = -1;
    if (this.items.length > 0 && document.activeElement === this.input) {
      this.setOpen(true);
      this.setActive(0);
    } else this.setOpen(false);
  }

  private textNode(className: string, text: string): HTMLElement {
    const node = el("span", { className });
    setVisible(node, text);
    return node;
  }

  private onKey(ev: KeyboardEvent): void {
    if (ev.isComposing) return;
    switch (ev.key) {
      case "ArrowDown":
      case "ArrowUp":
        if (!this.open) {
          if (this.items.length === 0 || !this.reply) return;
          this.setOpen(true);
          this.setActive(ev.key === "ArrowDown" ? 0 : this.items.length - 1);
        } else {
          const step = ev.key === "ArrowDown" ? 1 : -1;
          this.setActive((this.active + step + this.items.length) % this.items.length);
        }
        break;
      case "Tab":
      case "Enter":
        if (!this.open || this.active < 0 || ev.shiftKey) return; // Enter keeps its meaning
        this.accept(this.active);
        break;
      case "Escape":
        if (!this.open) return; // the view's Esc (clears the selection) goes on
        this.close();
        break;
      case "ArrowLeft":
      case "ArrowRight":
      case "Home":
      case "End":
        this.close(); // the caret leaves the term the list was for
        return;
      default:
        return;
    }
    ev.preventDefault();
    ev.stopPropagation();
  }

  /** Puts suggestion `index` into the box, then asks what may follow it. */
  accept(index: number): void {
    const item = this.items[index];
    const reply = this.reply;
    if (!item || !reply) return;
    const next = applySuggestion(this.input.value, reply, item);
    this.input.value = next.text;
    this.input.setSelectionRange(next.caret, next.caret);
    this.show(null);
    this.onAccept(next.text);
    this.schedule();
  }

  /** Hides the list (the hint stays). */
  close(): void {
    this.setOpen(false);
  }

  private setOpen(open: boolean): void {
    this.open = open && this.items.length > 0;
    this.list.hidden = !this.open;
    if (this.open && this.list.parentNode !== this.element) this.element.appendChild(this.list);
    else if (!this.open) this.list.remove();
    this.input.setAttribute("aria-expanded", String(this.open));
    if (!this.open) this.setActive(-1);
  }

  private setActive(index: number): void {
    const options = this.list.children;
    if (this.active >= 0 && this.active < options.length) options[this.active].setAttribute("aria-selected", "false");
    this.active = index;
    if (index >= 0 && index < options.length) {
      const option = options[index] as HTMLElement;
      option.setAttribute("aria-selected", "true");
      this.input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView?.({ block: "nearest" });
    } else this.input.removeAttribute("aria-activedescendant");
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private cancelRequest(): void {
    this.cancel?.();
    this.cancel = null;
    this.asked = null;
  }

  destroy(): void {
    for (const fn of this.cleanups.splice(0)) fn();
    this.clearTimer();
    this.cancelRequest();
    this.element.remove();
  }
}
