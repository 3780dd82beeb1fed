export * from "./index-json.js";
export * from "./layout.js";
export * from "./referrers.js";
export * from "./sink.js";
export * from "./source.js";
