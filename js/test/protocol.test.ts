// @vitest-environment node
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { RAW_PREVIEW_CHARS } from "../src/protocol";

describe("protocol", () => {
  it("truncates payloads at the same length as segment_debugger/protocol.py", () => {
    const py = readFileSync(fileURLToPath(new URL("../../segment_debugger/protocol.py", import.meta.url)), "utf8");
    const match = /^RAW_PREVIEW_CHARS\s*=\s*([\d_]+)/m.exec(py);
    expect(match, "RAW_PREVIEW_CHARS not found in protocol.py").not.toBeNull();
    expect(RAW_PREVIEW_CHARS).toBe(Number(match![1].replaceAll("_", "")));
  });
});
