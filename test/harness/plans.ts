import type { Plan } from "../../src/plan/types.js";

/** A plan with nothing to do, or with only the parts a test gives. */
export function emptyPlan(over: Partial<Plan> = {}): Plan {
  return {
    mode: "all",
    updates: [],
    newPackages: [],
    held: [],
    unresolved: [],
    downloadSize: 0,
    warnings: [],
    ...over,
  };
}
