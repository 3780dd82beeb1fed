export * from "./format.js";
export * from "./sink.js";
export * from "./source.js";
export * from "./tar-index.js";
