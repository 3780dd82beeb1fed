export * from "./layout.js";
export * from "./source.js";
