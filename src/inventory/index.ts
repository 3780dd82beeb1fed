export { type ReadInventoryOptions, readInventory, readInventoryFromFs } from "./read.js";
export type { InstalledPackage, Inventory } from "./types.js";
