/** Tiny DOM helpers. Data only ever goes in as text (textContent), never as HTML. */

interface ElOptions {
  className?: string;
  testid?: string;
  text?: string;
  title?: string;
  attrs?: Record<string, string>;
}

/** Creates an element with a class, test id, text and attributes. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  opts: ElOptions = {},
  children: Node[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (opts.className) node.className = opts.className;
  if (opts.testid) node.dataset.testid = opts.testid;
  if (opts.text !== undefined) node.textContent = opts.text;
  if (opts.title !== undefined) node.title = opts.title;
  for (const [k, v] of Object.entries(opts.attrs ?? {})) node.setAttribute(k, v);
  for (const child of children) node.appendChild(child);
  return node;
}

/** A `<button type="button">` (never a form submit) with a class, test id, text and attributes. */
export function button(opts: ElOptions = {}): HTMLButtonElement {
  return el("button", { ...opts, attrs: { type: "button", ...opts.attrs } });
}

/** Sets textContent only when it changed (avoids needless layout work). */
export function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

/** Adds an event listener and returns its removal. */
export function on<K extends keyof HTMLElementEventMap>(
  target: HTMLElement | Document | Window,
  type: K,
  listener: (ev: HTMLElementEventMap[K]) => void,
  options?: AddEventListenerOptions,
): () => void {
  target.addEventListener(type, listener as EventListener, options);
  return () => target.removeEventListener(type, listener as EventListener, options);
}
