/**
 * Sparklines of events per second per type (issue 11): `stats.rates`, computed in Python, one
 * value per second over the last 60 s. A fixed-size SVG per type (no layout jump); the value
 * under the pointer in the title and a floating readout ("track: 412 events/s at 12:04:31").
 * Data only ever goes in as attributes and textContent.
 */
import { el, on, setText } from "./dom";
import { count } from "./format";
import { EVENT_TYPES, type Rates } from "../sync/protocol";

const SVG_NS = "http://www.w3.org/2000/svg";

/** The type buckets in display order: the six Segment types, then "unknown". */
export const RATE_TYPES: readonly string[] = [...EVENT_TYPES, "unknown"];

/** Size of one sparkline, CSS pixels. */
export const SPARK_WIDTH = 60;
export const SPARK_HEIGHT = 16;

const pad = (n: number): string => String(n).padStart(2, "0");

/** "12:04:31": the local time of day of an epoch second. */
export function secondOfDay(epochSecond: number): string {
  const d = new Date(epochSecond * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "track: 412 events/s at 12:04:31": the value `index` seconds after `t0`. */
export function sparkText(type: string, t0: number, values: readonly number[], index: number): string {
  const i = Math.max(0, Math.min(values.length - 1, index));
  const v = values[i] ?? 0;
  return `${type}: ${count(v)} ${v === 1 ? "event" : "events"}/s at ${secondOfDay(t0 + i)}`;
}

/** The polyline's points: x spread over `width`, y scaled to the largest value (0 at the bottom). */
export function sparkPoints(values: readonly number[], width = SPARK_WIDTH, height = SPARK_HEIGHT): string {
  if (values.length === 0) return "";
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const top = 1;
  const span = height - 2 * top;
  return values
    .map((v, i) => `${round(i * step)},${round(top + span - (Math.max(0, v) / max) * span)}`)
    .join(" ");
}

const round = (n: number): number => Math.round(n * 10) / 10;

/** Keeps only finite, non-negative numbers (anything else reads as 0). */
function asValues(raw: unknown): number[] {
  return Array.isArray(raw) ? raw.map((v) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 0)) : [];
}

/** One type's sparkline. */
export class Sparkline {
  readonly element: HTMLElement;
  private readonly svg: SVGSVGElement;
  private readonly line: SVGPolylineElement;
  private readonly readout: HTMLElement;
  private readonly offs: Array<() => void>;
  private t0 = 0;
  private values: number[] = [];
  private hover: number | null = null;

  constructor(readonly type: string) {
    this.svg = document.createElementNS(SVG_NS, "svg");
    this.svg.setAttribute("width", String(SPARK_WIDTH));
    this.svg.setAttribute("height", String(SPARK_HEIGHT));
    this.svg.setAttribute("viewBox", `0 0 ${SPARK_WIDTH} ${SPARK_HEIGHT}`);
    this.svg.setAttribute("aria-hidden", "true");
    this.svg.style.verticalAlign = "middle";
    this.svg.style.overflow = "visible";
    this.line = document.createElementNS(SVG_NS, "polyline");
    this.line.setAttribute("fill", "none");
    this.line.setAttribute("stroke-width", "1.25");
    this.line.setAttribute("stroke-linejoin", "round");
    this.line.style.stroke = "var(--sd-type, currentColor)";
    this.svg.appendChild(this.line);
    this.readout = el("span", { className: "sd-spark-readout", testid: `sd-spark-readout-${type}` });
    Object.assign(this.readout.style, {
      position: "absolute",
      top: "100%",
      left: "0",
      zIndex: "2",
      whiteSpace: "nowrap",
      padding: "1px 4px",
      background: "var(--sd-bg2)",
      color: "var(--sd-fg1)",
      border: "1px solid var(--sd-border)",
      pointerEvents: "none",
    });
    this.readout.hidden = true;
    this.element = el(
      "span",
      { className: `sd-spark sd-type-${type}`, testid: `sd-spark-${type}`, attrs: { role: "img" } },
      [el("span", { className: "sd-spark-label", text: type }), this.svg, this.readout],
    );
    Object.assign(this.element.style, {
      position: "relative",
      display: "inline-flex",
      alignItems: "center",
      gap: "3px",
      whiteSpace: "nowrap",
    });
    this.offs = [
      on(this.element, "mousemove", (ev) => this.pointAt(ev.clientX)),
      on(this.element, "mouseleave", () => this.pointAt(null)),
    ];
  }

  /** The values (one per second from epoch second `t0`), oldest first. */
  set(t0: number, values: readonly number[]): void {
    this.t0 = t0;
    this.values = [...values];
    this.line.setAttribute("points", sparkPoints(this.values));
    const last = this.values.length - 1;
    this.element.setAttribute("aria-label", last >= 0 ? sparkText(this.type, t0, this.values, last) : this.type);
    this.show();
  }

  /** The pointer is at `clientX` (null: it left): shows the value under it. */
  pointAt(clientX: number | null): void {
    if (clientX === null || this.values.length === 0) {
      this.hover = null;
    } else {
      const box = this.svg.getBoundingClientRect();
      const width = box.width > 0 ? box.width : SPARK_WIDTH;
      const frac = Math.max(0, Math.min(1, (clientX - box.left) / width));
      this.hover = Math.round(frac * (this.values.length - 1));
    }
    this.show();
  }

  /** The text for the value under the pointer (the newest value when not hovering). */
  text(): string {
    if (this.values.length === 0) return "";
    return sparkText(this.type, this.t0, this.values, this.hover ?? this.values.length - 1);
  }

  private show(): void {
    const text = this.text();
    this.element.title = text;
    this.readout.hidden = this.hover === null;
    setText(this.readout, this.hover === null ? "" : text);
  }

  destroy(): void {
    for (const off of this.offs) off();
    this.element.remove();
  }
}

/** The sparklines of every type with data in `stats.rates`; nothing at all without data. */
export class Sparklines {
  readonly element = el("span", { className: "sd-sparks", testid: "sd-sparks" });
  private readonly lines = new Map<string, Sparkline>();

  constructor() {
    Object.assign(this.element.style, { display: "inline-flex", gap: "8px", alignItems: "center" });
    this.element.hidden = true;
  }

  /** Shows `rates` (the stats trait's): a sparkline per type with data, in type order. */
  set(rates: Rates | null | undefined): void {
    const byType = rates && typeof rates === "object" && rates.by_type && typeof rates.by_type === "object" ? rates.by_type : {};
    const t0 = typeof rates?.t0 === "number" && Number.isFinite(rates.t0) ? rates.t0 : 0;
    const types = RATE_TYPES.filter((t) => Object.prototype.hasOwnProperty.call(byType, t));
    const wanted = new Set<string>();
    for (const type of types) {
      const values = asValues(byType[type]);
      if (!values.some((v) => v > 0)) continue;
      wanted.add(type);
      let line = this.lines.get(type);
      if (!line) {
        line = new Sparkline(type);
        this.lines.set(type, line);
      }
      line.set(t0, values);
    }
    for (const [type, line] of this.lines) {
      if (!wanted.has(type)) {
        line.destroy();
        this.lines.delete(type);
      }
    }
    // Type order, whatever order the types appeared in; untouched when already in order (a
    // moved node would lose the pointer).
    const order = types.flatMap((t) => {
      const line = this.lines.get(t);
      return line ? [line.element] : [];
    });
    const children = Array.from(this.element.children);
    if (order.length !== children.length || order.some((node, i) => children[i] !== node)) {
      this.element.replaceChildren(...order);
    }
    this.element.hidden = this.lines.size === 0;
  }

  /** The sparkline of `type`, if shown. */
  get(type: string): Sparkline | undefined {
    return this.lines.get(type);
  }

  destroy(): void {
    for (const line of this.lines.values()) line.destroy();
    this.lines.clear();
    this.element.remove();
  }
}
