/**
 * One view of the debugger: its own DOM (header, toolbar, list, detail), its own filtered
 * and possibly frozen rows and scroll position, over the model's shared Session. Traits are
 * the shared UI state: a selection or filter made in one view shows in every view.
 */
import { RowView, type Criteria } from "../data/view";
import { listen, save, type DebuggerModel } from "../sync/model";
import type { Row } from "../sync/protocol";
import type { Session, SessionEvent } from "../sync/session";
import { DetailPane } from "./detail";
import { el, on } from "./dom";
import { ExportControl } from "./export";
import { Header } from "./header";
import { ROW_HEIGHT, VirtualList } from "./list";
import { Toolbar } from "./toolbar";

/** Delay before the filter box text is saved to the `query` trait. */
const QUERY_DEBOUNCE_MS = 150;

export class DebuggerView {
  readonly root: HTMLElement;
  private readonly view: RowView;
  private readonly list: VirtualList;
  private readonly header: Header;
  private readonly toolbar: Toolbar;
  private readonly detail: DetailPane;
  private readonly exporter: ExportControl;
  private readonly cleanups: Array<() => void> = [];
  private criteria: Criteria;
  /** the seq this view highlights: the selected_seq trait, applied */
  private selectedSeq: number | null = null;
  private frame: number | null = null;
  private prepended = 0;
  /** scrolled away from the top when a snapshot replaced the rows: the row to keep in place */
  private anchor: { seq: number; offset: number } | null = null;
  private queryTimer: ReturnType<typeof setTimeout> | null = null;
  private cancelRaw: (() => void) | null = null;

  constructor(
    private readonly model: DebuggerModel,
    private readonly session: Session,
  ) {
    this.criteria = {
      query: model.get("query") ?? "",
      typeFilter: model.get("type_filter") ?? [],
      invalidOnly: Boolean(model.get("invalid_only")),
      warningsOnly: Boolean(model.get("warnings_only")),
    };
    this.view = new RowView(session.store, this.criteria);
    if (session.paused) this.view.freeze();
    this.header = new Header(() => session.clear());
    this.toolbar = new Toolbar({
      onPausedChange: (p) => session.setPaused(p),
      onQueryInput: (q) => this.onQueryInput(q),
      onTypeFilterChange: (types) => {
        this.setCriteria({ ...this.criteria, typeFilter: types });
        save(model, "type_filter", types);
      },
      onInvalidOnlyChange: (only) => {
        this.setCriteria({ ...this.criteria, invalidOnly: only });
        save(model, "invalid_only", only);
      },
      onWarningsOnlyChange: (only) => {
        this.setCriteria({ ...this.criteria, warningsOnly: only });
        save(model, "warnings_only", only);
      },
      requestSuggestions: (text, caret, handlers) => session.requestSuggestions(text, caret, handlers),
    });
    this.exporter = new ExportControl({
      request: (handlers) => session.requestExport(handlers),
      beforeRequest: () => this.flushQuery(),
    });
    this.toolbar.element.appendChild(this.exporter.element);
    this.list = new VirtualList({ onSelect: (row) => this.select(row) });
    this.detail = new DetailPane({
      onRequestRaw: (seq) => this.requestRaw(seq),
      onShowPerson: (query) => this.showPerson(query),
    });
    this.root = el("div", { className: "sd-root", testid: "sd-root", attrs: { tabindex: "0" } }, [
      this.header.element,
      this.toolbar.element,
      el("div", { className: "sd-main" }, [
        el("div", { className: "sd-list-pane" }, [this.list.element]),
        this.detail.element,
      ]),
    ]);
    // Keep JupyterLab's notebook shortcuts (arrows, Esc...) from firing inside the widget.
    this.root.setAttribute("data-lm-suppress-shortcuts", "true");

    this.toolbar.setQuery(this.criteria.query);
    this.toolbar.setTypeFilter(this.criteria.typeFilter);
    this.toolbar.setInvalidOnly(this.criteria.invalidOnly);
    this.toolbar.setWarningsOnly(Boolean(this.criteria.warningsOnly));
    this.toolbar.setPaused(session.paused, session.store.backlog);
    this.header.setStatus(model.get("status"));
    this.header.setKernelVersion(model.get("_version"));
    this.onStats();
    this.showSelection(model.get("selected_seq") ?? null);

    this.cleanups.push(
      session.subscribe((ev) => this.onSession(ev)),
      listen(model, "change:query", () => this.onModelQuery()),
      listen(model, "change:type_filter", () => {
        const types = model.get("type_filter") ?? [];
        this.toolbar.setTypeFilter(types);
        this.setCriteria({ ...this.criteria, typeFilter: types });
      }),
      listen(model, "change:invalid_only", () => {
        const only = Boolean(model.get("invalid_only"));
        this.toolbar.setInvalidOnly(only);
        this.setCriteria({ ...this.criteria, invalidOnly: only });
      }),
      listen(model, "change:warnings_only", () => {
        const only = Boolean(model.get("warnings_only"));
        this.toolbar.setWarningsOnly(only);
        this.setCriteria({ ...this.criteria, warningsOnly: only });
      }),
      listen(model, "change:selected_seq", () => this.showSelection(model.get("selected_seq") ?? null)),
      listen(model, "change:selected", () => this.showPersonOfSelected()),
      listen(model, "change:status", () => this.header.setStatus(model.get("status"))),
      listen(model, "change:stats", () => this.onStats()),
      listen(model, "change:_version", () => this.header.setKernelVersion(model.get("_version"))),
      on(this.root, "keydown", (ev) => this.onKey(ev)),
    );
    this.schedule();
  }

