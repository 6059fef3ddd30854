/** The `selected` trait's value for a row: seq plus the event's fields. */
import type { Row, Selected } from "./protocol";
import { payloadOf } from "./payload";

/**
 * The selected event as a dict for Python: seq and the event fields, the
 * nested objects (properties, traits, context) parsed from the payload.
 */
export function selectedDict(row: Row): Selected {
  const data = payloadOf(row);
  const nested = (key: string): unknown => {
    const v = data?.[key];
    return typeof v === "object" && v !== null && !Array.isArray(v) ? v : null;
  };
  return {
    seq: row.seq,
    type: row.type,
    event: row.event,
    name: row.name,
    userId: row.userId,
    anonymousId: row.anonymousId,
    messageId: row.messageId,
    timestamp: row.timestamp,
    properties: nested("properties"),
    traits: nested("traits"),
    context: nested("context"),
    valid: row.valid,
    violations: [...row.violations],
    channel: row.channel,
    raw: row.raw,
  };
}
