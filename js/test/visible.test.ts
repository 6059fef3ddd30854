/**
 * Control and invisible characters shown as escapes (issue 8): spec/visible_vectors.json (the
 * rule `segment-debugger tail` shares), the DOM form, and every place event data is shown.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DetailPane, splitChunks } from "../src/ui/detail";
import { VirtualList, type RowSource } from "../src/ui/list";
import { escapeChar, hasHidden, setVisible, visible, visibleNodes } from "../src/ui/visible";
import type { Row } from "../src/sync/protocol";
import vectorsJson from "../../spec/visible_vectors.json";
import { makeRow } from "./fake_model";

interface Vector {
  id: string;
  note: string;
  input: string;
  output: string;
}
const vectors = (vectorsJson as { cases: Vector[] }).cases;

const RLO = "\u202e";
const SPOOF = `admin${RLO}gnp.exe`;
const SPOOF_SHOWN = "admin\\u202egnp.exe";

/** The code points the issue names, each of which must never reach the DOM raw. */
const LISTED = [
  ...Array.from({ length: 0x20 }, (_, i) => i),
  ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i), // DEL + C1
  ...Array.from({ length: 5 }, (_, i) => 0x200b + i),
  ...Array.from({ length: 5 }, (_, i) => 0x202a + i),
  ...Array.from({ length: 5 }, (_, i) => 0x2060 + i),
  ...Array.from({ length: 4 }, (_, i) => 0x2066 + i),
  0xfeff,
  0x061c,
].map((cp) => String.fromCodePoint(cp));

/** True when a node's text holds a hidden character raw (line breaks of multi-line text aside). */
const rawHidden = (node: Node): boolean => hasHidden((node.textContent ?? "").replace(/\n/g, ""));

describe("visible: spec/visible_vectors.json", () => {
  it("has cases", () => {
    expect(vectors.length).toBeGreaterThan(20);
  });
  for (const v of vectors) {
    it(`${v.id}: ${v.note}`, () => {
      expect(visible(v.input)).toBe(v.output);
      // the DOM form reads the same, escapes in spans, nothing hidden left raw
      const host = document.createElement("div");
      host.append(...visibleNodes(v.input));
      expect(host.textContent).toBe(v.output);
      expect(rawHidden(host)).toBe(false);
      for (const span of host.querySelectorAll(".sd-esc")) expect(span.textContent).toMatch(/^\\(x|u|U|t|n|r)/);
    });
  }
});

describe("visible: the rule", () => {
  it("escapes every character the issue lists", () => {
    for (const ch of LISTED) {
      expect(hasHidden(ch), `U+${ch.codePointAt(0)!.toString(16)}`).toBe(true);
      expect(visible(ch)).toBe(escapeChar(ch));
      expect(visible(ch)).toMatch(/^\\[xutnr]/);
    }
  });

  it("keeps line breaks in multi-line text when asked, escapes \\r and \\t there", () => {
    expect(visible("a\nb\r\n\tc", true)).toBe("a\nb\\r\n\\tc");
    const host = document.createElement("pre");
    host.append(...visibleNodes(`{\n  "userId": "${SPOOF}"\n}`, true));
    expect(host.textContent).toBe(`{\n  "userId": "${SPOOF_SHOWN}"\n}`);
    expect(host.querySelectorAll(".sd-esc")).toHaveLength(1);
  });

  it("marks each escape with a tooltip naming the character", () => {
    const [, span] = visibleNodes(SPOOF) as HTMLElement[];
    expect(span.className).toBe("sd-esc");
    expect(span.title).toContain("U+202E RIGHT-TO-LEFT OVERRIDE");
  });

  it("setVisible writes text only, and rewrites when the content changed", () => {
    const node = document.createElement("span");
    setVisible(node, SPOOF);
    expect(node.textContent).toBe(SPOOF_SHOWN);
    setVisible(node, "plain");
    expect(node.textContent).toBe("plain");
    expect(node.childElementCount).toBe(0);
    setVisible(node, "<b>x</b>");
    expect(node.querySelector("b")).toBeNull();
  });

  it("never splits a surrogate pair between two chunks", () => {
    const text = "x".repeat(15) + "😀" + "y".repeat(20);
    for (const chunk of splitChunks(text, 16)) expect(visible(chunk)).toBe(chunk);
    expect(splitChunks(text, 16).join("")).toBe(text);
  });
});

