/**
 * The toolbar's Export button (issue 12): export_request through the request channel, the
 * `export` reply's one binary buffer saved as a download (`<a download>`, object URL revoked),
 * progress and errors in the toolbar, the pending filter text sent first.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EXPORT_TIMEOUT_MS } from "../src/sync/channel";
import { defaultExportName, exportBlob, exportFilename, REVOKE_DELAY_MS } from "../src/ui/export";
import { FakeModel, mountWidget, type MountedWidget } from "./fake_model";

const LINES = ['{"type":"track","event":"A"}', '{"type":"identify","userId":"ü"}'];
const FILE = new TextEncoder().encode(LINES.map((l) => `${l}\n`).join(""));
const NAME = "segment-events-20240501T120000Z.ndjson";

let mounted: MountedWidget | null = null;
/** every object URL made: its blob; revoked ones; the links clicked */
let urls: Map<string, Blob>;
let revoked: string[];
let clicked: Array<{ href: string; download: string; inDocument: boolean }>;
const originals = { create: URL.createObjectURL, revoke: URL.revokeObjectURL };

beforeEach(() => {
  urls = new Map();
  revoked = [];
  clicked = [];
  URL.createObjectURL = ((blob: Blob) => {
    const url = `blob:test/${urls.size + 1}`;
    urls.set(url, blob);
    return url;
  }) as typeof URL.createObjectURL;
  URL.revokeObjectURL = (url: string) => {
    revoked.push(url);
  };
  vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
    clicked.push({ href: this.href, download: this.download, inDocument: this.isConnected });
  });
});

afterEach(() => {
  mounted?.cleanup();
  mounted = null;
  URL.createObjectURL = originals.create;
  URL.revokeObjectURL = originals.revoke;
  vi.restoreAllMocks();
  vi.useRealTimers();
  document.body.replaceChildren();
});

function mount(model: FakeModel, views = 1): HTMLElement[] {
  mounted = mountWidget(model);
  return Array.from({ length: views }, () => mounted!.addView());
}

const byTestId = (host: HTMLElement, id: string): HTMLElement => {
  const node = host.querySelector<HTMLElement>(`[data-testid="${id}"]`);
  if (!node) throw new Error(`no element with data-testid=${id}`);
  return node;
};
const click = (node: Element): void => {
  node.dispatchEvent(new MouseEvent("click", { bubbles: true }));
};
const exportButton = (host: HTMLElement): HTMLButtonElement => byTestId(host, "sd-export") as HTMLButtonElement;
const note = (host: HTMLElement): HTMLElement => byTestId(host, "sd-export-status");

/** The request id of the newest export_request. */
function lastExportId(model: FakeModel): string {
  const sent = model.sentOfType("export_request");
  expect(sent.length).toBeGreaterThan(0);
  return sent.at(-1)!.request_id;
}

/** Python's reply: the message, and the file as its one buffer (a DataView, as in JupyterLab). */
function reply(model: FakeModel, requestId: string, bytes: Uint8Array = FILE, extra: Record<string, unknown> = {}): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  model.emitCustom(
    { type: "export", request_id: requestId, filename: NAME, count: LINES.length, size: bytes.byteLength, ...extra },
    [view],
  );
}

