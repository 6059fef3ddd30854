/**
 * `person:ID` on the front end: the filter with Python's id sets, the view following a
 * snapshot's `persons`, the detail pane's person and its "Show this person" button, and the
 * whole widget: clicking the button sets the filter box and the `query` trait.
 */
import { afterEach, describe, expect, it } from "vitest";
import { compileQuery, parseQuery, personQuery, type FilterInput } from "../src/data/filter";
import { RowStore } from "../src/data/store";
import { RowView } from "../src/data/view";
import type { PersonSummary, Row } from "../src/sync/protocol";
import { DetailPane } from "../src/ui/detail";
import { FakeModel, makeRow, mountWidget, nextFrame } from "./fake_model";

const input = (userId: string | null, anonymousId: string | null): FilterInput => ({
  raw: JSON.stringify({ type: "track", userId, anonymousId }),
  data: null,
  valid: true,
  violations: [],
  userId,
  anonymousId,
});
const laptop = input(null, "laptop");
const alice = input("alice", "laptop");
const bobOnLaptop = input("bob", "laptop");
const nobody = input(null, null);
const all = [laptop, alice, bobOnLaptop, nobody];

describe("filter: person:ID", () => {
  it("parses as a pseudo-field keeping the id as typed", () => {
    expect(parseQuery("person:Alice")).toEqual([{ kind: "person", value: "Alice", negate: false, path: [], op: "" }]);
    expect(parseQuery("person:a**b")[0].value).toBe("a**b");
    expect(parseQuery('-person:"two words"')[0]).toMatchObject({ kind: "person", value: "two words", negate: true });
  });

  it("matches events whose userId, else anonymousId, is one of the person's ids", () => {
    const persons = { laptop: ["alice", "laptop"] };
    const f = compileQuery("person:laptop", { persons: () => persons });
    expect(all.map((i) => f.test(i))).toEqual([true, true, false, false]);
    const neg = compileQuery("-person:laptop", { persons: () => persons });
    expect(all.map((i) => neg.test(i))).toEqual([false, false, true, true]);
  });

  it("takes an id alone until Python resolves it, and follows new id sets", () => {
    let persons: Record<string, string[]> | null = null;
    const f = compileQuery("person:alice", { persons: () => persons });
    expect(all.map((i) => f.test(i))).toEqual([false, true, false, false]);
    persons = { alice: ["alice", "laptop"] }; // a new snapshot
    expect(all.map((i) => f.test(i))).toEqual([true, true, false, false]);
    persons = { other: ["x"] }; // another query's snapshot: alice alone again
    expect(all.map((i) => f.test(i))).toEqual([false, true, false, false]);
  });

  it("never matches an unknown id, another case, a wildcard or a comparison", () => {
    const persons = { nobody: [], Alice: [], "al*": [], "1": ["1"] };
    for (const q of ["person:nobody", "person:Alice", "person:al*", "person:>1"]) {
      const f = compileQuery(q, { persons: () => persons });
      expect(all.some((i) => f.test(i)), q).toBe(false);
    }
    expect(compileQuery('person:""').test(input("", ""))).toBe(false);
  });

  it("personQuery quotes only when needed and reads back as the same id", () => {
    expect(personQuery("user-42")).toBe("person:user-42");
    expect(personQuery("a:b*c")).toBe("person:a:b*c");
    expect(personQuery("two words")).toBe('person:"two words"');
    expect(personQuery("")).toBe('person:""');
    expect(personQuery(">5")).toBe('person:">5"');
    expect(personQuery('say "hi"')).toBe('person:"say \\"hi\\""');
    expect(personQuery("back\\slash")).toBe('person:"back\\\\slash"');
    for (const id of ["x", "two words", "", ">5", "<", 'a"b', "a\\b", "tab\there", "\u00a0nbsp", "-x", '"', "é ü"]) {
      expect(parseQuery(personQuery(id)), id).toEqual([{ kind: "person", value: id, negate: false, path: [], op: "" }]);
    }
  });
});

const row = (seq: number, userId: string | null, anonymousId: string | null): Row =>
  makeRow(seq, { type: "track", event: "E", ...(userId ? { userId } : {}), ...(anonymousId ? { anonymousId } : {}) });

describe("view: person: rows follow the snapshot's persons", () => {
  it("filters the store with the newest snapshot's id sets", () => {
    const store = new RowStore(100);
    const rows = [row(1, null, "laptop"), row(2, "alice", "laptop"), row(3, null, "phone"), row(4, "bob", null)];
    store.applySnapshot({ type: "snapshot", rows, last_seq: 4, request_id: null, buffered: 4, matched: null });
    const view = new RowView(store, { query: "person:alice", typeFilter: [], invalidOnly: false });
    const seqs = (): number[] => Array.from({ length: view.length }, (_, i) => view.at(i)!.seq);
    expect(seqs()).toEqual([2]); // typed: alice alone until Python answers
    store.applySnapshot({ type: "snapshot", rows, last_seq: 4, request_id: null, buffered: 4, matched: 2, persons: { alice: ["alice", "laptop"] } });
    view.applySnapshot();
    expect(seqs()).toEqual([2, 1]);
    // the phone is identified: Python sends every row again with the grown person
    const grown = [...rows, row(5, "alice", "phone")];
    store.applySnapshot({ type: "snapshot", rows: grown, last_seq: 5, request_id: null, buffered: 5, matched: 4, persons: { alice: ["alice", "laptop", "phone"] } });
    view.applySnapshot();
    expect(seqs()).toEqual([5, 3, 2, 1]);
  });
});

