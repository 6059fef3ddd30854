/**
 * The filter language (README "Filter language"): a line-by-line twin of
 * segment_debugger/core/query.py, pinned by the shared vectors in spec/filter_vectors.json.
 * The parser is total: every string is a query and nothing throws.
 */
import { isObject } from "./json";

/** What a filter looks at for one event (the same things Python's query sees). */
export interface FilterInput {
  /** the payload text */
  raw: string;
  /** the parsed payload when it is a JSON object, else null */
  data: Record<string, unknown> | null;
  valid: boolean;
  violations: string[];
  /** checks that leave the event valid (clock, duplicates, drift); absent: none */
  warnings?: string[];
  /** the Redis Stream entry id; null or absent: none (pub/sub) */
  stream_id?: string | null;
  /** the event's userId and anonymousId as Python summarised them (the row's); for person: */
  userId?: string | null;
  anonymousId?: string | null;
}

/**
 * For each `person:ID` term, every id of the person ID belongs to, as Python resolved it from
 * its identity graph (the snapshot's `persons`). An ID it has no entry for yet is taken alone.
 */
export type Persons = Readonly<Record<string, readonly string[]>>;

/** Options of compileQuery. */
export interface CompileOptions {
  /** the id sets of the person terms, read at each test (they change with snapshots) */
  persons?: () => Persons | null | undefined;
}

type Op = "" | ">" | ">=" | "<" | "<=";

/** Field names that mean the event's own record, not a payload key (query.py _PSEUDO_FIELDS). */
const PSEUDO_FIELDS = ["valid", "violation", "warning", "stream_id", "person"] as const;
type PseudoField = (typeof PSEUDO_FIELDS)[number];
const isPseudoField = (field: string): field is PseudoField => (PSEUDO_FIELDS as readonly string[]).includes(field);

/**
 * One parsed term. `kind` is "text" (substring of the raw payload), "field" (dotted path in
 * the parsed object), "valid", "violation", "warning", "stream_id" or "person" (pseudo-fields).
 * `value` is lowercased with runs of `*` collapsed, except for "person" (the id as typed: ids
 * are matched exactly); `op` is "" (equality) or a comparison.
 */
interface Term {
  kind: "text" | "field" | PseudoField;
  value: string;
  negate: boolean;
  path: string[];
  op: Op;
}

/** A compiled query. */
export interface Filter {
  terms: Term[];
  /** true when some term reads the parsed payload (callers may skip JSON.parse otherwise) */
  needsData: boolean;
  /** true when the query has no terms */
  isEmpty: boolean;
  test(input: FilterInput): boolean;
}

const WHITESPACE = new Set([" ", "\t", "\n", "\r", "\f", "\v"]);
const isFieldStart = (c: string): boolean => /^[A-Za-z_$]$/.test(c);
const isFieldChar = (c: string): boolean => /^[A-Za-z0-9_$.-]$/.test(c);
const NUMBER_RE = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const COMPARATORS: Record<Exclude<Op, "">, (a: number, b: number) => boolean> = {
  ">=": (a, b) => a >= b,
  "<=": (a, b) => a <= b,
  ">": (a, b) => a > b,
  "<": (a, b) => a < b,
};

/** Reads text as a number (`10`, `-1.5`, `.5`, `1e3`; nothing else, no spaces), or null. */
export function readNumber(text: string): number | null {
  return NUMBER_RE.test(text) ? Number(text) : null;
}

// -- parsing --------------------------------------------------------------------------------

/** Splits a query into terms (total: never throws). */
export function parseQuery(text: string): Term[] {
  const s = typeof text === "string" ? text : "";
  const terms: Term[] = [];
  const n = s.length;
  let i = 0;
  while (i < n) {
    if (WHITESPACE.has(s[i])) {
      i += 1;
      continue;
    }
    const negate = s[i] === "-";
    if (negate) {
      i += 1;
      if (i === n || WHITESPACE.has(s[i])) continue; // a lone "-" negates nothing
    }
    const [term, end] = readTerm(s, i, negate);
    if (term) terms.push(term);
    i = end;
  }
  return terms;
}

function readTerm(s: string, i: number, negate: boolean): [Term | null, number] {
  const n = s.length;
  if (isFieldStart(s[i])) {
    let j = i + 1;
    while (j < n && isFieldChar(s[j])) j += 1;
    if (j < n && s[j] === ":") {
      const [term, end] = readFieldTerm(s, s.slice(i, j), j + 1, negate);
      if (term) return [term, end];
    }
  }
  let text: string;
  let end: number;
  if (s[i] === '"') [text, end] = readQuoted(s, i);
  else {
    end = bareEnd(s, i);
    text = s.slice(i, end);
  }
  if (!text) return [null, end]; // empty text matches everything: ignored
  return [{ kind: "text", value: text.toLowerCase(), negate, path: [], op: "" }, end];
}

