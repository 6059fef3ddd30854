/**
 * The filter box's suggestions (src/ui/suggest.ts): keyboard, mouse, ARIA, at most two requests
 * a second, stale replies dropped, hostile labels shown as text; and the round trip through
 * a mounted widget (suggest_request out, suggestions in, the accepted text filters).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ReplyHandlers } from "../src/sync/channel";
import type { SuggestionItem, SuggestionsMsg } from "../src/sync/protocol";
import { applySuggestion, SUGGEST_INTERVAL_MS, SuggestBox } from "../src/ui/suggest";
import { FakeModel, makeRow, mountWidget, nextFrame } from "./fake_model";

interface Asked {
  text: string;
  caret: number;
  handlers: ReplyHandlers<SuggestionsMsg>;
  cancelled: boolean;
}

const item = (label: string, insert = label, detail = ""): SuggestionItem => ({ label, insert, detail });

function reply(items: SuggestionItem[], start: number, end: number, hint: string | null = null): SuggestionsMsg {
  return { type: "suggestions", items, start, end, hint, request_id: "r" };
}

let clock = 0;
let asked: Asked[] = [];
let accepted: string[] = [];
let input: HTMLInputElement;
let box: SuggestBox;
let root: HTMLElement;
let rootKeys: string[] = [];

function setup(): void {
  clock = 1000;
  asked = [];
  accepted = [];
  rootKeys = [];
  root = document.createElement("div");
  input = document.createElement("input");
  box = new SuggestBox(
    input,
    (text, caret, handlers) => {
      const a: Asked = { text, caret, handlers, cancelled: false };
      asked.push(a);
      return () => {
        a.cancelled = true;
      };
    },
    (text) => accepted.push(text),
    () => clock,
  );
  root.append(input, box.element);
  root.addEventListener("keydown", (ev) => rootKeys.push(ev.key));
  document.body.appendChild(root);
  input.focus();
}

function type(text: string): void {
  input.value = text;
  input.setSelectionRange(text.length, text.length);
  input.dispatchEvent(new Event("input"));
}

function key(k: string, opts: KeyboardEventInit = {}): KeyboardEvent {
  const ev = new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true, ...opts });
  input.dispatchEvent(ev);
  return ev;
}

const options = (): HTMLElement[] => [...box.list.querySelectorAll<HTMLElement>("[role=option]")];
const activeLabel = (): string | null => {
  const id = input.getAttribute("aria-activedescendant");
  return id ? (document.getElementById(id)?.querySelector(".sd-suggest-label")?.textContent ?? null) : null;
};

beforeEach(() => {
  vi.useFakeTimers();
  setup();
});

afterEach(() => {
  box.destroy();
  vi.useRealTimers();
  document.body.replaceChildren();
});

describe("SuggestBox: keyboard", () => {
  const paths = [
    item("properties.currency", "properties.currency:", "string · 20"),
    item("properties.revenue", "properties.revenue:", "number · 20"),
    item("properties.coupon", "properties.coupon:", "string · 4"),
  ];

  it("opens on a reply with the first option active, as an ARIA combobox", () => {
    type("type:track properties.");
    expect(asked.map((a) => [a.text, a.caret])).toEqual([["type:track properties.", 22]]);
    asked[0].handlers.onReply(reply(paths, 11, 22), []);
    expect(box.isOpen).toBe(true);
    expect(box.list.hidden).toBe(false);
    expect(box.list.getAttribute("role")).toBe("listbox");
    expect(input.getAttribute("role")).toBe("combobox");
    expect(input.getAttribute("aria-expanded")).toBe("true");
    expect(input.getAttribute("aria-controls")).toBe(box.list.id);
    expect(options().map((o) => o.textContent)).toEqual([
      "properties.currencystring · 20",
      "properties.revenuenumber · 20",
      "properties.couponstring · 4",
    ]);
    expect(activeLabel()).toBe("properties.currency");
    expect(options()[0].getAttribute("aria-selected")).toBe("true");
  });

  it("↓/↑ move (wrapping), Tab accepts the active one into the term, Enter too", () => {
    type("type:track properties.");
    asked[0].handlers.onReply(reply(paths, 11, 22), []);
    expect(key("ArrowDown").defaultPrevented).toBe(true);
    expect(activeLabel()).toBe("properties.revenue");
    key("ArrowDown");
    key("ArrowDown");
    expect(activeLabel()).toBe("properties.currency");
    key("ArrowUp");
    expect(activeLabel()).toBe("properties.coupon");
    key("ArrowUp");
    const tab = key("Tab");
    expect(tab.defaultPrevented).toBe(true);
    expect(input.value).toBe("type:track properties.revenue:");
    expect([input.selectionStart, input.selectionEnd]).toEqual([30, 30]);
    expect(accepted).toEqual(["type:track properties.revenue:"]);
    expect(box.isOpen).toBe(false);
    expect(rootKeys).toEqual([]); // consumed: the view's keys never saw them

    vi.advanceTimersByTime(SUGGEST_INTERVAL_MS);
    clock += SUGGEST_INTERVAL_MS;
    const next = asked.at(-1)!;
    expect(next.text).toBe("type:track properties.revenue:");
    next.handlers.onReply(reply([item("10", "properties.revenue:10", "3")], 11, 30), []);
    expect(key("Enter").defaultPrevented).toBe(true);
    expect(input.value).toBe("type:track properties.revenue:10");
  });

  it("Esc closes the list and goes no further; Enter and Esc with no list keep their meaning", () => {
    type("event:");
    asked[0].handlers.onReply(reply([item("Signed Up", 'event:"Signed Up"')], 0, 6), []);
    const esc = key("Escape");
    expect(esc.defaultPrevented).toBe(true);
    expect(box.isOpen).toBe(false);
    expect(rootKeys).toEqual([]);
    expect(input.getAttribute("aria-expanded")).toBe("false");
    expect(input.hasAttribute("aria-activedescendant")).toBe(false);
    expect(box.list.isConnected).toBe(false); // closed: out of the DOM (one listbox: the events)
    const enter = key("Enter");
    expect(enter.defaultPrevented).toBe(false);
    expect(input.value).toBe("event:");
    expect(key("Tab").defaultPrevented).toBe(false); // focus moves on as usual
    key("Escape");
    expect(rootKeys).toEqual(["Enter", "Tab", "Escape"]);
    expect(key("ArrowDown").defaultPrevented).toBe(true); // ↓ opens it again
    expect(box.isOpen).toBe(true);
    expect(activeLabel()).toBe("Signed Up");
  });

  it("a click on an option accepts it; the box keeps the focus", () => {
    type("event:S");
    asked[0].handlers.onReply(reply([item("Signed Up", 'event:"Signed Up"'), item("Searched", "event:Searched")], 0, 7), []);
    const down = new MouseEvent("mousedown", { bubbles: true, cancelable: true });
    options()[1].querySelector(".sd-suggest-detail")!.dispatchEvent(down);
    expect(down.defaultPrevented).toBe(true);
    options()[1].querySelector(".sd-suggest-label")!.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(input.value).toBe("event:Searched");
    expect(accepted).toEqual(["event:Searched"]);
  });

  it("moving the caret or leaving the box closes the list", () => {
    type("event:");
    asked[0].handlers.onReply(reply([item("A", "event:A")], 0, 6), []);
    key("ArrowLeft");
    expect(box.isOpen).toBe(false);
    key("ArrowDown");
    expect(box.isOpen).toBe(true);
    input.blur();
    expect(box.isOpen).toBe(false);
  });
});

describe("SuggestBox: requests", () => {
  it("asks at most twice a second: the first keystroke at once, the rest in one trailing ask", () => {
    type("p");
    expect(asked.map((a) => a.text)).toEqual(["p"]);
    for (const text of ["pr", "pro", "prop"]) {
      clock += 50;
      type(text);
    }
    expect(asked.map((a) => a.text)).toEqual(["p"]);
    clock = 1000 + SUGGEST_INTERVAL_MS;
    vi.advanceTimersByTime(SUGGEST_INTERVAL_MS);
    expect(asked.map((a) => a.text)).toEqual(["p", "prop"]);
    expect(asked[0].cancelled).toBe(true); // the older one's reply is not waited for
  });

  it("drops a reply to text the box no longer holds, and asks again", () => {
    type("event:");
    const first = asked[0];
    type("event:S"); // within the interval: trailing ask scheduled
    first.handlers.onReply(reply([item("Old", "event:Old")], 0, 6), []);
    expect(box.isOpen).toBe(false);
    expect(options()).toEqual([]);
    clock += SUGGEST_INTERVAL_MS;
    vi.advanceTimersByTime(SUGGEST_INTERVAL_MS);
    expect(asked.at(-1)!.text).toBe("event:S");
  });

  it("an empty box asks nothing and shows nothing", () => {
    type("x");
    asked[0].handlers.onReply(reply([item("x1")], 0, 1, "a hint"), []);
    expect(box.hint.hidden).toBe(false);
    clock += SUGGEST_INTERVAL_MS;
    type("");
    expect(asked).toHaveLength(1);
    expect(box.hint.hidden).toBe(true);
    expect(box.isOpen).toBe(false);
  });

  it("an error reply leaves the box as it was", () => {
    type("a");
    asked[0].handlers.onError(new Error("kernel busy") as never);
    expect(box.isOpen).toBe(false);
  });
});

describe("SuggestBox: hostile text", () => {
  it("labels, details and the hint are text, control and bidi characters shown as escapes", () => {
    type("properties.note:");
    const label = '<img src=x onerror="alert(1)">\u202Egnp.exe';
    asked[0].handlers.onReply(
      reply([item(label, "properties.note:x", "<b>2</b>")], 0, 16, "http://x\u0000 is read as the field 'http'"),
      [],
    );
    expect(box.element.querySelector("img, b")).toBeNull();
    expect(options()[0].querySelector(".sd-suggest-label")!.textContent).toBe('<img src=x onerror="alert(1)">\\u202egnp.exe');
    expect(options()[0].querySelector(".sd-suggest-detail")!.textContent).toBe("<b>2</b>");
    expect(box.hint.textContent).toBe("http://x\\x00 is read as the field 'http'");
  });

  it("applySuggestion clamps a reply's span to the text", () => {
    expect(applySuggestion("abc", { start: 1, end: 99 }, item("x", "XY"))).toEqual({ text: "aXY", caret: 3 });
    expect(applySuggestion("abc", { start: -4, end: 0 }, item("x", "Z"))).toEqual({ text: "Zabc", caret: 1 });
  });
});

describe("suggestions through a mounted widget", () => {
  it("typing sends suggest_request; the reply opens the list; Tab fills the box and filters", async () => {
    vi.useRealTimers();
    const model = new FakeModel();
    const mounted = mountWidget(model);
    const host = mounted.addView();
    model.emitCustom({
      type: "snapshot",
      rows: [makeRow(1, { type: "track", event: "A", userId: "u" }), makeRow(2, { type: "identify", userId: "u" })],
      last_seq: 2,
      request_id: null,
    });
    const filter = host.querySelector<HTMLInputElement>('[data-testid="sd-filter"]')!;
    filter.focus();
    filter.value = "typ";
    filter.setSelectionRange(3, 3);
    filter.dispatchEvent(new Event("input"));
    const [request] = model.sentOfType("suggest_request");
    expect(request).toMatchObject({ type: "suggest_request", text: "typ", caret: 3 });
    model.emitCustom({
      type: "suggestions",
      items: [{ label: "type", insert: "type:", detail: "string · 2" }],
      start: 0,
      end: 3,
      hint: null,
      request_id: request.request_id,
    });
    const list = host.querySelector<HTMLElement>('[data-testid="sd-suggest-list"]')!;
    expect(list.hidden).toBe(false);
    filter.dispatchEvent(new KeyboardEvent("keydown", { key: "Tab", bubbles: true, cancelable: true }));
    expect(filter.value).toBe("type:");
    expect(host.querySelectorAll("[role=listbox]")).toHaveLength(1); // the event list alone
    await vi.waitFor(() => expect(model.sentOfType("suggest_request")).toHaveLength(2), { timeout: 2000 });
    const second = model.sentOfType("suggest_request")[1];
    expect(second.text).toBe("type:");
    model.emitCustom({
      type: "suggestions",
      items: [{ label: "identify", insert: "type:identify", detail: "1" }],
      start: 0,
      end: 5,
      hint: null,
      request_id: second.request_id,
    });
    filter.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    expect(filter.value).toBe("type:identify");
    await nextFrame();
    expect([...host.querySelectorAll("[data-seq]")].map((r) => (r as HTMLElement).dataset.seq)).toEqual(["2"]);
    await vi.waitFor(() => expect(model.traits.query).toBe("type:identify"), { timeout: 2000 });
    mounted.cleanup();
    expect(model.listenerCount()).toBe(0);
  });
});
