import { OcipatchError } from "../errors.js";

/** What a suite is to the release it belongs to. */
export type SuiteKind = "release" | "security" | "updates" | "backports" | "proposed" | "other";

/** The suites ocipatch plans from: the release itself, its security and its updates suites. */
export const PLANNED_KINDS: readonly SuiteKind[] = ["release", "security", "updates"];

/** `security,updates` (as given to `--suites`) → suite kinds; a USAGE error for anything else. */
export function parseSuiteKinds(text: string): SuiteKind[] {
  const parts = text
    .split(",")
    .map((x) => x.trim().toLowerCase())
    .filter((x) => x !== "");
  if (parts.length === 0) {
    throw new OcipatchError("USAGE", `suites: give one or more of ${PLANNED_KINDS.join(", ")}`, {
      details: { option: "suites" },
    });
  }
  const out: SuiteKind[] = [];
  for (const p of parts) {
    const kind = PLANNED_KINDS.find((k) => k === p);
    if (!kind) {
      throw new OcipatchError("USAGE", `unknown suite kind "${p}" (expected ${PLANNED_KINDS.join(", ")})`, {
        details: { option: "suites" },
      });
    }
    if (!out.includes(kind)) out.push(kind);
  }
  return out;
}
