/**
 * The analytics.js call equivalent to an event, e.g.
 * `analytics.track("Order Completed", {...})`. Returns plain text.
 */
import { isObject, parseObject } from "../data/json";

type Obj = Record<string, unknown>;

function nonEmpty(v: unknown): v is Obj {
  return isObject(v) && Object.keys(v).length > 0;
}

const js = (v: unknown): string => JSON.stringify(v, null, 2) ?? "undefined";

function idText(v: unknown): string | null {
  if (typeof v === "string" && v !== "") return v;
  if (typeof v === "number") return String(v);
  return null;
}

function call(method: string, args: unknown[]): string {
  return `analytics.${method}(${args.map(js).join(", ")});`;
}

/** analytics.js call for a parsed Segment payload (trailing empty arguments left out). */
export function prettyCall(data: Obj): string {
  const type = typeof data.type === "string" ? data.type : "";
  const props = nonEmpty(data.properties) ? data.properties : null;
  const traits = nonEmpty(data.traits) ? data.traits : null;
  const userId = idText(data.userId);
  switch (type) {
    case "track":
      return call("track", props ? [data.event ?? "", props] : [data.event ?? ""]);
    case "identify": {
      const args: unknown[] = [];
      if (userId !== null) args.push(userId);
      if (traits) args.push(traits);
      return call("identify", args);
    }
    case "page": {
      const category = data.category ?? (props ? props.category : undefined);
      const name = data.name ?? (props ? props.name : undefined);
      const args: unknown[] = [];
      if (typeof category === "string" && category !== "") args.push(category);
      if (typeof name === "string" && name !== "") args.push(name);
      else if (args.length > 0) args.push(null); // page(category, name): keep positions
      if (props) args.push(props);
      return call("page", args);
    }
    case "screen": {
      const args: unknown[] = [];
      if (typeof data.category === "string" && data.category !== "") args.push(data.category);
      args.push(data.name ?? "");
      if (props) args.push(props);
      return call("screen", args);
    }
    case "group": {
      const args: unknown[] = [idText(data.groupId) ?? ""];
      if (traits) args.push(traits);
      return call("group", args);
    }
    case "alias": {
      const args: unknown[] = [userId ?? ""];
      const prev = idText(data.previousId);
      if (prev !== null) args.push(prev);
      return call("alias", args);
    }
    default:
      return `// not a Segment call: type ${type ? JSON.stringify(type) : "missing"}`;
  }
}

/** analytics.js call for raw payload text; explains when it cannot. */
export function prettyFromRaw(raw: string): string {
  const data = parseObject(raw);
  return data ? prettyCall(data) : "// the payload is not a JSON object";
}
