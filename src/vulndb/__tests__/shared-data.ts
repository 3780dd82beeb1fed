import { existsSync } from "node:fs";
import { join } from "node:path";

const REPO = join(import.meta.dirname, "../../..");

/** The shared test material (../shared of the checkout, or $OCIPATCH_SHARED). */
const SHARED =
  [process.env["OCIPATCH_SHARED"], join(REPO, "../shared"), join(REPO, "../../shared"), "/work/shared"].find(
    (p): p is string => p !== undefined && existsSync(join(p, "vulndata")),
  ) ?? join(REPO, "../shared");

export const VULNDATA = join(SHARED, "vulndata");
