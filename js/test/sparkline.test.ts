/**
 * Rates per type (issue 11): a sparkline per type in the header, from stats.rates (Python's
 * series: one value per second, the last 60 s); hovering shows the value under the pointer.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Header } from "../src/ui/header";
import { SPARK_WIDTH, Sparkline, Sparklines, secondOfDay, sparkPoints, sparkText } from "../src/ui/sparkline";
import type { Rates, Stats } from "../src/sync/protocol";

const T0 = new Date(2024, 0, 1, 12, 3, 32).getTime() / 1000; // local 12:03:32

const series = (peak: number, at = 59): number[] => Array.from({ length: 60 }, (_, i) => (i === at ? peak : 1));

const mounted: HTMLElement[] = [];
afterEach(() => {
  for (const node of mounted.splice(0)) node.remove();
});

function mount(node: HTMLElement): HTMLElement {
  document.body.appendChild(node);
  mounted.push(node);
  return node;
}

describe("sparkline", () => {
  it("formats the value under the pointer", () => {
    expect(secondOfDay(T0 + 59)).toBe("12:04:31");
    expect(sparkText("track", T0, series(412), 59)).toBe("track: 412 events/s at 12:04:31");
    expect(sparkText("page", T0, [0, 1], 1)).toBe("page: 1 event/s at 12:03:33");
    expect(sparkText("page", T0, [1_234, 0], -5)).toBe("page: 1,234 events/s at 12:03:32");
  });

  it("draws one point per value, scaled to the largest, 0 at the bottom", () => {
    const points = sparkPoints([0, 5, 10], 60, 16).split(" ");
    expect(points).toEqual(["0,15", "30,8", "60,1"]);
    expect(sparkPoints([])).toBe("");
    expect(sparkPoints([0, 0]).split(" ")).toEqual(["0,15", "60,15"]);
  });

  it("renders the values and shows the hovered one in the title and a readout", () => {
    const line = new Sparkline("track");
    mount(line.element);
    line.set(T0, series(412));
    const polyline = line.element.querySelector("polyline")!;
    expect(polyline.getAttribute("points")!.split(" ")).toHaveLength(60);
    expect(line.element.querySelector("svg")!.getAttribute("width")).toBe(String(SPARK_WIDTH));
    expect(line.element.title).toBe("track: 412 events/s at 12:04:31"); // the newest, at rest
    const readout = line.element.querySelector<HTMLElement>("[data-testid=sd-spark-readout-track]")!;
    expect(readout.hidden).toBe(true);

    const left = line.element.querySelector("svg")!.getBoundingClientRect().left;
    line.element.dispatchEvent(new MouseEvent("mousemove", { clientX: left, bubbles: true }));
    expect(line.element.title).toBe("track: 1 event/s at 12:03:32");
    expect(readout.hidden).toBe(false);
    expect(readout.textContent).toBe("track: 1 event/s at 12:03:32");
    line.pointAt(left + SPARK_WIDTH);
    expect(readout.textContent).toBe("track: 412 events/s at 12:04:31");
    line.element.dispatchEvent(new MouseEvent("mouseleave"));
    expect(readout.hidden).toBe(true);
    line.destroy();
  });

  it("puts data in as text only, never markup", () => {
    const lines = new Sparklines();
    mount(lines.element);
    const evil = { t0: T0, by_type: { "<img src=x onerror=alert(1)>": [5], track: [3, "<b>x</b>", NaN, -2] } };
    lines.set(evil as unknown as Rates);
    expect(lines.element.querySelector("img, b")).toBeNull();
    expect(lines.element.innerHTML).not.toContain("<img");
    expect([...lines.element.children].map((c) => (c as HTMLElement).dataset.testid)).toEqual(["sd-spark-track"]);
    expect(lines.get("track")!.element.querySelector("polyline")!.getAttribute("points")!.split(" ")).toHaveLength(4);
  });
});

describe("header sparklines", () => {
  it("shows one per type with data, in type order, and nothing without data", () => {
    const header = new Header(() => {});
    mount(header.element);
    const sparks = header.element.querySelector<HTMLElement>("[data-testid=sd-sparks]")!;
    header.setStats({ received: 0 });
    expect(sparks.hidden).toBe(true);
    expect(sparks.children).toHaveLength(0);

    const rates: Rates = { t0: T0, by_type: { unknown: series(2), track: series(412), identify: series(0, 0).map(() => 0) } };
    header.setStats({ received: 500, rates });
    expect(sparks.hidden).toBe(false);
    const ids = [...sparks.children].map((c) => (c as HTMLElement).dataset.testid);
    expect(ids).toEqual(["sd-spark-track", "sd-spark-unknown"]); // all-zero identify: not drawn
    const track = sparks.querySelector<HTMLElement>("[data-testid=sd-spark-track]")!;
    expect(track.title).toBe("track: 412 events/s at 12:04:31");
    expect(track.classList.contains("sd-type-track")).toBe(true);

    header.setStats({ received: 501, rates: { t0: T0 + 1, by_type: { track: series(7) } } });
    expect(sparks.querySelector("[data-testid=sd-spark-track]")).toBe(track); // same node: no jump
    expect(track.title).toBe("track: 7 events/s at 12:04:32");
    expect(sparks.children).toHaveLength(1);

    header.setStats({ received: 501, rates: null });
    expect(sparks.hidden).toBe(true);
    expect(sparks.children).toHaveLength(0);
    header.destroy();
  });
});

describe("header layout", () => {
  it("keeps two rows whatever the data: counts per type and sparklines under the main row", () => {
    // widget.css gives each row a fixed height and no wrapping: data coming or going never
    // changes the header's height (a paused list below it must not move).
    const header = new Header(() => {});
    mount(header.element);
    const rows = () => [...header.element.children].map((c) => (c as HTMLElement).dataset.testid);
    expect(rows()).toEqual(["sd-header-main", "sd-header-rates"]);
    const ratesRow = header.element.querySelector<HTMLElement>("[data-testid=sd-header-rates]")!;
    expect(ratesRow.querySelector("[data-testid=sd-sparks]")).not.toBeNull();
    header.setStats({ received: 500, by_type: { track: 400, page: 100 }, rates: { t0: T0, by_type: { track: series(9) } } });
    expect(rows()).toEqual(["sd-header-main", "sd-header-rates"]);
    expect(ratesRow.textContent).toContain("track 400 · page 100");
    expect(ratesRow.querySelector("[data-testid=sd-spark-track]")).not.toBeNull();
    const main = header.element.querySelector<HTMLElement>("[data-testid=sd-header-main]")!;
    expect(main.querySelector("[data-testid=sd-stats]")).not.toBeNull();
    expect(main.querySelector("[data-testid=sd-clear]")).not.toBeNull();
    header.destroy();
  });

  it("counts events with warnings beside the invalid ones", () => {
    const header = new Header(() => {});
    mount(header.element);
    const stats: Stats & { warnings: number } = { received: 10, buffered: 10, invalid: 2, warnings: 3 };
    header.setStats(stats);
    header.setRows({ lastSeq: 10, pythonBuffered: { seq: 10, count: 10 } });
    const counters = header.element.querySelector<HTMLElement>("[data-testid=sd-stats]")!;
    expect(counters.textContent).toBe("10 received · 0/s · 10 buffered · 2 invalid · 3 with warnings");
    expect(counters.dataset.warnings).toBe("3");
    header.setStats({ received: 11, buffered: 11 });
    header.setRows({ lastSeq: 11, pythonBuffered: { seq: 11, count: 11 } });
    expect(counters.textContent).not.toContain("warnings");
    expect(counters.dataset.warnings).toBe("0");
    header.destroy();
  });
});