function readFieldTerm(s: string, field: string, k: number, negate: boolean): [Term | null, number] {
  const n = s.length;
  const two = s.slice(k, k + 2);
  let op: string = two === ">=" || two === "<=" ? two : s.slice(k, k + 1);
  if (!(op in COMPARATORS)) op = "";
  const afterOp = k + op.length;
  let value: string;
  let end: number;
  if (op && afterOp < n && s[afterOp] === '"') {
    [value, end] = readQuoted(s, afterOp);
  } else if (k < n && s[k] === '"') {
    op = "";
    [value, end] = readQuoted(s, k);
  } else {
    end = bareEnd(s, k);
    value = s.slice(k, end);
    if (!value) return [null, end]; // "field:" with nothing after it is text
    if (op && value.length > op.length) value = value.slice(op.length);
    else op = ""; // an operator with nothing after it is the value itself
  }
  const kind = isPseudoField(field) ? field : "field";
  if (kind !== "person") value = value.toLowerCase().replace(/\*+/g, "*"); // an id: as typed
  const path = kind === "field" ? field.split(".") : [];
  return [{ kind, value, negate, path, op: op as Op }, end];
}

/** Reads a quoted run starting at the quote s[i]; an unclosed one runs to the end. */
function readQuoted(s: string, i: number): [string, number] {
  let out = "";
  let j = i + 1;
  const n = s.length;
  while (j < n) {
    const c = s[j];
    if (c === "\\") {
      if (j + 1 < n) {
        out += s[j + 1];
        j += 2;
      } else {
        out += c; // a trailing backslash is kept as it is
        j += 1;
      }
    } else if (c === '"') {
      return [out, j + 1];
    } else {
      out += c;
      j += 1;
    }
  }
  return [out, n];
}

function bareEnd(s: string, i: number): number {
  let j = i;
  while (j < s.length && !WHITESPACE.has(s[j])) j += 1;
  return j;
}

// -- evaluation -----------------------------------------------------------------------------

/** An anchored matcher for a lowercased pattern where `*` is any run of characters. */
function glob(pattern: string): (text: string) => boolean {
  if (!pattern.includes("*")) return (text) => text === pattern;
  const pieces = pattern.split("*");
  const first = pieces[0];
  const last = pieces[pieces.length - 1];
  const middle = pieces.slice(1, -1);
  const least = first.length + last.length;
  return (text) => {
    if (text.length < least || !text.startsWith(first) || !text.endsWith(last)) return false;
    let pos = first.length;
    const end = text.length - last.length;
    for (const piece of middle) {
      const found = text.slice(0, end).indexOf(piece, pos);
      if (found < 0) return false;
      pos = found + piece.length;
    }
    return true;
  };
}

/** An unanchored matcher: the lowercased pattern (`*` wildcards) occurs in the text. */
function contains(pattern: string): (text: string) => boolean {
  const pieces = pattern.split("*").filter((p) => p !== "");
  return (text) => {
    let pos = 0;
    for (const piece of pieces) {
      const found = text.indexOf(piece, pos);
      if (found < 0) return false;
      pos = found + piece.length;
    }
    return true;
  };
}

