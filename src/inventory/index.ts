export { type ReadInventoryOptions, readInventory, readInventoryFromFs } from "./read.js";
export type { InstalledPackage, Inventory, OsFamily, OsInfo, PackageManager } from "./types.js";
