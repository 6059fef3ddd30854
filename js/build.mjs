// Bundles src/index.ts (+ its CSS) into ../segment_debugger/widget/static/widget.{js,css}.
// `node build.mjs` builds once (minified); `node build.mjs --watch` rebuilds on change.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { bundleVersion } from "./version.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const watch = process.argv.includes("--watch");
// segment_debugger/__init__.py's __version__ (package.json must agree), for src/version.ts.
const version = bundleVersion();

/** @type {import("esbuild").BuildOptions} */
const options = {
  entryPoints: { widget: path.join(here, "src", "index.ts") },
  outdir: path.join(here, "..", "segment_debugger", "widget", "static"),
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  logLevel: "info",
  define: { __SD_VERSION__: JSON.stringify(version) },
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