  private onSession(ev: SessionEvent): void {
    switch (ev.kind) {
      case "snapshot":
        // Also unasked, when the criteria traits changed (maybe while the user types): the
        // filter box and the local criteria are left alone, the rows are filtered again, and
        // a list scrolled away from the top keeps the row it showed at the top in place.
        this.anchor ??= this.topAnchor();
        this.view.applySnapshot();
        this.prepended = 0;
        this.refreshSelection();
        break;
      case "delta":
        this.prepended += this.view.append(ev.added);
        break;
      case "trimmed":
        this.view.append([]);
        break;
      case "cleared":
        if (this.view.isFrozen) {
          this.view.unfreeze();
          this.view.freeze();
        } else this.view.rebuild();
        break;
      case "paused":
        if (ev.paused) this.view.freeze();
        else {
          this.view.unfreeze();
          this.prepended = 0;
          this.list.scrollToTop();
        }
        this.toolbar.setPaused(ev.paused, this.session.store.backlog);
        break;
    }
    this.schedule();
  }

  /** Repaints on the next animation frame (many messages, one paint). */
  private schedule(): void {
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.paint();
    });
  }

  /**
   * The row at the top of the list's viewport and how far it is scrolled past, as painted
   * (rows prepended since the last paint are not on screen yet); null at the top (live).
   */
  private topAnchor(): { seq: number; offset: number } | null {
    const scrollTop = this.list.element.scrollTop;
    if (scrollTop <= 0) return null;
    const index = Math.floor(scrollTop / ROW_HEIGHT);
    const row = this.view.at(index + this.prepended);
    return row ? { seq: row.seq, offset: scrollTop - index * ROW_HEIGHT } : null;
  }

  private paint(): void {
    const prepended = this.prepended;
    this.prepended = 0;
    const anchor = this.anchor;
    this.anchor = null;
    this.list.update(this.view, prepended);
    if (anchor) {
      // The anchored row, or the newest older one shown, stays where it was.
      const index = this.view.indexAtOrBefore(anchor.seq);
      this.list.scrollTo(index >= 0 ? index * ROW_HEIGHT + anchor.offset : Math.max(0, this.view.length - 1) * ROW_HEIGHT);
    }
    this.list.setSelected(this.selectedSeq);
    const store = this.session.store;
    this.toolbar.setPaused(this.session.paused, store.backlog);
    // One screen, one total: the list's "N of M" is the header's buffered, in the same paint.
    const { buffered } = this.header.setRows({ lastSeq: store.lastSeq, pythonBuffered: store.pythonBuffered });
    const stats = this.model.get("stats");
    this.toolbar.setCounts({
      shown: this.view.length,
      held: this.view.total,
      buffered: typeof stats?.buffered === "number" || store.lastSeq !== null ? buffered : null,
      matched: store.matched,
      skipped: store.skipped,
      capacity: store.capacity,
      paused: this.session.paused,
      backlog: store.backlog,
    });
  }

  private onStats(): void {
    const stats = this.model.get("stats");
    // With criteria (Python's `matched`), the thinning note counts matching rows per second.
    const matching = this.session.store.matched !== null ? this.session.rates.perSecond(performance.now()) : null;
    this.header.setStats(stats, matching);
    this.schedule(); // the header's counters are painted with the list's count
  }

  private setCriteria(criteria: Criteria): void {
    this.criteria = criteria;
    this.view.setCriteria(criteria);
    this.prepended = 0;
    this.schedule();
  }

  private onQueryInput(query: string): void {
    this.setCriteria({ ...this.criteria, query });
    if (this.queryTimer !== null) clearTimeout(this.queryTimer);
    this.queryTimer = setTimeout(() => {
      this.queryTimer = null;
      if (this.model.get("query") !== query) save(this.model, "query", query);
    }, QUERY_DEBOUNCE_MS);
  }

  /**
   * Saves filter box text still waiting for its debounce, at once: the trait change reaches
   * Python before a request sent after it (one comm, in order), so an export matches the box.
   */
  private flushQuery(): void {
    if (this.queryTimer === null) return;
    clearTimeout(this.queryTimer);
    this.queryTimer = null;
    if (this.model.get("query") !== this.criteria.query) save(this.model, "query", this.criteria.query);
  }

  private onModelQuery(): void {
    if (this.queryTimer !== null) return; // the user's newer text wins
    const query = this.model.get("query") ?? "";
    if (query === this.criteria.query) return;
    this.toolbar.setQuery(query);
    this.setCriteria({ ...this.criteria, query });
  }

  private findRow(seq: number): Row | undefined {
    const i = this.view.indexOfSeq(seq);
    return i >= 0 ? this.view.at(i) : this.session.store.bySeq(seq);
  }

  /** The user selects a row (or none): shown here at once, written to `selected_seq` only. */
  private select(row: Row | null): void {
    const seq = row?.seq ?? null;
    this.showSelection(seq);
    if ((this.model.get("selected_seq") ?? null) !== seq) save(this.model, "selected_seq", seq);
  }

  /** Highlights the row with this seq and shows it in the detail pane. */
  private showSelection(seq: number | null): void {
    if (seq === this.selectedSeq && (seq === null || this.detail.seq === seq)) return;
    this.selectedSeq = seq;
    const row = seq === null ? undefined : this.findRow(seq);
    this.list.setSelected(seq);
    this.showDetail(row ?? null);
    if (row) this.list.scrollToIndex(this.view.indexOfSeq(row.seq));
  }

  private showDetail(row: Row | null): void {
    if (row?.seq !== this.detail.seq) {
      this.cancelRaw?.();
      this.cancelRaw = null;
    }
    this.detail.show(row);
    this.showPersonOfSelected();
  }

  /** The detail pane's person: Python's `selected.person`, once it describes the row shown. */
  private showPersonOfSelected(): void {
    const selected = this.model.get("selected");
    if (selected && selected.seq === this.detail.seq) this.detail.setPerson(selected.seq, selected.person ?? null);
  }

  /** "Show this person": the filter box gets `person:ID`, sent to Python at once. */
  private showPerson(query: string): void {
    this.toolbar.setQuery(query);
    this.onQueryInput(query);
    this.flushQuery();
  }

  /** After a snapshot: the detail pane shows the selected row if it is now held. */
  private refreshSelection(): void {
    if (this.selectedSeq !== null && this.detail.seq === null) {
      const row = this.findRow(this.selectedSeq);
      if (row) this.showDetail(row);
    }
  }

  private requestRaw(seq: number): void {
    this.cancelRaw?.();
    this.cancelRaw = this.session.requestRaw(seq, {
      onReply: (msg) => {
        this.cancelRaw = null;
        this.detail.receiveRaw(msg.seq, msg.raw);
      },
      onError: (error) => {
        this.cancelRaw = null;
        this.detail.receiveError(error.message);
      },
    });
  }

  private onKey(ev: KeyboardEvent): void {
    if (ev.target instanceof HTMLInputElement && ev.key !== "Escape") return;
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      const current = this.selectedSeq === null ? -1 : this.view.indexOfSeq(this.selectedSeq);
      let next = ev.key === "ArrowDown" ? current + 1 : current - 1;
      if (current < 0) next = 0;
      next = Math.max(0, Math.min(this.view.length - 1, next));
      const row = this.view.at(next);
      if (row) {
        this.select(row);
        this.list.scrollToIndex(next);
      }
      ev.preventDefault();
    } else if (ev.key === "Escape" && this.selectedSeq !== null) {
      this.select(null);
      ev.preventDefault();
    }
  }

  /** Removes every listener, timer and pending request of this view, and its DOM. */
  destroy(): void {
    for (const fn of this.cleanups.splice(0)) fn();
    this.cancelRaw?.();
    this.cancelRaw = null;
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    if (this.queryTimer !== null) clearTimeout(this.queryTimer);
    this.frame = null;
    this.queryTimer = null;
    this.list.destroy();
    this.detail.destroy();
    this.exporter.destroy();
    this.header.destroy();
    this.toolbar.destroy();
    this.root.remove();
  }
}
