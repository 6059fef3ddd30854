// The package version's one source: `__version__` in ../segment_debugger/__init__.py.
// build.mjs and vitest.config.ts bake it into the bundle as __SD_VERSION__ (src/version.ts).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));

/** `__version__` from segment_debugger/__init__.py; throws when it cannot be found. */
export function pythonVersion() {
  const file = path.join(here, "..", "segment_debugger", "__init__.py");
  const match = /^__version__\s*=\s*["']([^"']+)["']/m.exec(readFileSync(file, "utf8"));
  if (!match) throw new Error(`no __version__ = "..." line in ${file}`);
  return match[1];
}

/** js/package.json's "version". */
export function packageVersion() {
  return JSON.parse(readFileSync(path.join(here, "package.json"), "utf8")).version;
}

/** The version to bake in; throws when package.json disagrees with the Python package. */
export function bundleVersion() {
  const version = pythonVersion();
  const pkg = packageVersion();
  if (pkg !== version) {
    throw new Error(
      `js/package.json "version" is ${pkg} but segment_debugger/__init__.py __version__ is ${version}: make them equal`,
    );
  }
  return version;
}
