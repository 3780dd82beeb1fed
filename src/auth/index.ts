export * from "./auth-file.js";
export * from "./credentials.js";
export * from "./helper.js";
export * from "./hosts.js";
export * from "./keychain.js";