describe("export: the button", () => {
  it("is in the toolbar and sends one export_request, busy until the reply", () => {
    const model = new FakeModel();
    const [host] = mount(model);
    const button = exportButton(host);
    expect(button.closest(".sd-toolbar")).not.toBeNull();
    expect(button.textContent).toBe("Export");
    expect(note(host).hidden).toBe(true);
    click(button);
    expect(model.sentOfType("export_request")).toEqual([{ type: "export_request", request_id: expect.any(String) }]);
    expect(button.disabled).toBe(true);
    expect(button.textContent).toBe("Exporting…");
    expect(button.getAttribute("aria-busy")).toBe("true");
    expect(note(host).hidden).toBe(false);
    expect(note(host).textContent).toBe("exporting…");
    click(button); // disabled; and a second start while busy is ignored anyway
    expect(model.sentOfType("export_request")).toHaveLength(1);
  });

  it("saves the reply's buffer as a download named by Python, then revokes the URL", async () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const [host] = mount(model);
    click(exportButton(host));
    reply(model, lastExportId(model));
    expect(clicked).toEqual([{ href: "blob:test/1", download: NAME, inDocument: true }]);
    expect(document.querySelector("a[download]")).toBeNull(); // the link is gone again
    const blob = urls.get("blob:test/1")!;
    expect(blob.type).toBe("application/x-ndjson");
    expect(blob.size).toBe(FILE.byteLength);
    expect((await blob.text()).split("\n").filter(Boolean)).toEqual(LINES);
    expect(exportButton(host).disabled).toBe(false);
    expect(exportButton(host).textContent).toBe("Export");
    expect(note(host).dataset.state).toBe("done");
    expect(note(host).textContent).toBe(`saved 2 events (${FILE.byteLength} B)`);
    expect(note(host).title).toContain(NAME);
    expect(revoked).toEqual([]);
    vi.advanceTimersByTime(REVOKE_DELAY_MS);
    expect(revoked).toEqual(["blob:test/1"]);
    expect(note(host).hidden).toBe(true); // the done note went away meanwhile
  });

  it("takes an ArrayBuffer too, and exports again after one finished", async () => {
    const model = new FakeModel();
    const [host] = mount(model);
    click(exportButton(host));
    model.emitCustom(
      { type: "export", request_id: lastExportId(model), filename: NAME, count: 2, size: FILE.byteLength },
      [FILE.slice().buffer],
    );
    click(exportButton(host));
    reply(model, lastExportId(model));
    expect(model.sentOfType("export_request")).toHaveLength(2);
    expect(clicked.map((c) => c.href)).toEqual(["blob:test/1", "blob:test/2"]);
    expect(await urls.get("blob:test/1")!.text()).toBe(await urls.get("blob:test/2")!.text());
  });

  it("shows Python's error and saves nothing", () => {
    const model = new FakeModel();
    const [host] = mount(model);
    click(exportButton(host));
    const message = "export: 300 MB is too large for a browser download: use dbg.export(path)";
    vi.spyOn(console, "warn").mockImplementation(() => {});
    model.emitCustom({ type: "error", message, request_id: lastExportId(model) });
    expect(clicked).toEqual([]);
    expect(exportButton(host).disabled).toBe(false);
    expect(note(host).dataset.state).toBe("error");
    expect(note(host).textContent).toBe(`Export failed: ${message}`);
    // the error stays until the next export
    click(exportButton(host));
    expect(note(host).textContent).toBe("exporting…");
  });

  it("fails after the export timeout, not the ordinary request timeout", () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const [host] = mount(model);
    click(exportButton(host));
    vi.advanceTimersByTime(30_000);
    expect(exportButton(host).disabled).toBe(true);
    vi.advanceTimersByTime(EXPORT_TIMEOUT_MS - 30_000);
    expect(exportButton(host).disabled).toBe(false);
    expect(note(host).dataset.state).toBe("error");
    expect(note(host).textContent).toBe(
      `Export failed: no reply from Python to export_request within ${EXPORT_TIMEOUT_MS / 1000} s`,
    );
    // the late reply is dropped: never a download nobody waits for
    const debug = vi.spyOn(console, "debug").mockImplementation(() => {});
    reply(model, lastExportId(model));
    expect(clicked).toEqual([]);
    expect(debug).toHaveBeenCalled();
  });

  it("refuses bytes that did not arrive whole", () => {
    const model = new FakeModel();
    const [host] = mount(model);
    click(exportButton(host));
    reply(model, lastExportId(model), FILE, { size: FILE.byteLength + 10 });
    expect(clicked).toEqual([]);
    expect(note(host).textContent).toBe(`Export failed: the export arrived incomplete: ${FILE.byteLength} of ${FILE.byteLength + 10} bytes`);
    click(exportButton(host));
    model.emitCustom({ type: "export", request_id: lastExportId(model), filename: NAME, count: 0, size: 0 }, []);
    expect(note(host).textContent).toBe("Export failed: the export arrived with 0 binary buffers (expected 1)");
    expect(clicked).toEqual([]);
  });

  it("sends filter text still waiting for its debounce before the request", () => {
    const model = new FakeModel();
    const [host] = mount(model);
    const queryAtSend: string[] = [];
    model.onSend = (msg) => {
      if (msg.type === "export_request") queryAtSend.push(model.traits.query);
    };
    const filter = byTestId(host, "sd-filter") as HTMLInputElement;
    filter.value = "type:identify";
    filter.dispatchEvent(new Event("input", { bubbles: true }));
    expect(model.traits.query).toBe(""); // debounced
    click(exportButton(host));
    expect(queryAtSend).toEqual(["type:identify"]);
    expect(model.writes.filter(([k]) => k === "query")).toEqual([["query", "type:identify"]]);
  });

  it("a view closed while waiting cancels: no download, its object URLs revoked", () => {
    const model = new FakeModel();
    mounted = mountWidget(model);
    const a = mounted.addView("a");
    click(exportButton(a));
    const first = lastExportId(model);
    mounted.removeView("a");
    vi.spyOn(console, "debug").mockImplementation(() => {});
    reply(model, first);
    expect(clicked).toEqual([]);

    const b = mounted.addView("b");
    click(exportButton(b));
    reply(model, lastExportId(model));
    expect(clicked).toHaveLength(1);
    mounted.removeView("b");
    expect(revoked).toEqual([clicked[0].href]); // not left to its timer
  });

  it("with two views, only the one clicked is busy and one file is saved", () => {
    const model = new FakeModel();
    const [a, b] = mount(model, 2);
    click(exportButton(a));
    expect(exportButton(a).disabled).toBe(true);
    expect(exportButton(b).disabled).toBe(false);
    reply(model, lastExportId(model));
    expect(clicked).toHaveLength(1);
    expect(note(a).dataset.state).toBe("done");
    expect(note(b).hidden).toBe(true);
  });
});

describe("export: file name and bytes", () => {
  const now = new Date(Date.UTC(2024, 4, 1, 12, 0, 0, 123));

  it("defaults to segment-events-<UTC time>.ndjson", () => {
    expect(defaultExportName(now)).toBe("segment-events-20240501T120000Z.ndjson");
  });

  it("keeps Python's name as a plain file name", () => {
    expect(exportFilename(NAME, now)).toBe(NAME);
    expect(exportFilename("../../etc/evil.ndjson", now)).toBe("evil.ndjson");
    expect(exportFilename("C:\\x\\y.ndjson", now)).toBe("y.ndjson");
    expect(exportFilename("a\u0000b\u001b.ndjson", now)).toBe("ab.ndjson");
    for (const bad of ["", "..", "dir/", null, undefined, 3]) {
      expect(exportFilename(bad, now)).toBe("segment-events-20240501T120000Z.ndjson");
    }
  });

  it("builds the Blob from a view into a larger buffer, exactly its bytes", async () => {
    const backing = new Uint8Array(FILE.byteLength + 8);
    backing.set(FILE, 4);
    const view = new DataView(backing.buffer, 4, FILE.byteLength);
    const blob = exportBlob({ type: "export", request_id: "r", filename: NAME, count: 2, size: FILE.byteLength }, [view]);
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(FILE);
  });
});
