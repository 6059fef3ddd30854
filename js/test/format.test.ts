import { describe, expect, it } from "vitest";
import { badge, bytes, count, label, time, user } from "../src/ui/format";
import { makeRow } from "./fake_model";

describe("format", () => {
  it("labels each type by its main field", () => {
    expect(label(makeRow(1, { type: "track", event: "Order Completed" }))).toBe("Order Completed");
    expect(label(makeRow(2, { type: "page", name: "Home" }))).toBe("Home");
    expect(label(makeRow(3, { type: "screen", name: "Settings" }))).toBe("Settings");
    expect(label(makeRow(4, { type: "identify", userId: "u-1", traits: { email: "a@b.c" } }))).toBe("a@b.c");
    expect(label(makeRow(5, { type: "identify", userId: "u-1", traits: {} }))).toBe("u-1");
    expect(label(makeRow(6, { type: "group", groupId: "acme", userId: "u-1" }))).toBe("acme");
    expect(label(makeRow(7, { type: "alias", previousId: "anon-1", userId: "u-1" }))).toBe("anon-1 → u-1");
  });

  it("falls back to a violation for a payload that is not an event", () => {
    const row = makeRow(1, "not json", { valid: false, violations: ["payload is not JSON"] });
    expect(label(row)).toBe("payload is not JSON");
    expect(badge(row)).toEqual({ text: "?", kind: "unknown" });
  });

  it("gives a badge per type", () => {
    expect(badge(makeRow(1, { type: "group" }))).toEqual({ text: "group", kind: "group" });
    expect(badge(makeRow(1, { type: "weird" }))).toEqual({ text: "weird", kind: "unknown" });
  });

  it("shows userId, else anonymousId", () => {
    expect(user(makeRow(1, { userId: "u", anonymousId: "a" }))).toBe("u");
    expect(user(makeRow(1, { anonymousId: "a" }))).toBe("a");
    expect(user(makeRow(1, {}))).toBe("");
  });

  it("shows the received time (arrival order), with the event timestamp in the tooltip", () => {
    const received = new Date(2024, 0, 2, 13, 14, 15, 16);
    const sent = new Date(2024, 0, 2, 3, 4, 5, 6);
    const t = time(makeRow(1, { timestamp: sent.toISOString() }, { t: received.getTime() }));
    expect(t.text).toBe("13:14:15.016");
    expect(t.title).toContain(`received ${received.toISOString()}`);
    expect(t.title).toContain(`timestamp ${sent.toISOString()}`);
    const noTs = time(makeRow(1, { timestamp: "garbage" }, { t: received.getTime() }));
    expect(noTs.text).toBe("13:14:15.016");
    expect(noTs.title).toContain("timestamp garbage");
  });

  it("puts the stream id in the time's tooltip when the event has one", () => {
    const t = time(makeRow(1, { type: "track" }, { stream_id: "1714564800000-3" }));
    expect(t.title.split("\n").at(-1)).toBe("stream id 1714564800000-3");
    expect(time(makeRow(2, { type: "track" })).title).not.toContain("stream id");
  });

  it("orders list times by arrival even when event timestamps do not", () => {
    const base = new Date(2024, 0, 2, 10, 0, 0, 0).getTime();
    const late = new Date(2024, 0, 1, 23, 0, 0, 0).toISOString(); // sent the day before
    const early = time(makeRow(1, {}, { t: base }));
    const next = time(makeRow(2, { timestamp: late }, { t: base + 5 }));
    expect([early.text, next.text]).toEqual(["10:00:00.000", "10:00:00.005"]);
  });

  it("writes counts and sizes for humans", () => {
    expect(count(1234567)).toBe("1,234,567");
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1536)).toBe("1.5 KB");
    expect(bytes(3 * 1024 * 1024)).toBe("3.0 MB");
  });
});
