import { defineConfig } from "vitest/config";
import { pythonVersion } from "./version.mjs";

export default defineConfig({
  // As build.mjs bakes it in (src/version.ts); test/version.test.ts checks package.json.
  define: { __SD_VERSION__: JSON.stringify(pythonVersion()) },
  test: {
    environment: "happy-dom",
    include: ["test/**/*.test.ts"],
  },
});