describe("visible: where event data is shown", () => {
  let cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const fn of cleanups.splice(0)) fn();
    document.body.replaceChildren();
  });

  const hostile = (): Row =>
    makeRow(7, {
      type: "track",
      event: `Login\u200b\u2066ok\u2069`,
      userId: SPOOF,
      messageId: `m\x00-7\ufeff`,
      timestamp: "2024-01-01T00:00:00.000Z\u202e",
      properties: { note: `a${RLO}b`, esc: "\x1b[2J" },
    }, { channel: `events\u200f`, violations: [`bad ${RLO}value`], valid: false });

  it("the list row: label, user, badge and tooltips escaped, text order intact", () => {
    const row = hostile();
    const src: RowSource = { length: 1, at: (i) => (i === 0 ? row : undefined), indexOfSeq: () => 0 };
    const list = new VirtualList({ onSelect: () => {}, fallbackRect: { width: 600, height: 400 } });
    cleanups.push(() => list.destroy());
    document.body.appendChild(list.element);
    list.update(src);
    const node = list.element.querySelector<HTMLElement>('[data-testid="sd-row"]')!;
    expect(node.querySelector('[data-testid="sd-user"]')!.textContent).toBe(SPOOF_SHOWN);
    expect(node.querySelector('[data-testid="sd-label"]')!.textContent).toBe("Login\\u200b\\u2066ok\\u2069");
    expect(rawHidden(node)).toBe(false);
    for (const el of node.querySelectorAll<HTMLElement>("[title]")) expect(hasHidden(el.title.replace(/\n/g, ""))).toBe(false);
  });

  it("the detail pane: fields, Raw, Pretty and Violations escaped", () => {
    const pane = new DetailPane({ onRequestRaw: () => {} });
    cleanups.push(() => pane.destroy());
    document.body.appendChild(pane.element);
    pane.show(hostile());
    const q = (id: string): HTMLElement => pane.element.querySelector<HTMLElement>(`[data-testid="${id}"]`)!;
    expect(q("sd-detail-messageId").textContent).toBe("m\\x00-7\\ufeff");
    expect(q("sd-detail-channel").textContent).toBe("events\\u200f");
    expect(q("sd-detail-timestamp").textContent).toBe("2024-01-01T00:00:00.000Z\\u202e");
    for (const tab of ["raw", "pretty", "violations"]) {
      q(`sd-detail-tab-${tab}`).click();
      expect(rawHidden(pane.element), tab).toBe(false);
    }
    q("sd-detail-tab-raw").click();
    expect(q("sd-detail-text").textContent).toContain(`"userId": "${SPOOF_SHOWN}"`);
    expect(q("sd-detail-text").textContent).toContain("\\u001b[2J"); // JSON's own escape of ESC
    q("sd-detail-tab-pretty").click();
    expect(q("sd-detail-text").textContent).toContain(`"note": "a\\u202eb"`);
    q("sd-detail-tab-violations").click();
    expect(q("sd-violations").textContent).toBe("bad \\u202evalue");
  });

  it("Raw of a payload that is not JSON escapes its controls, keeps its lines", () => {
    const pane = new DetailPane({ onRequestRaw: () => {} });
    cleanups.push(() => pane.destroy());
    pane.show(makeRow(8, `line one\x1b[31m\nline ${RLO}two\r`, { valid: false, violations: ["payload is not JSON"] }));
    const text = pane.element.querySelector('[data-testid="sd-detail-text"]')!;
    expect(text.textContent).toBe("line one\\x1b[31m\nline \\u202etwo\\r");
  });

  it("big payloads rendered in chunks are escaped too", async () => {
    const pane = new DetailPane({ onRequestRaw: () => {} });
    cleanups.push(() => pane.destroy());
    const big = JSON.stringify({ type: "track", event: "Big", userId: SPOOF, pad: "x".repeat(50_000) });
    pane.show(makeRow(9, big));
    const text = pane.element.querySelector<HTMLElement>('[data-testid="sd-detail-text"]')!;
    await new Promise((r) => setTimeout(r, 100));
    expect(text.querySelectorAll(".sd-chunk").length).toBeGreaterThan(1);
    expect(text.textContent).toContain(SPOOF_SHOWN);
    expect(rawHidden(text)).toBe(false);
  });
});
