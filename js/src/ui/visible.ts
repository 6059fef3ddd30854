/**
 * Control and invisible characters shown as what they are. Event data may hold NUL, ESC,
 * bidi overrides (U+202E), isolates (U+2066–2069), zero-width characters, a BOM...: shown raw
 * they hide text or reorder it ("Trojan Source": `admin\u202Egnp.exe` reads "adminexe.png").
 * Every such character is replaced by its escape, the one `segment-debugger tail` prints:
 *
 *   the characters Python's `str.isprintable()` rejects (Unicode general categories Cc, Cf,
 *   Cs, Co, Cn, Zl, Zp, and Zs except the ASCII space U+0020), each written as Python's
 *   `unicode_escape` writes it: `\t` `\n` `\r`; `\xhh` below U+0100; `\uhhhh` below
 *   U+10000; `\Uhhhhhhhh` above (lowercase hex). Everything else, `\` included, is unchanged.
 *
 * Pinned by spec/visible_vectors.json (this file's tests and tests/cli's). In the DOM the
 * escapes are `<span class="sd-esc">` (textContent only), so they stand out from the same
 * characters typed literally.
 */

/** Characters shown as escapes (lone surrogates match \p{Cs} under the u flag). */
const HIDDEN = /[\p{C}\p{Zl}\p{Zp}]|(?! )\p{Zs}/u;
const HIDDEN_ALL = new RegExp(HIDDEN.source, "gu");

const NAMED: Record<string, string> = { "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** Names for the tooltip of the escapes people meet most. */
const NAMES: Record<number, string> = {
  0x00: "NULL",
  0x09: "TAB",
  0x0a: "LINE FEED",
  0x0d: "CARRIAGE RETURN",
  0x1b: "ESCAPE",
  0x7f: "DELETE",
  0xa0: "NO-BREAK SPACE",
  0xad: "SOFT HYPHEN",
  0x061c: "ARABIC LETTER MARK",
  0x200b: "ZERO WIDTH SPACE",
  0x200c: "ZERO WIDTH NON-JOINER",
  0x200d: "ZERO WIDTH JOINER",
  0x200e: "LEFT-TO-RIGHT MARK",
  0x200f: "RIGHT-TO-LEFT MARK",
  0x2028: "LINE SEPARATOR",
  0x2029: "PARAGRAPH SEPARATOR",
  0x202a: "LEFT-TO-RIGHT EMBEDDING",
  0x202b: "RIGHT-TO-LEFT EMBEDDING",
  0x202c: "POP DIRECTIONAL FORMATTING",
  0x202d: "LEFT-TO-RIGHT OVERRIDE",
  0x202e: "RIGHT-TO-LEFT OVERRIDE",
  0x2060: "WORD JOINER",
  0x2066: "LEFT-TO-RIGHT ISOLATE",
  0x2067: "RIGHT-TO-LEFT ISOLATE",
  0x2068: "FIRST STRONG ISOLATE",
  0x2069: "POP DIRECTIONAL ISOLATE",
  0xfeff: "ZERO WIDTH NO-BREAK SPACE (BOM)",
};

const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0");

/** The escape of one hidden character (one code point, or one lone surrogate). */
export function escapeChar(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x100) return `\\x${hex(cp, 2)}`;
  if (cp < 0x10000) return `\\u${hex(cp, 4)}`;
  return `\\U${hex(cp, 8)}`;
}

/** True when `text` holds a character that `visible` escapes. */
export function hasHidden(text: string): boolean {
  return HIDDEN.test(text);
}

/**
 * `text` with every hidden character escaped (see the file comment). With `keepNewlines`,
 * "\n" stays a line break (multi-line text such as pretty-printed JSON).
 */
export function visible(text: string, keepNewlines = false): string {
  if (!HIDDEN.test(text)) return text;
  return text.replace(HIDDEN_ALL, (ch) => (keepNewlines && ch === "\n" ? ch : escapeChar(ch)));
}

/** The tooltip of one escape, e.g. "U+202E RIGHT-TO-LEFT OVERRIDE". */
export function describeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const name = NAMES[cp];
  return `U+${hex(cp, 4).toUpperCase()}${name ? ` ${name}` : ""} (hidden or control character, shown escaped)`;
}

/**
 * `text` as DOM nodes: text nodes for the ordinary runs, `<span class="sd-esc">` holding the
 * escape (as text) for each hidden character. Never HTML.
 */
export function visibleNodes(text: string, keepNewlines = false): Node[] {
  if (!HIDDEN.test(text)) return [document.createTextNode(text)];
  const nodes: Node[] = [];
  let pos = 0;
  for (const m of text.matchAll(HIDDEN_ALL)) {
    const ch = m[0];
    const at = m.index ?? 0;
    if (keepNewlines && ch === "\n") continue;
    if (at > pos) nodes.push(document.createTextNode(text.slice(pos, at)));
    const span = document.createElement("span");
    span.className = "sd-esc";
    span.textContent = escapeChar(ch);
    span.title = describeChar(ch);
    nodes.push(span);
    pos = at + ch.length;
  }
  if (pos < text.length) nodes.push(document.createTextNode(text.slice(pos)));
  return nodes;
}

/**
 * Sets an element's content to `text` with hidden characters escaped (visibleNodes); does
 * nothing when it already shows exactly that.
 */
export function setVisible(node: HTMLElement, text: string, keepNewlines = false): void {
  if (!HIDDEN.test(text)) {
    if (node.textContent !== text || node.childElementCount > 0) node.textContent = text;
    return;
  }
  const shown = visible(text, keepNewlines);
  if (node.textContent === shown && node.childElementCount > 0) return;
  node.replaceChildren(...visibleNodes(text, keepNewlines));
}
