import type { MaintainerScriptName } from "../deb/index.js";
import { classifyScript, type ScriptAction, type ScriptActionKind } from "./classify.js";

/** The scripts dpkg runs when upgrading a package (deb-*(5), Debian Policy ch. 6). */
export interface UpgradeScripts {
  readonly old: Partial<Record<MaintainerScriptName, Buffer>>;
  readonly new: Partial<Record<MaintainerScriptName, Buffer>>;
  /** The new package's `triggers` control file, if any. */
  readonly newTriggers?: Buffer | undefined;
}

export interface ScriptFinding {
  /** Which script of which version, and how dpkg would have called it. */
  readonly script: MaintainerScriptName | "triggers";
  readonly version: "old" | "new";
  readonly invocation: string;
  readonly actions: ScriptAction[];
}

export interface MaintainerScriptReport {
  readonly package: string;
  readonly fromVersion: string;
  readonly toVersion: string;
  /** True when at least one script that dpkg would have run does more than nothing (heuristic). */
  readonly wouldHaveDoneSomething: boolean;
  readonly findings: ScriptFinding[];
  /** Distinct action kinds, for a one-line summary. */
  readonly kinds: ScriptActionKind[];
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
): MaintainerScriptReport {
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

/** One line for the patch summary, e.g. "libc6: postinst (ldconfig, debconf), triggers (ldconfig)". */
export function formatScriptReport(r: MaintainerScriptReport): string {
  if (!r.wouldHaveDoneSomething) return `${r.package}: maintainer scripts would have done nothing`;
  const parts = r.findings.map((f) => {
    const kinds = [...new Set(f.actions.map((a) => a.kind))];
    return `${f.script} (${kinds.join(", ")})`;
  });
  return `${r.package}: ${parts.join(", ")}`;
}
