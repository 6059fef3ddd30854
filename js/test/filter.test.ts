import { describe, expect, it } from "vitest";
import { compileQuery, parseQuery, readNumber, type FilterInput } from "../src/data/filter";

function input(payload: unknown, valid = true, violations: string[] = []): FilterInput {
  const raw = typeof payload === "string" ? payload : JSON.stringify(payload);
  let data: Record<string, unknown> | null = null;
  try {
    const v: unknown = JSON.parse(raw);
    data = typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    data = null;
  }
  return { raw, data, valid, violations };
}

const order = input({
  type: "track",
  event: "Order Completed",
  userId: "user-42",
  properties: { revenue: 10.5, currency: "USD", products: [{ sku: "A-1" }, { sku: "B-2" }], tags: ["x", "y"] },
  context: { library: { name: "analytics.js" } },
});
const m = (q: string, i: FilterInput = order): boolean => compileQuery(q).test(i);

describe("filter: parsing", () => {
  it("is total: odd input parses without throwing", () => {
    for (const q of ['"', "\\", "-", ":", "a:", 'a:"', "a:>", "::::", '"\\', "-\"x", "\u0000", "a:>=\"1"]) {
      expect(() => compileQuery(q).test(order)).not.toThrow();
    }
  });

  it("reads fields, operators, quotes and negation", () => {
    expect(parseQuery('-event:"Order Completed" properties.revenue:>=10 hello')).toEqual([
      { kind: "field", value: "order completed", negate: true, path: ["event"], op: "" },
      { kind: "field", value: "10", negate: false, path: ["properties", "revenue"], op: ">=" },
      { kind: "text", value: "hello", negate: false, path: [], op: "" },
    ]);
  });

  it("ignores a lone minus and empty text; a bare 'field:' is text", () => {
    expect(parseQuery("- \"\"")).toEqual([]);
    expect(parseQuery("event:")).toEqual([{ kind: "text", value: "event:", negate: false, path: [], op: "" }]);
  });

  it("reads numbers strictly", () => {
    expect(readNumber("10")).toBe(10);
    expect(readNumber("-1.5")).toBe(-1.5);
    expect(readNumber(".5")).toBe(0.5);
    expect(readNumber("1e3")).toBe(1000);
    for (const bad of ["", " 1", "1_000", "inf", "nan", "0x10", "1e"]) expect(readNumber(bad)).toBeNull();
  });
});

describe("filter: matching", () => {
  it("an empty query matches everything", () => {
    expect(m("")).toBe(true);
    expect(m("   ")).toBe(true);
  });

  it("text is a case-insensitive substring of the raw payload", () => {
    expect(m("ORDER")).toBe(true);
    expect(m('"order completed"')).toBe(true);
    expect(m("refund")).toBe(false);
    expect(m('"http://x"', input({ url: "HTTP://X/y" }))).toBe(true);
  });

  it("field:value is case-insensitive equality with wildcards", () => {
    expect(m("type:TRACK")).toBe(true);
    expect(m("event:order*")).toBe(true);
    expect(m("event:*completed")).toBe(true);
    expect(m("event:order")).toBe(false);
    expect(m("userId:*")).toBe(true);
    expect(m("anonymousId:*")).toBe(false);
    expect(m("userid:user-42")).toBe(false); // field names are case-sensitive
    expect(m("context.library.name:analytics.js")).toBe(true);
  });

  it("compares JSON numbers numerically", () => {
    expect(m("properties.revenue:10.50")).toBe(true);
    expect(m("properties.revenue:10.5*")).toBe(true);
    expect(m("properties.revenue:>10")).toBe(true);
    expect(m("properties.revenue:<=10")).toBe(false);
    expect(m("properties.revenue:>abc")).toBe(false);
    expect(m("properties.n:>2", input({ properties: { n: "3" } }))).toBe(true);
    expect(m("properties.n:3", input({ properties: { n: 3.0 } }))).toBe(true);
  });

  it("arrays match when an element does; paths cross arrays of objects", () => {
    expect(m("properties.tags:y")).toBe(true);
    expect(m("properties.products.sku:b-2")).toBe(true);
    expect(m("properties.products.1.sku:b-2")).toBe(true);
    expect(m("properties.products.0.sku:b-2")).toBe(false);
  });

  it("an object matches only *", () => {
    expect(m("properties:*")).toBe(true);
    expect(m("properties:x")).toBe(false);
  });

  it("a payload that is not a JSON object never matches a field", () => {
    expect(m("type:*", input("[1,2]"))).toBe(false);
    expect(m("type:*", input("not json"))).toBe(false);
    expect(m("-type:*", input("not json"))).toBe(true);
  });

  it("pseudo-fields valid and violation", () => {
    const bad = input({ type: "track" }, false, ["track without event", "missing userId or anonymousId"]);
    expect(m("valid:false", bad)).toBe(true);
    expect(m("valid:true", bad)).toBe(false);
    expect(m("valid:true")).toBe(true);
    expect(m("violation:EVENT", bad)).toBe(true);
    expect(m("violation:missing*anonymous", bad)).toBe(true);
    expect(m("violation:nope", bad)).toBe(false);
    expect(m("violation:event")).toBe(false);
  });

  it("pseudo-field stream_id: the entry id, not a payload key", () => {
    const fromStream: FilterInput = { ...input({ type: "track", stream_id: "payload" }), stream_id: "1714564800000-12" };
    const fromPubSub = input({ type: "track", stream_id: "payload" }); // no stream id: null / absent
    expect(m("stream_id:1714564800000-12", fromStream)).toBe(true);
    expect(m("stream_id:*-12", fromStream)).toBe(true);
    expect(m("stream_id:1714564800000", fromStream)).toBe(false); // equality, not contains
    expect(m("stream_id:payload", fromStream)).toBe(false);
    expect(m("stream_id:payload", fromPubSub)).toBe(false);
    expect(m("stream_id:*", fromStream)).toBe(true);
    expect(m("stream_id:*", fromPubSub)).toBe(false);
    expect(m("stream_id:*", { ...fromPubSub, stream_id: null })).toBe(false);
    expect(m("-stream_id:*", fromPubSub)).toBe(true);
    expect(m("stream_id:>1", fromStream)).toBe(false);
    expect(m("-stream_id:>1", fromStream)).toBe(true);
    expect(compileQuery("stream_id:*").needsData).toBe(false);
  });

  it("terms AND together and - negates", () => {
    expect(m("type:track -event:refund*")).toBe(true);
    expect(m("type:track -type:track")).toBe(false);
    expect(m("-type:page")).toBe(true);
  });

  it("does not see inherited properties", () => {
    expect(m("constructor:*", input({ a: 1 }))).toBe(false);
    expect(m("a.toString:*", input({ a: {} }))).toBe(false);
  });
});
