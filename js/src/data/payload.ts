/** The parsed payload of a row, parsed once and cached per row. */
import type { Row } from "../sync/protocol";
import type { FilterInput } from "./filter";
import { parseObject } from "./json";

const cache = new WeakMap<Row, Record<string, unknown> | null>();

/** The row's payload as a JSON object, or null (not an object, or truncated). */
export function payloadOf(row: Row): Record<string, unknown> | null {
  let data = cache.get(row);
  if (data === undefined) {
    data = row.truncated ? null : parseObject(row.raw);
    cache.set(row, data);
  }
  return data;
}

/** The filter's view of a row; parses the payload only when `withData`. */
export function filterInput(row: Row, withData: boolean): FilterInput {
  return {
    raw: row.raw,
    data: withData ? payloadOf(row) : null,
    valid: row.valid,
    violations: row.violations,
    warnings: row.warnings,
    stream_id: row.stream_id,
    userId: row.userId,
    anonymousId: row.anonymousId,
  };
}
