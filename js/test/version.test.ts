/**
 * The version check (issue 13): one version (segment_debugger/__init__.py's __version__) in
 * js/package.json and baked into the bundle, and a visible, non-blocking warning in the header
 * when the kernel's `_version` differs.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FRONTEND_VERSION, versionWarning } from "../src/version";
import { packageVersion, pythonVersion } from "../version.mjs";
import { FakeModel, mountWidget, nextFrame, trackRow, type MountedWidget } from "./fake_model";

let mounted: MountedWidget | null = null;
afterEach(() => {
  mounted?.cleanup();
  mounted = null;
  document.body.replaceChildren();
});

const warning = (host: HTMLElement): HTMLElement =>
  host.querySelector<HTMLElement>('[data-testid="sd-version-warning"]')!;

describe("version: one source", () => {
  it("js/package.json's version is segment_debugger.__version__", () => {
    expect(pythonVersion()).toMatch(/^\d+\.\d+\.\d+/);
    expect(packageVersion()).toBe(pythonVersion());
  });

  it("the bundle carries it (esbuild define, as build.mjs)", () => {
    expect(FRONTEND_VERSION).toBe(pythonVersion());
  });
});

describe("version: the warning", () => {
  it("says both versions and what to do when they differ", () => {
    const w = versionWarning("0.2.0", "0.1.0")!;
    expect(w.text).toBe("front end 0.1.0 ≠ kernel 0.2.0: reload the page after upgrading (a stale bundle is cached)");
    expect(w.title).toContain("restart it");
  });

  it("is null when they agree or the kernel's version is unknown", () => {
    expect(versionWarning("0.1.0", "0.1.0")).toBeNull();
    for (const unknown of [undefined, null, "", "  ", 2, {}]) expect(versionWarning(unknown, "0.1.0")).toBeNull();
    expect(versionWarning(FRONTEND_VERSION)).toBeNull();
  });

  it("shows in the header from the _version trait, and follows it", async () => {
    const model = new FakeModel({ _version: "999.0.0" });
    mounted = mountWidget(model);
    const host = mounted.addView();
    const node = warning(host);
    expect(node.closest(".sd-header")).not.toBeNull();
    expect(node.hidden).toBe(false);
    expect(node.textContent).toBe(
      `front end ${FRONTEND_VERSION} ≠ kernel 999.0.0: reload the page after upgrading (a stale bundle is cached)`,
    );
    model.pythonSets("_version", FRONTEND_VERSION);
    expect(node.hidden).toBe(true);
    expect(node.textContent).toBe("");
    model.pythonSets("_version", "0.0.1");
    expect(node.hidden).toBe(false);
    expect(node.textContent).toContain("kernel 0.0.1");
    // non-blocking: rows still come in and the controls work
    model.emitCustom({ type: "snapshot", rows: [trackRow(1), trackRow(2)], last_seq: 2, request_id: null });
    await nextFrame();
    expect(host.querySelectorAll('[data-testid="sd-row"]')).toHaveLength(2);
    expect(host.querySelector<HTMLButtonElement>('[data-testid="sd-export"]')!.disabled).toBe(false);
  });

  it("is not shown by a kernel that does not send its version", () => {
    const model = new FakeModel();
    expect(model.traits._version).toBeUndefined();
    mounted = mountWidget(model);
    const host = mounted.addView();
    expect(warning(host).hidden).toBe(true);
    model.pythonSets("_version", "");
    expect(warning(host).hidden).toBe(true);
  });
});
