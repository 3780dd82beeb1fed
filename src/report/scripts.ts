import type { ScriptReport } from "../backends/types.js";

/** One line for the patch summary, e.g. "libc6: postinst (ldconfig, debconf), triggers (ldconfig)". */
export function formatScriptReport(r: ScriptReport): string {
  if (!r.wouldHaveDoneSomething) return `${r.package}: maintainer scripts would have done nothing`;
  const parts = r.findings.map((f) => {
    const kinds = [...new Set(f.actions.map((a) => a.kind))];
    return `${f.script} (${kinds.join(", ")})`;
  });
  return `${r.package}: ${parts.join(", ")}`;
}
