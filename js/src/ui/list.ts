/**
 * The virtual list: newest first, fixed row height, only the rows in view
 * (plus overscan) exist in the DOM, whatever the store holds.
 */
import {
  Virtualizer,
  elementScroll,
  observeElementOffset,
  observeElementRect,
  type Rect,
} from "@tanstack/virtual-core";
import { el, on } from "./dom";
import { badge, label, time, user } from "./format";
import { visible, visibleNodes } from "./visible";
import type { Row } from "../sync/protocol";

/** Pixel height of one row (the CSS uses the same number). */
export const ROW_HEIGHT = 28;

/** Rows rendered beyond each edge of the viewport. */
const OVERSCAN = 10;

/** What the list reads rows from (a RowView). */
export interface RowSource {
  readonly length: number;
  at(i: number): Row | undefined;
  indexOfSeq(seq: number): number;
}

interface ListOptions {
  /** a row was clicked */
  onSelect(row: Row): void;
  /** viewport size to assume while the element has no layout (hidden, or a test DOM) */
  fallbackRect?: Rect;
}

/**
 * Renders one row's cells; every piece of event data goes in as text, its control and
 * invisible characters escaped (visible.ts).
 */
function buildRow(row: Row): HTMLElement {
  const b = badge(row);
  const t = time(row);
  const warnings = row.warnings ?? [];
  const mark = !row.valid
    ? el("span", {
        className: "sd-mark sd-invalid-mark",
        text: "!",
        title: [...row.violations, ...warnings].map((v) => visible(v)).join("\n"),
      })
    : warnings.length > 0
      ? el("span", {
          className: "sd-mark sd-warning-mark",
          testid: "sd-warning-mark",
          text: "~",
          title: warnings.map((w) => visible(w)).join("\n"),
        })
      : el("span", { className: "sd-mark" });
  const node = el("div", { className: "sd-row", testid: "sd-row" }, [
    el("span", { className: `sd-badge sd-type-${b.kind}` }, visibleNodes(b.text)),
    el("span", { className: "sd-label", testid: "sd-label" }, visibleNodes(label(row))),
    el("span", { className: "sd-user", testid: "sd-user" }, visibleNodes(user(row))),
    el("span", { className: "sd-time", text: t.text, title: visible(t.title, true) }),
    mark,
  ]);
  node.dataset.seq = String(row.seq);
  node.dataset.type = row.type ?? "";
  node.setAttribute("role", "option");
  if (!row.valid) node.classList.add("sd-invalid");
  else if (warnings.length > 0) node.classList.add("sd-warned");
  return node;
}

/** A scrolling, virtualised list of rows. */
export class VirtualList {
  readonly element: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly virtualizer: Virtualizer<HTMLElement, HTMLElement>;
  private source: RowSource = { length: 0, at: () => undefined, indexOfSeq: () => -1 };
  private nodes = new Map<number, HTMLElement>();
  private selectedSeq: number | null = null;
  private pushOffset: ((offset: number, isScrolling: boolean) => void) | null = null;
  private readonly cleanups: Array<() => void> = [];

  constructor(private readonly opts: ListOptions) {
    this.spacer = el("div", { className: "sd-list-spacer" });
    this.element = el("div", { className: "sd-list", attrs: { role: "listbox" } }, [this.spacer]);
    const fallback = opts.fallbackRect ?? { width: 600, height: 400 };
    this.virtualizer = new Virtualizer<HTMLElement, HTMLElement>({
      count: 0,
      getScrollElement: () => this.element,
      estimateSize: () => ROW_HEIGHT,
      overscan: OVERSCAN,
      initialRect: fallback,
      scrollToFn: elementScroll,
      getItemKey: (i) => this.source.at(i)?.seq ?? -1 - i,
      observeElementRect: (instance, cb) =>
        observeElementRect(instance, (rect) => cb(rect.height > 0 ? rect : fallback)),
      observeElementOffset: (instance, cb) => {
        this.pushOffset = cb;
        return observeElementOffset(instance, cb);
      },
      onChange: () => this.paint(),
    });
    this.cleanups.push(this.virtualizer._didMount());
    this.virtualizer._willUpdate();
    this.cleanups.push(
      on(this.element, "click", (ev) => {
        const target = (ev.target as HTMLElement).closest<HTMLElement>(".sd-row");
        const seq = target ? Number(target.dataset.seq) : NaN;
        const index = Number.isNaN(seq) ? -1 : this.source.indexOfSeq(seq);
        const row = index >= 0 ? this.source.at(index) : undefined;
        if (row) this.opts.onSelect(row);
      }),
    );
  }

