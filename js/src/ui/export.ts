/**
 * The toolbar's Export button (issue 12): the kernel builds the file (the filtered view as
 * NDJSON, exactly `dbg.filtered()`, from its whole buffer) and sends its bytes as the
 * `export` reply's one binary buffer; here they become a Blob saved through the browser's
 * download (`<a download>`), the object URL revoked afterwards. The front end builds nothing
 * from its own rows: it holds only the store it already had, plus the file while it is handed
 * to the download.
 */
import type { ReplyHandlers } from "../sync/channel";
import type { Buffers, ExportMsg } from "../sync/protocol";
import { button, el, on, setText } from "./dom";
import { bytes, count } from "./format";

/** The object URL stays valid this long after the click (the download reads it meanwhile). */
export const REVOKE_DELAY_MS = 30_000;

/** How long the "saved N events" note stays. */
export const DONE_NOTE_MS = 10_000;

/** The MIME type of the saved file. */
export const NDJSON_TYPE = "application/x-ndjson";

/** `segment-events-20240501T120000Z.ndjson`: the name used when Python's is unusable. */
export function defaultExportName(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/\.\d+Z$/, "Z").replace(/[-:]/g, "");
  return `segment-events-${stamp}.ndjson`;
}

/**
 * The file name to save under: Python's, reduced to a plain name (no directory, no control
 * characters), or `defaultExportName()` when nothing usable is left.
 */
export function exportFilename(name: unknown, now: Date = new Date()): string {
  if (typeof name !== "string") return defaultExportName(now);
  // eslint-disable-next-line no-control-regex
  const base = (name.split(/[/\\]/).pop() ?? "").replace(/[\u0000-\u001f\u007f]/g, "").trim();
  return base && base !== "." && base !== ".." ? base : defaultExportName(now);
}

/** The export's bytes as a Blob; throws when they did not arrive whole. */
export function exportBlob(msg: ExportMsg, buffers: Buffers): Blob {
  if (buffers.length !== 1) {
    throw new Error(`the export arrived with ${buffers.length} binary buffers (expected 1)`);
  }
  const data = buffers[0];
  if (typeof msg.size === "number" && data.byteLength !== msg.size) {
    throw new Error(`the export arrived incomplete: ${count(data.byteLength)} of ${count(msg.size)} bytes`);
  }
  return new Blob([data as BlobPart], { type: NDJSON_TYPE });
}

/**
 * Starts the browser's download of `blob` as `filename` (a hidden `<a download>` clicked
 * once). Returns the revoke of its object URL, which also runs by itself after
 * REVOKE_DELAY_MS (call it to revoke earlier, e.g. when the view is torn down); `onRevoked`
 * runs once it is revoked, either way.
 */
export function saveBlob(
  blob: Blob,
  filename: string,
  doc: Document = document,
  onRevoked?: () => void,
): () => void {
  const url = URL.createObjectURL(blob);
  const a = doc.createElement("a");
  a.href = url;
  a.download = filename;
  a.rel = "noopener";
  a.style.display = "none";
  // In the document (Firefox ignores a click on a detached link), outside the widget root.
  doc.body.appendChild(a);
  try {
    a.click();
  } finally {
    a.remove();
  }
  let timer: ReturnType<typeof setTimeout> | null = setTimeout(revoke, REVOKE_DELAY_MS);
  function revoke(): void {
    if (timer === null) return;
    clearTimeout(timer);
    timer = null;
    URL.revokeObjectURL(url);
    onRevoked?.();
  }
  return revoke;
}

/** What the export control needs from the view. */
export interface ExportHooks {
  /** sends the export request (Session.requestExport); returns its cancel */
  request(handlers: ReplyHandlers<ExportMsg>): () => void;
  /** runs first: sends a filter still waiting for its debounce, so Python exports what is shown */
  beforeRequest?(): void;
}

export type ExportState = "idle" | "busy" | "done" | "error";

/** The Export button and its note (progress, result or error); one export at a time. */
export class ExportControl {
  readonly element: HTMLElement;
  readonly button: HTMLButtonElement;
  readonly note: HTMLElement;
  private readonly cleanups: Array<() => void> = [];
  private readonly revokes = new Set<() => void>();
  private cancel: (() => void) | null = null;
  private noteTimer: ReturnType<typeof setTimeout> | null = null;
  private _state: ExportState = "idle";

  constructor(private readonly hooks: ExportHooks) {
    this.button = button({
      className: "sd-button sd-export",
      testid: "sd-export",
      text: "Export",
      title:
        "Download the filtered view as NDJSON (one payload per line).\n" +
        "The kernel writes it from its whole buffer: exactly dbg.filtered(), the events\n" +
        "matching the filter and toggles, including ones thinned from or newer than this list.",
    });
    this.note = el("span", {
      className: "sd-export-note",
      testid: "sd-export-status",
      attrs: { role: "status", "aria-live": "polite" },
    });
    this.note.hidden = true;
    this.element = el("span", { className: "sd-export-box" }, [this.button, this.note]);
    this.cleanups.push(on(this.button, "click", () => this.start()));
  }

  get state(): ExportState {
    return this._state;
  }

  /** The button was clicked: asks the kernel for the file, unless an export is under way. */
  start(): void {
    if (this.cancel !== null) return;
    this.hooks.beforeRequest?.();
    this.show("busy", "exporting…", "Waiting for the kernel to build the file");
    this.cancel = this.hooks.request({
      onReply: (msg, buffers) => {
        this.cancel = null;
        this.received(msg, buffers);
      },
      onError: (error) => {
        this.cancel = null;
        this.show("error", `Export failed: ${error.message}`, error.message);
      },
    });
  }

  private received(msg: ExportMsg, buffers: Buffers): void {
    let blob: Blob;
    try {
      blob = exportBlob(msg, buffers);
    } catch (e) {
      this.show("error", `Export failed: ${(e as Error).message}`, (e as Error).message);
      return;
    }
    const filename = exportFilename(msg.filename);
    const revoke = saveBlob(blob, filename, this.element.ownerDocument, () => this.revokes.delete(revoke));
    this.revokes.add(revoke);
    const n = typeof msg.count === "number" ? msg.count : 0;
    this.show(
      "done",
      `saved ${count(n)} event${n === 1 ? "" : "s"} (${bytes(blob.size)})`,
      `${filename}: ${count(n)} events, ${count(blob.size)} bytes`,
    );
  }

  private show(state: ExportState, text: string, title: string): void {
    this._state = state;
    this.button.disabled = state === "busy";
    this.button.setAttribute("aria-busy", String(state === "busy"));
    setText(this.button, state === "busy" ? "Exporting…" : "Export");
    this.note.hidden = state === "idle";
    this.note.dataset.state = state;
    setText(this.note, text);
    this.note.title = title;
    if (this.noteTimer !== null) clearTimeout(this.noteTimer);
    this.noteTimer = null;
    if (state === "done") {
      this.noteTimer = setTimeout(() => {
        this.noteTimer = null;
        this.show("idle", "", "");
      }, DONE_NOTE_MS);
    }
  }

  /** Cancels a pending export and revokes the object URLs still held. */
  destroy(): void {
    for (const fn of this.cleanups.splice(0)) fn();
    this.cancel?.();
    this.cancel = null;
    if (this.noteTimer !== null) clearTimeout(this.noteTimer);
    this.noteTimer = null;
    for (const revoke of [...this.revokes]) revoke();
    this.element.remove();
  }
}
