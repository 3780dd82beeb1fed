import { rpmRecord } from "../../../src/backends/rpm/record.js";
import type { Inventory } from "../../../src/inventory/index.js";

/** Every fact of an rpm inventory the scan uses, the header's row in the database included, sorted. */
export function rpmInventoryFacts(inv: Inventory) {
  return inv.packages
    .map((x) => {
      const { header, hnum } = rpmRecord(x);
      return {
        name: x.name,
        version: x.version,
        architecture: x.architecture,
        sourceName: x.sourceName,
        sourceVersion: x.sourceVersion,
        held: x.held,
        dbPath: x.dbPath,
        hnum,
        header,
      };
    })
    .sort((a, b) => `${a.name}:${a.architecture}`.localeCompare(`${b.name}:${b.architecture}`));
}
