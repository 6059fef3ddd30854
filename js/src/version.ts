/**
 * The version check (issue 13): this bundle carries the package version it was built from,
 * and the header warns when the kernel's differs (a browser or server still serving the
 * previous bundle after an upgrade, or a kernel not restarted).
 *
 * The one source is `__version__` in segment_debugger/__init__.py: build.mjs (esbuild's
 * `define`) and vitest.config.ts read it there (js/version.mjs) and bake it in as
 * `__SD_VERSION__`; js/package.json's "version" must equal it (checked by the build and by
 * test/version.test.ts). The kernel's version comes in the `_version` trait.
 */

declare const __SD_VERSION__: string | undefined;

/** This bundle's version ("unknown" when built without the define). */
export const FRONTEND_VERSION: string = typeof __SD_VERSION__ === "string" ? __SD_VERSION__ : "unknown";

/**
 * The header's warning when the front end and the kernel disagree, or null when they agree
 * or the kernel's version is not known (a missing or empty `_version`: no warning).
 */
export function versionWarning(kernel: unknown, frontend: string = FRONTEND_VERSION): { text: string; title: string } | null {
  if (typeof kernel !== "string" || kernel.trim() === "") return null;
  if (kernel === frontend) return null;
  return {
    text: `front end ${frontend} ≠ kernel ${kernel}: reload the page after upgrading (a stale bundle is cached)`,
    title:
      `This page runs the widget's front end ${frontend}; the kernel runs segment_debugger ${kernel}.\n` +
      "After upgrading, reload the page (the browser or the server may still serve the old bundle);\n" +
      "if the kernel is the older one, restart it.",
  };
}