const person = (over: Partial<PersonSummary> = {}): PersonSummary => ({
  person: "alice",
  user_ids: ["alice"],
  anonymous_ids: ["laptop", "phone"],
  events: 1234,
  ...over,
});
const q = (root: HTMLElement, id: string): HTMLElement | null => root.querySelector<HTMLElement>(`[data-testid="${id}"]`);

describe("detail pane: the person", () => {
  let pane: DetailPane | null = null;
  afterEach(() => {
    pane?.destroy();
    pane = null;
  });

  it("shows the ids and count, and Show this person asks for person:ID", () => {
    const asked: string[] = [];
    pane = new DetailPane({ onRequestRaw: () => {}, onShowPerson: (query) => asked.push(query) });
    pane.show(row(1, null, "laptop"));
    expect(q(pane.element, "sd-show-person")).toBeNull(); // not known yet
    pane.setPerson(1, person());
    expect(q(pane.element, "sd-person-key")!.textContent).toBe("alice");
    expect(q(pane.element, "sd-person-user-ids")!.textContent).toBe("alice");
    expect(q(pane.element, "sd-person-anonymous-ids")!.textContent).toBe("laptop, phone");
    expect(q(pane.element, "sd-person-events")!.textContent).toBe("1,234");
    q(pane.element, "sd-show-person")!.click();
    expect(asked).toEqual(["person:alice"]);
  });

  it("quotes an id that needs it, escapes hidden characters, ignores another row's person", () => {
    const asked: string[] = [];
    pane = new DetailPane({ onRequestRaw: () => {}, onShowPerson: (query) => asked.push(query) });
    pane.show(row(2, 'Ann "A" Lee', null));
    pane.setPerson(1, person()); // an older selection's answer
    expect(q(pane.element, "sd-show-person")).toBeNull();
    pane.setPerson(2, person({ person: 'Ann "A" Lee', user_ids: ['Ann "A" Lee'], anonymous_ids: ["a\u202eb"] }));
    expect(q(pane.element, "sd-person-anonymous-ids")!.textContent).not.toContain("\u202e");
    q(pane.element, "sd-show-person")!.click();
    expect(asked).toEqual(['person:"Ann \\"A\\" Lee"']);
  });

  it("says when the event belongs to nobody, and clears with the row", () => {
    pane = new DetailPane({ onRequestRaw: () => {} });
    pane.show(row(3, null, null));
    pane.setPerson(3, null);
    expect(q(pane.element, "sd-person")!.textContent).toContain("none");
    expect(q(pane.element, "sd-show-person")).toBeNull();
    pane.show(null);
    expect(q(pane.element, "sd-person")!.textContent).toBe("");
  });
});

describe("widget: Show this person", () => {
  let cleanup: (() => void) | null = null;
  afterEach(() => {
    cleanup?.();
    cleanup = null;
    document.body.replaceChildren();
  });

  it("sets the filter box and the query trait; the list follows Python's snapshot", async () => {
    const model = new FakeModel();
    const mounted = mountWidget(model);
    const host = mounted.addView();
    cleanup = () => mounted.cleanup();
    const rows = [row(1, null, "laptop"), row(2, "alice", "laptop"), row(3, "bob", null)];
    model.emitCustom({ type: "snapshot", rows, last_seq: 3, request_id: null, buffered: 3, matched: null });
    await nextFrame();
    host.querySelector<HTMLElement>('[data-seq="1"]')!.click();
    expect(model.traits.selected_seq).toBe(1);
    model.pythonSets("selected", { seq: 1, person: person({ anonymous_ids: ["laptop"], events: 2 }) });
    q(host, "sd-show-person")!.click();
    expect(model.traits.query).toBe("person:alice"); // sent at once, no debounce
    expect(host.querySelector<HTMLInputElement>('[data-testid="sd-filter"]')!.value).toBe("person:alice");
    model.emitCustom({ type: "snapshot", rows: rows.slice(0, 2), last_seq: 3, request_id: null, buffered: 3, matched: 2, persons: { alice: ["alice", "laptop"] } });
    await nextFrame();
    const shown = [...host.querySelectorAll<HTMLElement>('[data-testid="sd-row"]')].map((n) => Number(n.dataset.seq));
    expect(shown.sort()).toEqual([1, 2]);
  });
});
