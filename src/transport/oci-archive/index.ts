export * from "./sink.js";
export * from "./source.js";