const has = (o: Record<string, unknown>, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/** Every value at `path` in `data` (several when the path crosses an array). */
function lookup(data: unknown, path: string[]): unknown[] {
  let current = data;
  for (let depth = 0; depth < path.length; depth++) {
    const key = path[depth];
    if (isObject(current)) {
      if (!has(current, key)) return [];
      current = current[key];
    } else if (Array.isArray(current)) {
      return lookupList(current, path.slice(depth));
    } else {
      return [];
    }
  }
  return [current];
}

/** Steps into an array: a numeric segment picks that element, any other looks in each one. */
function lookupList(items: unknown[], path: string[]): unknown[] {
  const [key, ...rest] = path;
  if (/^[0-9]+$/.test(key)) {
    const index = Number(key);
    return index < items.length ? lookup(items[index], rest) : [];
  }
  const found: unknown[] = [];
  for (const item of items) {
    if (isObject(item) && has(item, key)) found.push(...lookup(item[key], rest));
  }
  return found;
}

function asNumber(found: unknown): number | null {
  if (typeof found === "number") return found;
  if (typeof found === "string") return readNumber(found);
  return null;
}

/** Builds matches(jsonValue) for a lowercased value and an operator. */
function valueMatcher(value: string, op: Op): (found: unknown) => boolean {
  const number = readNumber(value);
  if (op) {
    const compare = COMPARATORS[op];
    if (number === null) return () => false;
    const compareFound = (found: unknown): boolean => {
      if (Array.isArray(found)) return found.some((item) => !Array.isArray(item) && compareFound(item));
      const x = asNumber(found);
      return x !== null && compare(x, number);
    };
    return compareFound;
  }
  const textMatches = glob(value);
  const scalar = (found: unknown): boolean => {
    if (typeof found === "string") return textMatches(found.toLowerCase());
    if (typeof found === "boolean") return textMatches(found ? "true" : "false");
    if (found === null) return textMatches("null");
    if (typeof found === "number") return number !== null ? found === number : textMatches(String(found));
    return value === "*"; // an object (or an array inside an array) matches only *
  };
  return (found) => (Array.isArray(found) ? found.some(scalar) : scalar(found));
}

type Check = (input: FilterInput, lowered: () => string) => boolean;

/** The id an event is filed under: its userId, else its anonymousId (people.py). */
function identity(input: FilterInput): string | null {
  const found = input.userId || input.anonymousId;
  return typeof found === "string" && found ? found : null;
}

/** `person:ID`: the event's identity is one of the person's ids (ID alone until Python says). */
function personCheck(id: string, persons: CompileOptions["persons"]): Check {
  let source: Persons | null | undefined;
  let ids: ReadonlySet<string> = new Set([id]);
  return (input) => {
    const current = persons?.();
    if (current !== source) {
      source = current;
      const given = current && Object.prototype.hasOwnProperty.call(current, id) ? current[id] : null;
      ids = new Set(Array.isArray(given) ? given : [id]);
    }
    const found = identity(input);
    return found !== null && ids.has(found);
  };
}

function compileTerm(term: Term, options: CompileOptions): Check {
  if (term.kind === "text") {
    const needle = term.value;
    return (_input, lowered) => lowered().includes(needle);
  }
  if (term.kind === "person") return term.op ? () => false : personCheck(term.value, options.persons);
  let valueMatches = valueMatcher(term.value, term.op);
  if (term.kind === "valid") return (input) => valueMatches(input.valid);
  if (term.kind === "stream_id") {
    // The entry id, matched like a field value; ids are not numbers: comparisons never match.
    if (term.op) return () => false;
    if (term.value === "*") return (input) => input.stream_id != null;
    return (input) => input.stream_id != null && valueMatches(input.stream_id);
  }
  if (term.kind === "violation") {
    if (term.op) return () => false;
    const test = contains(term.value);
    return (input) => input.violations.some((v) => test(v.toLowerCase()));
  }
  if (term.kind === "warning") {
    if (term.op) return () => false;
    const test = contains(term.value);
    return (input) => (input.warnings ?? []).some((w) => test(w.toLowerCase()));
  }
  if (term.value === "*" && !term.op) valueMatches = () => true;
  const path = term.path;
  if (path.length === 1) {
    const key = path[0];
    return (input) => {
      const data = input.data;
      return isObject(data) && has(data, key) && valueMatches(data[key]);
    };
  }
  return (input) => lookup(input.data, path).some(valueMatches);
}

/** Compiles a query string into a reusable filter. */
export function compileQuery(query: string, options: CompileOptions = {}): Filter {
  const terms = parseQuery(query);
  const checks = terms.map((term) => [compileTerm(term, options), term.negate] as const);
  return {
    terms,
    needsData: terms.some((t) => t.kind === "field"),
    isEmpty: terms.length === 0,
    test(input) {
      let cache: string | null = null;
      const lowered = (): string => (cache ??= input.raw.toLowerCase());
      for (const [check, negate] of checks) {
        if (check(input, lowered) === negate) return false;
      }
      return true;
    },
  };
}

/**
 * The term `person:ID` for an id, quoted when it must be: empty, holding whitespace, a quote
 * or a backslash, or starting with `<` or `>`. Python's twin: query.py `person_query`.
 */
export function personQuery(id: string): string {
  const plain = id !== "" && !"<>".includes(id[0]) && ![...id].some((c) => WHITESPACE.has(c) || c === '"' || c === "\\");
  return plain ? `person:${id}` : `person:"${id.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
