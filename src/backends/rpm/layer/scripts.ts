import type { ScriptAction, ScriptActionKind, ScriptFinding, ScriptReport } from "../../types.js";
import type { RpmHeader, TagValue } from "../header.js";

/**
 * What rpm would have run for an upgrade, which ocipatch does not run: the new version's
 * %pretrans, %pre, %post, %posttrans and its triggers, the old version's %preun and %postun
 * (with rpm's instance-count argument), each classified by what its commands do.
 */

/** Script tags (body, interpreter) in the order rpm runs them on an upgrade. */
const SCRIPTS: ReadonlyArray<{ name: string; body: number; prog: number; version: "old" | "new" }> = [
  { name: "%pretrans", body: 1151, prog: 1153, version: "new" },
  { name: "%pre", body: 1023, prog: 1085, version: "new" },
  { name: "%post", body: 1024, prog: 1086, version: "new" },
  { name: "%preun", body: 1025, prog: 1087, version: "old" },
  { name: "%postun", body: 1026, prog: 1088, version: "old" },
  { name: "%posttrans", body: 1152, prog: 1154, version: "new" },
];

const TRIGGERS: ReadonlyArray<{ name: string; scripts: number; names: number }> = [
  { name: "%trigger", scripts: 1065, names: 1066 },
  { name: "%filetrigger", scripts: 5066, names: 5069 },
  { name: "%transfiletrigger", scripts: 5076, names: 5079 },
];

const RULES: ReadonlyArray<[RegExp, ScriptActionKind]> = [
  [/\bldconfig\b/, "ldconfig"],
  [/\b(?:update-)?alternatives\b/, "alternatives"],
  [/\bsystemctl\b|systemd-update-helper|\bsystemd-(?:tmpfiles|sysctl|hwdb)\b|journalctl/, "systemd"],
  [/\b(?:useradd|groupadd|usermod|groupmod|userdel|groupdel|getent|systemd-sysusers)\b/, "users-groups"],
  [/\bupdate-ca-trust\b|\bca-legacy\b/, "ca-certificates"],
  [
    /\b(?:gtk-update-icon-cache|fc-cache|update-mime-database|glib-compile-schemas|update-desktop-database|gio-querymodules|mandb|install-info)\b/,
    "caches",
  ],
  [/\b(?:dracut|kernel-install|grub2?-mkconfig|new-kernel-pkg)\b/, "initramfs"],
  [/\/etc\/shells\b|add-shell|remove-shell/, "shells"],
  [/\bpy_compile\b|compileall|\.pyc\b/, "python-bytecode"],
  [/\bchmod\b|\bchown\b|\bsetcap\b|\bchgrp\b/, "permissions"],
  [/\brpmconf\b|\.rpmsave\b|\.rpmnew\b/, "conffile-migration"],
];

function str(v: TagValue | undefined): string[] {
  return v?.type === "string" ? [...v.values] : [];
}

/** The actions one script body (and its interpreter) would have taken. */
export function classifyScript(body: string, prog: string): ScriptAction[] {
  const actions: ScriptAction[] = [];
  const lines = body
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith("--"));
  if (lines.length === 0 && prog !== "" && prog !== "/bin/sh" && prog !== "<lua>") lines.push(prog);
  for (const line of lines) {
    const rule = RULES.find(([re]) => re.test(line));
    const kind = rule?.[1] ?? (/^(?:exit 0|:|true|set .*)$/.test(line) ? undefined : "other");
    if (kind === undefined) continue;
    if (actions.some((a) => a.kind === kind)) continue;
    actions.push({ kind, detail: (prog === "<lua>" ? `<lua> ${line}` : line).slice(0, 120) });
  }
  return actions;
}

/** The scripts of one upgrade (`old` undefined: a new install), as a report. */
export function rpmScriptReport(
  name: string,
  newHeader: RpmHeader,
  old: RpmHeader | undefined,
  fromVersion: string,
  toVersion: string,
  obsoleted: readonly RpmHeader[] = [],
): ScriptReport {
  const findings: ScriptFinding[] = [];
  const script = (h: RpmHeader, s: (typeof SCRIPTS)[number], arg: number, label = s.name) => {
    const body = str(h.tags.get(s.body))[0] ?? "";
    const prog = str(h.tags.get(s.prog)).join(" ");
    if (body === "" && prog === "") return;
    findings.push({
      script: label,
      version: s.version,
      invocation: `${s.name} ${arg}${prog !== "" && prog !== "/bin/sh" ? ` (${prog})` : ""}`,
      actions: classifyScript(body, prog),
    });
  };
  for (const s of SCRIPTS) {
    const h = s.version === "new" ? newHeader : old;
    // $1: instances of the package left after the step (rpm's convention)
    if (h !== undefined) script(h, s, old === undefined ? 1 : s.version === "new" ? 2 : 1);
    // a package obsoleted by this one is erased: its %preun/%postun run with 0
    if (s.version === "old") for (const o of obsoleted) script(o, s, 0, `${s.name} of ${o.name}`);
  }
  for (const t of TRIGGERS) {
    const bodies = str(newHeader.tags.get(t.scripts));
    const names = [...new Set(str(newHeader.tags.get(t.names)))];
    if (bodies.length === 0) continue;
    const actions: ScriptAction[] = [
      { kind: "triggers", detail: `on ${names.join(", ")}`.slice(0, 120) },
      ...bodies.flatMap((b) => classifyScript(b, "")),
    ];
    findings.push({
      script: t.name,
      version: "new",
      invocation: `${t.name} on ${names.join(", ")}`.slice(0, 160),
      actions: dedupe(actions),
    });
  }
  return {
    package: name,
    fromVersion,
    toVersion,
    wouldHaveDoneSomething: findings.some((f) => f.actions.length > 0),
    findings,
    kinds: [...new Set(findings.flatMap((f) => f.actions.map((a) => a.kind)))],
  };
}

function dedupe(actions: ScriptAction[]): ScriptAction[] {
  return actions.filter((a, i) => actions.findIndex((b) => b.kind === a.kind) === i);
}
