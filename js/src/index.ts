/**
 * SegmentDebugger front end, an anywidget front-end module (AFM). Model:
 * segment_debugger/widget/widget.py; fields and messages: spec/protocol.json.
 *
 * `initialize` runs once per model and builds the shared Session (store, request channel,
 * snapshot + retry, deltas); `render` runs once per view (`display(dbg)` twice = two views)
 * and builds that view's DOM over the Session. Each returns its cleanup.
 *
 * The default export is a factory, called by anywidget once per model, so the Session lives
 * in its closure. It cannot be looked up by `model`: anywidget (JupyterLab, Notebook, Voila)
 * and marimo hand `initialize` and each `render` a different proxy object of the same model.
 */
import "./ui/widget.css";
import type { AnyWidget } from "@anywidget/types";
import type { DebuggerModel, ModelTraits } from "./sync/model";
import { Session } from "./sync/session";
import { DebuggerView } from "./ui/debugger";

/** The widget definition for one model: `initialize` once, `render` per view. */
export function createWidget() {
  let session: Session | null = null;
  return {
    initialize({ model }: { model: DebuggerModel }): () => void {
      session?.dispose();
      const own = new Session(model);
      session = own;
      return () => {
        own.dispose();
        if (session === own) session = null;
      };
    },
    render({ model, el }: { model: DebuggerModel; el: HTMLElement }): () => void {
      // anywidget >= 0.9 always calls initialize first; a host that does not gets a session here.
      session ??= new Session(model);
      const view = new DebuggerView(model, session);
      el.appendChild(view.root);
      return () => view.destroy();
    },
  };
}

export default createWidget satisfies AnyWidget<ModelTraits>;
