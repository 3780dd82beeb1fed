/** ocipatch library API. The CLI (src/cli) is a thin layer over these exports. */

export * from "./apt/index.js";
export * from "./errors.js";
export * from "./image/index.js";
export * from "./plan/index.js";
export * from "./reference/index.js";
export * from "./util/digest.js";
export type { ProgressListener } from "./util/progress.js";
export { VERSION } from "./version.js";
