/** Types of version.mjs (shared by build.mjs and vitest.config.ts). */
export function pythonVersion(): string;
export function packageVersion(): string;
export function bundleVersion(): string;
