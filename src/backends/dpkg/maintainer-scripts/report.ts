import type { ScriptAction, ScriptFinding, ScriptReport } from "../../types.js";
import type { MaintainerScriptName } from "../deb/index.js";
import { classifyScript } from "./classify.js";

/** The scripts dpkg runs when upgrading a package (deb-*(5), Debian Policy ch. 6). */
interface UpgradeScripts {
  readonly old: Partial<Record<MaintainerScriptName, Buffer>>;
  readonly new: Partial<Record<MaintainerScriptName, Buffer>>;
  /** The new package's `triggers` control file, if any. */
  readonly newTriggers?: Buffer | undefined;
}

/**
 * Which of the scripts dpkg would run for an upgrade (old prerm, new preinst,
 * old postrm, new config, new postinst, trigger activations) would have done
 * something. A heuristic: see classify.ts.
 */
export function upgradeScriptReport(
  pkg: string,
  fromVersion: string,
  toVersion: string,
  scripts: UpgradeScripts,
): ScriptReport {
  const plan: Array<[MaintainerScriptName, "old" | "new", string]> = [
    ["prerm", "old", `prerm upgrade ${toVersion}`],
    ["preinst", "new", `preinst upgrade ${fromVersion}`],
    ["postrm", "old", `postrm upgrade ${toVersion}`],
    ["config", "new", `config configure ${fromVersion}`],
    ["postinst", "new", `postinst configure ${fromVersion}`],
  ];
  const findings: ScriptFinding[] = [];
  for (const [name, version, invocation] of plan) {
    const c = classifyScript(scripts[version][name]);
    if (c.effective) findings.push({ script: name, version, invocation, actions: c.actions });
  }
  if (scripts.newTriggers) {
    const acts: ScriptAction[] = [];
    for (const line of scripts.newTriggers.toString("utf8").split("\n")) {
      const t = line.replace(/#.*/, "").trim();
      if (/^activate(-await|-noawait)?\s+\S+/.test(t)) acts.push({ kind: "triggers", detail: t });
    }
    if (acts.length > 0)
      findings.push({ script: "triggers", version: "new", invocation: "trigger activation", actions: acts });
  }
  const kinds = [...new Set(findings.flatMap((f) => f.actions.map((a) => a.kind)))];
  return {
    package: pkg,
    fromVersion,
    toVersion,
    wouldHaveDoneSomething: findings.length > 0,
    findings,
    kinds,
  };
}
