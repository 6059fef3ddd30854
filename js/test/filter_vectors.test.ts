/** The shared filter vectors (spec/filter_vectors.json), also run by Python's tests. */
import { describe, expect, it } from "vitest";
import { compileQuery, type FilterInput, type Persons } from "../src/data/filter";
import { parseObject } from "../src/data/json";
import vectorsJson from "../../spec/filter_vectors.json";

interface VectorEvent {
  id: string;
  raw: string;
  valid: boolean;
  violations: string[];
  /** checks that leave the event valid; absent: none */
  warnings?: string[];
  /** the Redis Stream entry id; absent: none */
  stream_id?: string;
  /** as Python's parser keeps them (the row's fields); absent: none */
  userId?: string;
  anonymousId?: string;
}
interface VectorCase {
  query: string;
  matches: string[];
  note?: string;
  /** per person:ID, the ids Python resolved (the snapshot's `persons`); absent: none yet */
  persons?: Persons;
}

const vectors = vectorsJson as { events: VectorEvent[]; cases: VectorCase[] };
const inputs: Array<[string, FilterInput]> = vectors.events.map((e) => [
  e.id,
  {
    raw: e.raw,
    data: parseObject(e.raw),
    valid: e.valid,
    violations: e.violations,
    warnings: e.warnings ?? [],
    stream_id: e.stream_id ?? null,
    userId: e.userId ?? null,
    anonymousId: e.anonymousId ?? null,
  },
]);

describe("shared filter vectors", () => {
  it("has cases to run", () => {
    expect(vectors.cases.length).toBeGreaterThan(10);
    expect(inputs.length).toBeGreaterThan(3);
  });

  it.each(vectors.cases.map((c) => [c.query, c.note ?? "", c.matches, c.persons] as const))(
    "%j (%s)",
    (query, _note, expected, persons) => {
      const filter = compileQuery(query, { persons: () => persons });
      const got = inputs.filter(([, input]) => filter.test(input)).map(([id]) => id);
      expect(got).toEqual(expected);
    },
  );
});
