/**
 * The filter language (README "Filter language"), same semantics as
 * segment_debugger/query.py and checked by the same vectors (spec/filter_vectors.json).
 * The parser is total: every string is a query and nothing throws.
 */

/** What a filter looks at for one event. */
export interface FilterInput {
  /** the payload text */
  raw: string;
  /** the parsed payload when it is a JSON object, else null */
  data: Record<string, unknown> | null;
  valid: boolean;
  violations: string[];
}

export type Op = "=" | ">" | ">=" | "<" | "<=";

export type Term =
  | { kind: "text"; negate: boolean; text: string }
  | { kind: "field"; negate: boolean; field: string; op: Op; value: string };

/** A compiled query: a predicate plus whether it needs the parsed payload. */
export interface Filter {
  terms: Term[];
  /** false when every term is plain text or a pseudo-field (no JSON.parse needed) */
  needsData: boolean;
  test(input: FilterInput): boolean;
}

const FIELD_RE = /[A-Za-z_$][A-Za-z0-9_$.-]*:/y;
const SPACE_RE = /\s/;

/** Reads a quoted string starting at s[i] === '"'; returns its text and the index after it. */
function readQuoted(s: string, i: number): [string, number] {
  let out = "";
  let j = i + 1;
  while (j < s.length) {
    const c = s[j];
    if (c === "\\" && j + 1 < s.length) {
      out += s[j + 1];
      j += 2;
    } else if (c === '"') {
      return [out, j + 1];
    } else {
      out += c;
      j += 1;
    }
  }
  return [out, j]; // an unclosed quote runs to the end
}

function readBare(s: string, i: number): [string, number] {
  let j = i;
  while (j < s.length && !SPACE_RE.test(s[j])) j += 1;
  return [s.slice(i, j), j];
}

/** Splits a query into terms (total: never throws). */
export function parseQuery(query: string): Term[] {
  const terms: Term[] = [];
  const s = query;
  let i = 0;
  while (i < s.length) {
    if (SPACE_RE.test(s[i])) {
      i += 1;
      continue;
    }
    let negate = false;
    if (s[i] === "-" && i + 1 < s.length && !SPACE_RE.test(s[i + 1])) {
      negate = true;
      i += 1;
    }
    if (s[i] === '"') {
      const [text, j] = readQuoted(s, i);
      terms.push({ kind: "text", negate, text });
      i = j;
      continue;
    }
    FIELD_RE.lastIndex = i;
    const m = FIELD_RE.exec(s);
    if (m) {
      const field = m[0].slice(0, -1);
      let j = i + m[0].length;
      let op: Op = "=";
      for (const candidate of [">=", "<=", ">", "<"] as const) {
        if (s.startsWith(candidate, j)) {
          op = candidate;
          j += candidate.length;
          break;
        }
      }
      const [value, end] = s[j] === '"' ? readQuoted(s, j) : readBare(s, j);
      terms.push({ kind: "field", negate, field, op, value });
      i = end;
      continue;
    }
    const [text, j] = readBare(s, i);
    terms.push({ kind: "text", negate, text });
    i = j;
  }
  return terms;
}

const NUMBER_RE = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const SPECIAL_RE = /^[+-]?(?:inf|infinity|nan)$/i;

/** Reads text as a number the way Python's float() does, or returns null. */
export function readNumber(text: string): number | null {
  const t = text.trim();
  if (NUMBER_RE.test(t)) return Number(t.replace(/_/g, ""));
  if (SPECIAL_RE.test(t)) {
    if (/nan/i.test(t)) return NaN;
    return t.startsWith("-") ? -Infinity : Infinity;
  }
  return null;
}

/** Compiles a `*` wildcard pattern to a case-insensitive whole-string matcher. */
function wildcard(pattern: string): (text: string) => boolean {
  if (!pattern.includes("*")) {
    const want = pattern.toLowerCase();
    return (text) => text.toLowerCase() === want;
  }
  const body = pattern
    .split("*")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("[\\s\\S]*");
  const re = new RegExp(`^${body}$`, "i");
  return (text) => re.test(text);
}

/** A JSON scalar written as text: strings as they are, others as in JSON. */
function scalarText(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null) return "null";
  return String(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Looks a dotted path up in a parsed object; `undefined` when missing. */
function lookup(data: Record<string, unknown>, path: string): unknown {
  let cur: unknown = data;
  for (const key of path.split(".")) {
    if (!isPlainObject(cur) || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = cur[key];
  }
  return cur;
}

type ValueTest = (v: unknown) => boolean;

function equalsTest(value: string): ValueTest {
  const text = wildcard(value);
  const num = value.includes("*") ? null : readNumber(value);
  const matchAll = /^\*+$/.test(value);
  const one = (v: unknown): boolean => {
    if (isPlainObject(v)) return matchAll;
    if (Array.isArray(v)) return false;
    if (typeof v === "number" && num !== null) return v === num;
    return text(scalarText(v));
  };
  return (v) => (Array.isArray(v) ? matchAll || v.some(one) : one(v));
}

function compareTest(op: Exclude<Op, "=">, value: string): ValueTest {
  const right = readNumber(value);
  const one = (v: unknown): boolean => {
    if (right === null || Number.isNaN(right)) return false;
    let left: number | null = null;
    if (typeof v === "number") left = v;
    else if (typeof v === "string") left = readNumber(v);
    if (left === null || Number.isNaN(left)) return false;
    switch (op) {
      case ">":
        return left > right;
      case ">=":
        return left >= right;
      case "<":
        return left < right;
      case "<=":
        return left <= right;
    }
  };
  return (v) => (Array.isArray(v) ? v.some(one) : one(v));
}

type InputTest = (input: FilterInput) => boolean;

function compileTerm(term: Term): InputTest {
  if (term.kind === "text") {
    const needle = term.text.toLowerCase();
    return (input) => input.raw.toLowerCase().includes(needle);
  }
  const { field, op, value } = term;
  if (field === "valid") {
    if (op !== "=") return () => false;
    const test = wildcard(value);
    return (input) => test(input.valid ? "true" : "false");
  }
  if (field === "violation") {
    if (op !== "=") return () => false;
    const test = wildcard(`*${value}*`);
    return (input) => input.violations.some((v) => test(v));
  }
  const test = op === "=" ? equalsTest(value) : compareTest(op, value);
  return (input) => {
    if (input.data === null) return false;
    const v = lookup(input.data, field);
    return v !== undefined && test(v);
  };
}

function usesData(term: Term): boolean {
  return term.kind === "field" && term.field !== "valid" && term.field !== "violation";
}

/** Compiles a query string into a reusable filter. */
export function compileQuery(query: string): Filter {
  const terms = parseQuery(query);
  const tests = terms.map((term) => {
    const test = compileTerm(term);
    return term.negate ? (input: FilterInput) => !test(input) : test;
  });
  return {
    terms,
    needsData: terms.some(usesData),
    test: (input) => tests.every((t) => t(input)),
  };
}

/** One-shot convenience: does `query` match this input? */
export function matches(query: string, input: FilterInput): boolean {
  return compileQuery(query).test(input);
}
