import { afterEach, describe, expect, it } from "vitest";
import { ROW_HEIGHT, VirtualList, type RowSource } from "../src/ui/list";
import type { Row } from "../src/sync/protocol";
import { trackRow } from "./fake_model";

/** Newest-first source over rows 1..n (like a RowView). */
function source(n: number, from = 1): RowSource & { rows: Row[] } {
  const rows = Array.from({ length: n }, (_, i) => trackRow(from + i));
  return {
    rows,
    get length() {
      return rows.length;
    },
    at: (i) => rows[rows.length - 1 - i],
    indexOfSeq: (seq) => {
      const k = rows.findIndex((r) => r.seq === seq);
      return k < 0 ? -1 : rows.length - 1 - k;
    },
  };
}

const VIEWPORT = { width: 600, height: 400 };
let list: VirtualList | null = null;

function mount(onSelect: (row: Row) => void = () => {}): VirtualList {
  list = new VirtualList({ onSelect, fallbackRect: VIEWPORT });
  document.body.appendChild(list.element);
  return list;
}

const rendered = (l: VirtualList): number[] =>
  [...l.element.querySelectorAll<HTMLElement>('[data-testid="sd-row"]')].map((n) => Number(n.dataset.seq));
const offsetOf = (l: VirtualList, seq: number): number => {
  const node = l.element.querySelector<HTMLElement>(`[data-seq="${seq}"]`)!;
  return Number(/translateY\((\d+)px\)/.exec(node.style.transform)![1]);
};

afterEach(() => {
  list?.destroy();
  list = null;
  document.body.replaceChildren();
});

describe("VirtualList", () => {
  it("keeps the DOM to the viewport plus overscan with 10,000 rows, newest first", () => {
    const l = mount();
    l.update(source(10_000));
    const seqs = rendered(l);
    const visible = Math.ceil(VIEWPORT.height / ROW_HEIGHT);
    expect(seqs.length).toBeGreaterThanOrEqual(visible);
    expect(seqs.length).toBeLessThan(100);
    expect(Math.max(...seqs)).toBe(10_000);
    expect(offsetOf(l, 10_000)).toBe(0);
    expect(offsetOf(l, 9_999)).toBe(ROW_HEIGHT);
  });

  it("renders the window around the scroll position", async () => {
    const l = mount();
    l.update(source(10_000));
    l.element.scrollTop = 5_000 * ROW_HEIGHT;
    l.element.dispatchEvent(new Event("scroll"));
    const seqs = rendered(l);
    expect(seqs.length).toBeLessThan(100);
    expect(seqs).toContain(5_000); // index 5000 from the top is seq 10000 - 5000
    expect(seqs).not.toContain(10_000);
  });

  it("keeps what the user looks at in place when rows arrive above it", () => {
    const l = mount();
    const src = source(1_000);
    l.update(src);
    l.element.scrollTop = 100 * ROW_HEIGHT;
    l.element.dispatchEvent(new Event("scroll"));
    src.rows.push(trackRow(1_001), trackRow(1_002), trackRow(1_003));
    l.update(src, 3);
    expect(l.element.scrollTop).toBe(103 * ROW_HEIGHT);
    // the row at the top of the viewport is still seq 900
    expect(offsetOf(l, 900)).toBe(l.element.scrollTop);
  });

  it("stays at the top (live) when rows arrive and the user has not scrolled", () => {
    const l = mount();
    const src = source(10);
    l.update(src);
    src.rows.push(trackRow(11));
    l.update(src, 1);
    expect(l.element.scrollTop).toBe(0);
    expect(offsetOf(l, 11)).toBe(0);
  });

  it("reports clicks with the row and highlights the selection", () => {
    const clicked: number[] = [];
    const l = mount((row) => clicked.push(row.seq));
    l.update(source(20));
    const node = l.element.querySelector<HTMLElement>('[data-seq="15"] .sd-label')!;
    node.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(clicked).toEqual([15]);
    l.setSelected(15);
    expect(l.element.querySelectorAll(".sd-selected")).toHaveLength(1);
    expect(l.element.querySelector(".sd-selected")?.getAttribute("data-seq")).toBe("15");
  });

  it("scrolls a row into view", () => {
    const l = mount();
    l.update(source(1_000));
    l.scrollToIndex(500);
    expect(rendered(l)).toContain(500);
    expect(l.element.scrollTop).toBe(501 * ROW_HEIGHT - VIEWPORT.height);
  });
});
