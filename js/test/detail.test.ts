import { afterEach, describe, expect, it } from "vitest";
import { DetailPane, prettyJson, splitChunks } from "../src/ui/detail";
import { makeRow } from "./fake_model";

let pane: DetailPane | null = null;
afterEach(() => {
  pane?.destroy();
  pane = null;
});

const q = (root: HTMLElement, id: string): HTMLElement => root.querySelector<HTMLElement>(`[data-testid="${id}"]`)!;

describe("splitChunks", () => {
  it("keeps all the text, cuts after newlines when it can, hard-cuts long lines", () => {
    const text = "aaaa\nbbbb\ncccc\n" + "x".repeat(25);
    const chunks = splitChunks(text, 8);
    expect(chunks.join("")).toBe(text);
    expect(chunks.slice(0, 3)).toEqual(["aaaa\n", "bbbb\n", "cccc\n"]);
    expect(chunks.every((c) => c.length <= 8)).toBe(true);
  });
});

describe("DetailPane", () => {
  it("pretty-prints the raw payload", () => {
    pane = new DetailPane({ onRequestRaw: () => {} });
    pane.show(makeRow(1, { type: "track", event: "A" }));
    expect(q(pane.element, "sd-detail-text").textContent).toBe(prettyJson('{"type":"track","event":"A"}'));
    expect(prettyJson("not json")).toBe("not json");
  });

  it("shows the event's own timestamp and when it was received", () => {
    pane = new DetailPane({ onRequestRaw: () => {} });
    const t = Date.UTC(2024, 0, 2, 13, 14, 15, 16);
    pane.show(makeRow(1, { type: "track", event: "A", timestamp: "2024-01-01T00:00:00Z" }, { t }));
    expect(q(pane.element, "sd-detail-timestamp").textContent).toBe("2024-01-01T00:00:00Z");
    expect(q(pane.element, "sd-detail-received").textContent).toBe("2024-01-02T13:14:15.016Z");
  });

  it("shows the stream id after the channel, only for events read from a stream", () => {
    pane = new DetailPane({ onRequestRaw: () => {} });
    pane.show(makeRow(1, { type: "track" }, { channel: "segment:events", stream_id: "1714564800000-0" }));
    const keys = [...pane.element.querySelectorAll(".sd-meta-key")].map((n) => n.textContent);
    expect(keys.slice(keys.indexOf("channel"), keys.indexOf("channel") + 2)).toEqual(["channel", "stream id"]);
    expect(q(pane.element, "sd-detail-stream_id").textContent).toBe("1714564800000-0");
    pane.show(makeRow(2, { type: "track" })); // pub/sub: stream_id null
    expect(pane.element.querySelector('[data-testid="sd-detail-stream_id"]')).toBeNull();
    expect([...pane.element.querySelectorAll(".sd-meta-key")].map((n) => n.textContent)).not.toContain("stream id");
  });

  it("shows a truncated payload as a preview with a button that asks for the rest", () => {
    const asked: number[] = [];
    pane = new DetailPane({ onRequestRaw: (seq) => asked.push(seq) });
    pane.show(makeRow(9, { type: "track" }, { raw: '{"type":"track","blob":"xxxx', truncated: true, size: 2_000_000 }));
    expect(q(pane.element, "sd-detail-note").textContent).toContain("Large payload (1.9 MB)");
    click(q(pane.element, "sd-detail-tab-pretty"));
    expect(q(pane.element, "sd-detail-note").textContent).toContain("needs the full payload");
    click(q(pane.element, "sd-show-full"));
    expect(asked).toEqual([9]);
    pane.receiveRaw(9, '{"type":"track","event":"Full"}');
    expect(q(pane.element, "sd-detail-text").textContent).toBe('analytics.track("Full");');
  });

  it("says so when the full payload was evicted", () => {
    pane = new DetailPane({ onRequestRaw: () => {} });
    pane.show(makeRow(3, {}, { raw: "{", truncated: true }));
    click(q(pane.element, "sd-show-full"));
    pane.receiveRaw(3, null);
    expect(q(pane.element, "sd-detail-note").textContent).toContain("no longer in Python's buffer");
  });
});

function click(node: HTMLElement): void {
  node.dispatchEvent(new MouseEvent("click", { bubbles: true }));
}
