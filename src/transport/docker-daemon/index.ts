export * from "./client.js";
export * from "./endpoint.js";
export * from "./sink.js";
export * from "./source.js";
