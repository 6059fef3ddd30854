import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  Channel,
  REQUEST_TIMEOUT_MS,
  RequestError,
  SNAPSHOT_RETRY_MS,
  SnapshotRequests,
} from "../src/sync/channel";
import type { OutboundMsg, RawMsg } from "../src/sync/protocol";

function setup(): { channel: Channel; sent: OutboundMsg[] } {
  const sent: OutboundMsg[] = [];
  return { channel: new Channel({ send: (m) => void sent.push(m) }), sent };
}

function recorder<R>(): { replies: R[]; errors: RequestError[]; handlers: { onReply(r: R): void; onError(e: RequestError): void } } {
  const replies: R[] = [];
  const errors: RequestError[] = [];
  return { replies, errors, handlers: { onReply: (r) => void replies.push(r), onError: (e) => void errors.push(e) } };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Channel", () => {
  it("gives every request its own id and routes the reply with that id back", () => {
    const { channel, sent } = setup();
    const one = recorder<RawMsg>();
    const two = recorder<RawMsg>();
    channel.request({ type: "raw_request", seq: 1 }, one.handlers);
    channel.request({ type: "raw_request", seq: 2 }, two.handlers);
    const [a, b] = sent as Array<Extract<OutboundMsg, { type: "raw_request" }>>;
    expect(a.request_id).not.toBe(b.request_id);
    expect(channel.settle({ type: "raw", seq: 2, raw: "two", request_id: b.request_id })).toBe(true);
    expect(two.replies.map((r) => r.raw)).toEqual(["two"]);
    expect(one.replies).toEqual([]);
    expect(channel.pendingCount).toBe(1);
  });

  it("matches an error reply to its request, and only to it", () => {
    const { channel, sent } = setup();
    const one = recorder<RawMsg>();
    const two = recorder<RawMsg>();
    channel.request({ type: "raw_request", seq: 1 }, one.handlers);
    channel.request({ type: "raw_request", seq: 2 }, two.handlers);
    const id = (sent[0] as { request_id: string }).request_id;
    expect(channel.settle({ type: "error", message: "no such event", request_id: id })).toBe(true);
    expect(one.errors).toHaveLength(1);
    expect(one.errors[0]).toBeInstanceOf(RequestError);
    expect(one.errors[0].kind).toBe("error");
    expect(one.errors[0].message).toBe("no such event");
    expect(two.errors).toEqual([]);
    // A reply to a settled request, or to nobody, is left to the caller.
    expect(channel.settle({ type: "raw", seq: 1, raw: "late", request_id: id })).toBe(false);
    expect(channel.settle({ type: "error", message: "general", request_id: null })).toBe(false);
    expect(one.replies).toEqual([]);
  });

  it("fails a request with no reply after its timeout, once", () => {
    const { channel, sent } = setup();
    const r = recorder<RawMsg>();
    channel.request({ type: "raw_request", seq: 1 }, r.handlers);
    vi.advanceTimersByTime(REQUEST_TIMEOUT_MS - 1);
    expect(r.errors).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].kind).toBe("timeout");
    expect(r.errors[0].message).toContain("raw_request");
    expect(channel.pendingCount).toBe(0);
    const id = (sent[0] as { request_id: string }).request_id;
    expect(channel.settle({ type: "raw", seq: 1, raw: "late", request_id: id })).toBe(false);
    expect(r.replies).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("takes a per-request timeout", () => {
    const { channel } = setup();
    const r = recorder<RawMsg>();
    channel.request({ type: "raw_request", seq: 1 }, r.handlers, 50);
    vi.advanceTimersByTime(50);
    expect(r.errors.map((e) => e.kind)).toEqual(["timeout"]);
  });

  it("reports a reply of the wrong type as an error", () => {
    const { channel, sent } = setup();
    const r = recorder<RawMsg>();
    channel.request({ type: "raw_request", seq: 1 }, r.handlers);
    const id = (sent[0] as { request_id: string }).request_id;
    channel.settle({ type: "snapshot", rows: [], last_seq: 0, request_id: id, buffered: 0, matched: null });
    expect(r.replies).toEqual([]);
    expect(r.errors[0].message).toBe("expected a raw reply, got snapshot");
  });

  it("a cancelled request, or a closed channel, runs no handler and leaves no timer", () => {
    const { channel, sent } = setup();
    const r = recorder<RawMsg>();
    const cancel = channel.request({ type: "raw_request", seq: 1 }, r.handlers);
    channel.request({ type: "clear_request" }, recorder().handlers);
    cancel();
    const id = (sent[0] as { request_id: string }).request_id;
    expect(channel.settle({ type: "raw", seq: 1, raw: "x", request_id: id })).toBe(false);
    channel.close();
    vi.advanceTimersByTime(REQUEST_TIMEOUT_MS * 2);
    expect(r.replies).toEqual([]);
    expect(r.errors).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("SnapshotRequests", () => {
  it("holds repeat asks back, re-asks every SNAPSHOT_RETRY_MS until a snapshot comes", () => {
    const { channel, sent } = setup();
    const errors: RequestError[] = [];
    const snapshots = new SnapshotRequests(channel, (e) => errors.push(e));
    snapshots.ask();
    snapshots.ask();
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(SNAPSHOT_RETRY_MS);
    expect(sent).toHaveLength(2);
    vi.advanceTimersByTime(SNAPSHOT_RETRY_MS);
    expect(sent).toHaveLength(3);
    expect(snapshots.outstanding).toBe(true);
    snapshots.answered();
    expect(snapshots.outstanding).toBe(false);
    vi.advanceTimersByTime(SNAPSHOT_RETRY_MS * 3);
    expect(sent).toHaveLength(3);
    expect(errors).toEqual([]); // timeouts are the retry's business, not errors
    expect(channel.pendingCount).toBe(0);
    expect(sent.every((m) => m.type === "snapshot_request")).toBe(true);
  });

  it("reports an error reply and keeps retrying", () => {
    const { channel, sent } = setup();
    const errors: RequestError[] = [];
    const snapshots = new SnapshotRequests(channel, (e) => errors.push(e));
    snapshots.ask();
    const id = (sent[0] as { request_id: string }).request_id;
    channel.settle({ type: "error", message: "buffer locked", request_id: id });
    expect(errors.map((e) => e.message)).toEqual(["buffer locked"]);
    vi.advanceTimersByTime(SNAPSHOT_RETRY_MS);
    expect(sent).toHaveLength(2);
    snapshots.close();
    channel.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
