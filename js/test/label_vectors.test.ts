/**
 * spec/label_vectors.json: the list's label (label() in src/ui/format.ts) against the vectors
 * `segment-debugger tail` is tested with (tests/cli/test_label_vectors.py), so both show one
 * name for one event. The label is the text before display escaping (visible.ts).
 */
import { describe, expect, it } from "vitest";
import { label } from "../src/ui/format";
import { ROW_FIELDS, type Row } from "../src/sync/protocol";
import vectorsJson from "../../spec/label_vectors.json";

interface Vector {
  id: string;
  note: string;
  raw: string | null;
  row: Row;
  label: string;
}
const vectors = (vectorsJson as unknown as { cases: Vector[] }).cases;

describe("spec/label_vectors.json", () => {
  it("has cases, each a whole Row", () => {
    expect(vectors.length).toBeGreaterThan(30);
    for (const v of vectors) expect(Object.keys(v.row).sort(), v.id).toEqual([...ROW_FIELDS].sort());
  });

  for (const v of vectors) {
    it(`${v.id}: ${v.note}`, () => {
      expect(label(v.row)).toBe(v.label);
    });
  }
});