  /**
   * Shows `source`. `prepended` rows were added at the top since the last call:
   * when the user has scrolled away from the top, the view is shifted by as
   * much so what they look at stays put.
   */
  update(source: RowSource, prepended = 0): void {
    this.source = source;
    const scrollTop = this.element.scrollTop;
    this.virtualizer.setOptions({ ...this.virtualizer.options, count: source.length });
    if (prepended > 0 && scrollTop > 0) {
      const target = scrollTop + prepended * ROW_HEIGHT;
      this.spacer.style.height = `${this.virtualizer.getTotalSize()}px`;
      this.element.scrollTop = target;
      this.pushOffset?.(this.element.scrollTop, false);
    }
    this.paint();
  }

  /** Highlights the row with this seq (null: none). */
  setSelected(seq: number | null): void {
    this.selectedSeq = seq;
    for (const [s, node] of this.nodes) {
      node.classList.toggle("sd-selected", s === seq);
      node.setAttribute("aria-selected", String(s === seq));
    }
  }

  /** Scrolls to the top (the newest row). */
  scrollToTop(): void {
    if (this.element.scrollTop !== 0) {
      this.element.scrollTop = 0;
      this.pushOffset?.(0, false);
    }
  }

  /** Scrolls to `offset` pixels from the top (the newest row), then paints. */
  scrollTo(offset: number): void {
    const next = Math.max(0, Math.round(offset));
    if (this.element.scrollTop !== next) {
      this.spacer.style.height = `${this.virtualizer.getTotalSize()}px`;
      this.element.scrollTop = next;
      this.pushOffset?.(this.element.scrollTop, false);
    }
    this.paint();
  }

  /** Scrolls so that the row at `index` is visible. */
  scrollToIndex(index: number): void {
    if (index < 0 || index >= this.source.length) return;
    const top = index * ROW_HEIGHT;
    const height = this.element.clientHeight || this.virtualizer.scrollRect?.height || 0;
    const cur = this.element.scrollTop;
    let next = cur;
    if (top < cur) next = top;
    else if (top + ROW_HEIGHT > cur + height) next = top + ROW_HEIGHT - height;
    if (next !== cur) {
      this.element.scrollTop = next;
      this.pushOffset?.(this.element.scrollTop, false);
    }
    this.paint();
  }

  /** The rendered row elements (for tests and keyboard handling). */
  renderedCount(): number {
    return this.nodes.size;
  }

  /** Syncs the DOM with the virtualizer's window. */
  private paint(): void {
    this.spacer.style.height = `${this.virtualizer.getTotalSize()}px`;
    const items = this.virtualizer.getVirtualItems();
    const keep = new Map<number, HTMLElement>();
    for (const item of items) {
      const row = this.source.at(item.index);
      if (!row) continue;
      let node = this.nodes.get(row.seq);
      if (node) this.nodes.delete(row.seq);
      else {
        node = buildRow(row);
        this.element.appendChild(node);
      }
      node.style.transform = `translateY(${item.start}px)`;
      const selected = row.seq === this.selectedSeq;
      node.classList.toggle("sd-selected", selected);
      node.setAttribute("aria-selected", String(selected));
      node.classList.toggle("sd-odd", item.index % 2 === 1);
      keep.set(row.seq, node);
    }
    for (const node of this.nodes.values()) node.remove();
    this.nodes = keep;
  }

  /** Removes listeners and observers. */
  destroy(): void {
    for (const fn of this.cleanups.splice(0)) fn();
    this.pushOffset = null;
    this.element.remove();
  }
}
