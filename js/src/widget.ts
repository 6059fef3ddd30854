/**
 * SegmentDebugger front end (anywidget). Model: segment_debugger/widget.py,
 * traits and messages: segment_debugger/protocol.py (mirrored in protocol.ts).
 */
import "./widget.css";
import { DetailPane } from "./detail";
import { el, on } from "./dom";
import { Header } from "./header";
import { VirtualList } from "./list";
import { listen, type ModelTraits, type WidgetModel } from "./model";
import { asInbound, type OutboundMsg, type Row } from "./protocol";
import { selectedDict } from "./selection";
import { RowStore } from "./store";
import { Toolbar } from "./toolbar";
import { RowView, type Criteria } from "./view";

/** Delay before the filter box text is saved to the `query` trait. */
export const QUERY_DEBOUNCE_MS = 150;
/**
 * A snapshot request unanswered for this long is sent again (a request made while the kernel
 * connection is still coming back after a reload can be lost), and until then repeat asks on
 * further gaps are held back.
 */
export const SNAPSHOT_RETRY_MS = 3000;

let requestCounter = 0;
function requestId(): string {
  requestCounter += 1;
  return `${Date.now().toString(36)}-${requestCounter}`;
}

/** The widget's controller: owns the store, the view and the parts, wires them to the model. */
class Debugger {
  readonly root: HTMLElement;
  private readonly store: RowStore;
  private readonly view: RowView;
  private readonly list: VirtualList;
  private readonly header: Header;
  private readonly toolbar: Toolbar;
  private readonly detail: DetailPane;
  private readonly cleanups: Array<() => void> = [];
  private criteria: Criteria;
  private paused = false;
  private selectedSeq: number | null = null;
  private frame: number | null = null;
  private prepended = 0;
  private queryTimer: ReturnType<typeof setTimeout> | null = null;
  private snapshotAskedAt: number | null = null;
  private snapshotRetry: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly model: WidgetModel) {
    this.store = new RowStore(model.get("max_rows") || 10_000);
    this.criteria = {
      query: model.get("query") ?? "",
      typeFilter: model.get("type_filter") ?? [],
      invalidOnly: Boolean(model.get("invalid_only")),
    };
    this.view = new RowView(this.store, this.criteria);
    this.header = new Header(() => this.clear());
    this.toolbar = new Toolbar({
      onPausedChange: (p) => this.setPaused(p, true),
      onQueryInput: (q) => this.onQueryInput(q),
      onTypeFilterChange: (types) => {
        this.setCriteria({ ...this.criteria, typeFilter: types });
        this.save("type_filter", types);
      },
      onInvalidOnlyChange: (only) => {
        this.setCriteria({ ...this.criteria, invalidOnly: only });
        this.save("invalid_only", only);
      },
    });
    this.list = new VirtualList({ onSelect: (row) => this.select(row, true) });
    this.detail = new DetailPane({
      onRequestRaw: (seq) => this.send({ type: "raw_request", seq, request_id: requestId() }),
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
    this.header.setStatus(model.get("status"));
    this.header.setStats(model.get("stats"));
    if (model.get("paused")) this.setPaused(true, false);

    this.cleanups.push(
      listen(model, "msg:custom", (msg: unknown) => this.onMessage(msg)),
      listen(model, "change:paused", () => this.setPaused(Boolean(model.get("paused")), false)),
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
      listen(model, "change:selected", () => this.onModelSelected()),
      listen(model, "change:status", () => this.header.setStatus(model.get("status"))),
      listen(model, "change:stats", () => this.onStats()),
      listen(model, "change:max_rows", () => {
        this.store.setCapacity(model.get("max_rows") || 10_000);
        this.view.append([]);
        this.schedule();
      }),
      on(this.root, "keydown", (ev) => this.onKey(ev)),
    );
    this.requestSnapshot();
    this.schedule();
  }

  private send(msg: OutboundMsg): void {
    this.model.send(msg);
  }

  private save<K extends keyof ModelTraits>(key: K, value: ModelTraits[K]): void {
    this.model.set(key, value);
    this.model.save_changes();
  }

  private requestSnapshot(): void {
    const now = Date.now();
    if (this.snapshotAskedAt !== null && now - this.snapshotAskedAt < SNAPSHOT_RETRY_MS) return;
    this.snapshotAskedAt = now;
    this.send({ type: "snapshot_request", request_id: requestId() });
    if (this.snapshotRetry !== null) clearTimeout(this.snapshotRetry);
    this.snapshotRetry = setTimeout(() => {
      this.snapshotRetry = null;
      if (this.snapshotAskedAt === null) return; // answered meanwhile
      this.snapshotAskedAt = null;
      this.requestSnapshot();
    }, SNAPSHOT_RETRY_MS);
  }

  private onMessage(content: unknown): void {
    const msg = asInbound(content);
    if (!msg) {
      console.warn("segment_debugger: ignoring an unknown message", content);
      return;
    }
    switch (msg.type) {
      case "snapshot":
        this.store.applySnapshot(msg);
        this.snapshotAskedAt = null;
        if (this.snapshotRetry !== null) clearTimeout(this.snapshotRetry);
        this.snapshotRetry = null;
        if (!this.paused) this.view.rebuild();
        this.prepended = 0;
        this.refreshSelection();
        break;
      case "delta": {
        const result = this.store.applyDelta(msg);
        if (result.gap) this.requestSnapshot();
        else this.prepended += this.view.append(result.added);
        break;
      }
      case "raw":
        this.detail.receiveRaw(msg.seq, msg.raw);
        return;
      case "error":
        console.warn(`segment_debugger: ${msg.message}`);
        this.detail.receiveError(msg.message);
        return;
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

  private paint(): void {
    const prepended = this.prepended;
    this.prepended = 0;
    this.list.update(this.view, prepended);
    this.list.setSelected(this.selectedSeq);
    this.toolbar.setPaused(this.paused, this.store.backlog);
    this.toolbar.setMatchCount(this.view.length, this.view.total);
  }

  private onStats(): void {
    const stats = this.model.get("stats");
    this.header.setStats(stats);
    this.toolbar.setPythonCounts(
      typeof stats?.buffered === "number" ? stats.buffered : null,
      typeof stats?.skipped === "number" ? stats.skipped : 0,
    );
    // Rows Python no longer buffers (its byte cap evicts too) leave the store as well.
    if (typeof stats?.first_seq === "number" && this.store.dropBefore(stats.first_seq) > 0) {
      this.view.append([]);
      this.schedule();
    }
  }

  private setPaused(paused: boolean, fromUser: boolean): void {
    if (paused !== this.paused) {
      this.paused = paused;
      if (paused) {
        this.store.pause();
        this.view.freeze();
      } else {
        this.store.resume();
        this.view.unfreeze();
        this.prepended = 0;
        this.list.scrollToTop();
      }
      this.toolbar.setPaused(paused, this.store.backlog);
      this.schedule();
    }
    if (fromUser && Boolean(this.model.get("paused")) !== paused) this.save("paused", paused);
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
      if (this.model.get("query") !== query) this.save("query", query);
    }, QUERY_DEBOUNCE_MS);
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
    return i >= 0 ? this.view.at(i) : this.store.bySeq(seq);
  }

  private select(row: Row | null, fromUser: boolean): void {
    this.selectedSeq = row?.seq ?? null;
    this.list.setSelected(this.selectedSeq);
    this.detail.show(row);
    if (fromUser) {
      this.model.set("selected", row ? selectedDict(row) : null);
      this.model.save_changes();
    }
  }

  private onModelSelected(): void {
    const sel = this.model.get("selected");
    const seq = sel && typeof sel.seq === "number" ? sel.seq : null;
    if (seq === this.selectedSeq) return;
    const row = seq === null ? undefined : this.findRow(seq);
    this.selectedSeq = seq;
    this.list.setSelected(seq);
    this.detail.show(row ?? null);
    if (row) this.list.scrollToIndex(this.view.indexOfSeq(row.seq));
  }

  /** After a snapshot: the detail pane keeps showing the selected row if it is still held. */
  private refreshSelection(): void {
    if (this.selectedSeq !== null && this.detail.seq === null) {
      const row = this.findRow(this.selectedSeq);
      if (row) this.detail.show(row);
    }
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
        this.select(row, true);
        this.list.scrollToIndex(next);
      }
      ev.preventDefault();
    } else if (ev.key === "Escape" && this.selectedSeq !== null) {
      this.select(null, true);
      ev.preventDefault();
    }
  }

  private clear(): void {
    this.store.clear();
    if (this.paused) {
      this.view.unfreeze();
      this.view.freeze();
    } else this.view.rebuild();
    this.select(null, true);
    this.send({ type: "clear_request", request_id: requestId() });
    this.schedule();
  }

  destroy(): void {
    for (const fn of this.cleanups.splice(0)) fn();
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    if (this.queryTimer !== null) clearTimeout(this.queryTimer);
    if (this.snapshotRetry !== null) clearTimeout(this.snapshotRetry);
    this.frame = null;
    this.queryTimer = null;
    this.snapshotRetry = null;
    this.list.destroy();
    this.detail.destroy();
    this.header.destroy();
    this.toolbar.destroy();
    this.root.remove();
  }
}

/** anywidget entry: builds the debugger in `el`; returns the cleanup. */
function render({ model, el: host }: { model: WidgetModel; el: HTMLElement }): () => void {
  const dbg = new Debugger(model);
  host.appendChild(dbg.root);
  return () => dbg.destroy();
}

export default { render };
