import type { ScriptAction, ScriptActionKind } from "../../types.js";

export type { ScriptActionKind };

/**
 * A HEURISTIC reading of maintainer scripts: would running this script have
 * done more than nothing? ocipatch never runs scripts from the image; this
 * tells the user which upgraded packages had scripts with real effects
 * (ldconfig, alternatives, users, services, conffile migrations...), so they
 * can judge whether the patched image needs attention. It reads shell text
 * line by line; it does not evaluate conditions, so "would do something"
 * means "contains commands that may do something".
 */

interface ScriptClassification {
  /** True when the script holds commands beyond boilerplate (set -e, case/esac, exit 0, comments). */
  readonly effective: boolean;
  /** Notable actions, one per distinct kind+command, in script order. */
  readonly actions: ScriptAction[];
  readonly interpreter: string;
}

const RULES: Array<[ScriptActionKind, RegExp]> = [
  ["ldconfig", /\bldconfig\b/],
  ["alternatives", /\bupdate-alternatives\b/],
  ["systemd", /\b(deb-systemd-helper|deb-systemd-invoke|systemctl|systemd-tmpfiles|systemd-sysusers)\b/],
  [
    "services",
    /\b(invoke-rc\.d|update-rc\.d|service\s+\S+\s+(start|stop|restart|reload))\b|\/etc\/init\.d\//,
  ],
  ["users-groups", /\b(adduser|addgroup|useradd|groupadd|usermod|deluser|delgroup|userdel|groupdel)\b/],
  ["conffile-migration", /\bdpkg-maintscript-helper\b/],
  ["triggers", /\bdpkg-trigger\b/],
  ["ca-certificates", /\bupdate-ca-certificates\b/],
  ["statoverride", /\bdpkg-statoverride\b/],
  ["diversion", /\bdpkg-divert\b/],
  ["python-bytecode", /\b(py3compile|py3clean|pycompile|pyclean)\b/],
  [
    "caches",
    /\b(update-mime-database|update-desktop-database|gtk-update-icon-cache|update-icon-caches|fc-cache|mandb|install-info|update-info-dir|glib-compile-schemas|update-catalog|update-xmlcatalog)\b/,
  ],
  ["initramfs", /\bupdate-initramfs\b/],
  ["shells", /\b(add-shell|remove-shell)\b/],
  [
    "debconf",
    /\b(db_get|db_set|db_input|db_go|db_purge|db_stop|db_fset|db_fget|db_register|db_unregister|db_reset|db_subst|db_title|db_settitle|db_x_loadtemplatefile|db_capb|db_metaget|db_beginblock|db_endblock|db_clear|db_version)\b/,
  ],
  ["permissions", /^(chown|chmod|chgrp|setcap)\b/],
  ["file-changes", /^(rm|rmdir|ln|mkdir|touch|cp|mv|install|sed|cat\s*>|echo\s.*>\s*[^&\s])\b/],
];

/** Lines that do nothing by themselves. */
const NOOP: RegExp[] = [
  /^set(\s+[-+][a-z]+)*$/,
  /^(exit|return)(\s+0)?;?$/,
  /^(:|true)(\s*;)?$/,
  /^;;$/,
  /^esac(\s*;;)?$/,
  /^case\s.+\sin$/,
  /^[^()\s]+(\s*\|\s*[^()\s]+)*\)(\s*;;)?$/, // case labels: configure) / abort-upgrade|abort-remove) / *)
  /^(fi|then|else|do|done|\{|\}|esac)(\s*;;)?$/,
  /^echo\s.*>&2;?$/, // "called with unknown argument" messages
  /^exit\s+1;?$/,
  /^\.\s+\/usr\/share\/debconf\/confmodule$/, // sourcing the debconf library alone
  /^#DEBHELPER#$/,
];

function logicalLines(text: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (const raw of text.split("\n")) {
    let line = raw.trim();
    if (line.startsWith("#")) {
      if (line === "#DEBHELPER#") out.push(line);
      continue;
    }
    if (line.endsWith("\\")) {
      cur += `${line.slice(0, -1)} `;
      continue;
    }
    line = (cur + line).trim();
    cur = "";
    if (line !== "") out.push(line);
  }
  if (cur.trim() !== "") out.push(cur.trim());
  return out;
}

/** Classify one maintainer script (bytes as shipped in the .deb). */
export function classifyScript(script: Buffer | string | undefined): ScriptClassification {
  if (script === undefined) return { effective: false, actions: [], interpreter: "" };
  const text = typeof script === "string" ? script : script.toString("utf8");
  const shebang = /^#!\s*(\S+)/.exec(text)?.[1] ?? "/bin/sh";
  const interpreter = shebang.replace(/^.*\//, "");
  const lines = logicalLines(text);
  if (!/^(sh|bash|dash)$/.test(interpreter)) {
    const body = lines.filter((l) => !/^(use\s+(strict|warnings)|exit\s*0?);?$/.test(l));
    return {
      effective: body.length > 0,
      actions:
        body.length > 0 ? [{ kind: "other", detail: `${interpreter} script (${body.length} lines)` }] : [],
      interpreter,
    };
  }
  const actions: ScriptAction[] = [];
  const seen = new Set<string>();
  let effective = false;
  for (const line of lines) {
    if (NOOP.some((re) => re.test(line))) continue;
    effective = true;
    let kind: ScriptActionKind = "other";
    for (const [k, re] of RULES) {
      if (re.test(line)) {
        kind = k;
        break;
      }
    }
    const detail = line.length > 120 ? `${line.slice(0, 117)}...` : line;
    const key =
      kind === "other" || kind === "file-changes" || kind === "permissions" ? kind : `${kind} ${detail}`;
    if (seen.has(key)) continue;
    seen.add(key);
    actions.push({ kind, detail });
  }
  return { effective, actions, interpreter };
}
