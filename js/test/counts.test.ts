/**
 * Filter before thinning (issue 10): the list's count is "N of M" with M Python's buffered
 * total, says "matching" when Python counts more matches than the list shows, and the
 * thinning note is about matching events when a filter is set.
 */
import { describe, expect, it } from "vitest";
import { countText, type ListCounts } from "../src/ui/toolbar";
import { thinningNote } from "../src/ui/header";

const base: ListCounts = {
  shown: 37, held: 37, buffered: 400, matched: 37, skipped: 0, capacity: 10_000, paused: false, backlog: 0,
};

describe("countText", () => {
  it("rows shown of Python's buffered events, when every match is shown", () => {
    const c = countText(base);
    expect(c.text).toBe("37 of 400");
    expect(c.shown).toBe(true); // "37 of 400 shown"
    expect(c.title).toContain("The Python buffer holds 400 events; 37 match the filter (dbg.filtered()).");
    expect(countText({ ...base, matched: null, shown: 400, held: 400 }).text).toBe("400 of 400");
  });

  it("says 'matching' when Python counts more matches than the list shows, and why", () => {
    const thinned = countText({ ...base, shown: 200, held: 200, matched: 1240, buffered: 40_000, skipped: 1040 });
    expect(thinned.text).toBe("200 of 1,240 matching (40,000 buffered)");
    expect(thinned.shown).toBe(false);
    expect(thinned.title).toContain("1,040 matching rows were thinned from the display");
    const capped = countText({ ...base, shown: 100, held: 100, matched: 150, capacity: 100 });
    expect(capped.text).toBe("100 of 150 matching (400 buffered)");
    expect(capped.title).toContain("The list holds the newest 100 matches (max_rows).");
  });

  it("without criteria, thinned rows make 'N of M' (M the buffer) and the tooltip says so", () => {
    const c = countText({ ...base, shown: 200, held: 200, matched: null, buffered: 40_000, skipped: 39_800 });
    expect(c.text).toBe("200 of 40,000");
    expect(c.title).toContain("39,800 rows were thinned from the display");
  });

  it("falls back to the rows held before Python said anything", () => {
    expect(countText({ ...base, buffered: null, matched: null, shown: 3, held: 5 }).text).toBe("3 of 5");
  });

  it("says the paused list is frozen", () => {
    const c = countText({ ...base, paused: true, backlog: 12 });
    expect(c.title).toContain("frozen at the pause (12 new since)");
  });
});

describe("thinningNote", () => {
  it("counts every event without a filter", () => {
    expect(thinningNote({ rate_per_s: 20_000, displayed_rate_per_s: 2000 }, null).text).toBe("showing 2,000 of 20,000 events/s");
  });

  it("counts matching events with one", () => {
    const note = thinningNote({ rate_per_s: 20_000, displayed_rate_per_s: 2000 }, { shown: 2000, offered: 5000 });
    expect(note.text).toBe("showing 2,000 of 5,000 matching events/s");
    expect(note.title).toContain("match the filter");
  });
});
