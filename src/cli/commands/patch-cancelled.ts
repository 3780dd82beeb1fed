import { OcipatchError } from "../../errors.js";
import { formatDuration } from "../../util/duration.js";
import type { Interrupted } from "../context.js";

/** How far the write to the destination got when the run was cancelled. */
export type WriteStage = "before" | "writing" | "written";

/** The one line for a run cancelled by the deadline or a signal: what happened to the destination, truthfully. */
export function cancelledError(
  e: unknown,
  run: {
    image: string;
    destination: string | undefined;
    timeoutMs: number;
    stage: WriteStage;
    /** Set when SIGINT/SIGTERM cancelled the run (else the deadline did). */
    interrupted: Interrupted | undefined;
  },
): OcipatchError {
  const reason = run.interrupted;
  const dest = run.destination ?? "the destination";
  const outcome =
    run.stage === "before"
      ? "nothing was written"
      : run.stage === "writing"
        ? `the write to ${dest} was cut short: it is unchanged or holds the whole patched image, never a part`
        : `${dest} was written, but the re-scan did not finish`;
  if (reason) {
    return new OcipatchError(
      "CANCELLED",
      `patching ${run.image} was interrupted by ${reason.signal}; ${outcome}`,
      {
        cause: e,
        details: { signal: reason.signal, stage: run.stage },
      },
    );
  }
  const within = `within ${formatDuration(run.timeoutMs)} (--timeout)`;
  return new OcipatchError(
    "TIMEOUT",
    run.stage === "written"
      ? `wrote ${dest}, but the re-scan did not finish ${within}`
      : `patching ${run.image} did not finish ${within}; ${outcome}`,
    { cause: e, details: { stage: run.stage } },
  );
}
