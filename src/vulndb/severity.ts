import { SEVERITIES, type Severity } from "./types.js";

/**
 * Debian security tracker urgency → severity. The tracker marks urgencies that
 * were not set by the security team with a trailing `**` (e.g. `low**`): the
 * value still applies. `unimportant` and `end-of-life` are kept as Negligible,
 * as grype does; `not yet assigned` is Unknown.
 */
export function severityFromUrgency(urgency: string | undefined): Severity {
  if (urgency === undefined) return "Unknown";
  const u = urgency.replace(/\*+$/, "").trim().toLowerCase();
  switch (u) {
    case "unimportant":
    case "end-of-life":
    case "negligible":
      return "Negligible";
    case "low":
      return "Low";
    case "medium":
      return "Medium";
    case "high":
      return "High";
    case "critical":
      return "Critical";
    default:
      return "Unknown";
  }
}

/** Any spelling of a severity name (`HIGH`, `high`, `Negligible`, `moderate`...) → Severity. */
export function parseSeverityName(s: string | undefined | null): Severity {
  if (!s) return "Unknown";
  const v = s.trim().toLowerCase();
  if (v === "moderate" || v === "important") return v === "moderate" ? "Medium" : "High";
  if (v === "none") return "Negligible";
  for (const sev of SEVERITIES) if (sev.toLowerCase() === v) return sev;
  return severityFromUrgency(v);
}

/** Index in SEVERITIES: lower is more severe. */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** The more severe of two severities; a known severity beats Unknown. */
export function worseSeverity(a: Severity, b: Severity): Severity {
  return severityRank(a) <= severityRank(b) ? a : b;
}

const V3_WEIGHTS: Record<string, Record<string, number>> = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  UI: { N: 0.85, R: 0.62 },
  C: { H: 0.56, L: 0.22, N: 0 },
  I: { H: 0.56, L: 0.22, N: 0 },
  A: { H: 0.56, L: 0.22, N: 0 },
};

function roundUp1(x: number): number {
  const i = Math.round(x * 100000);
  return i % 10000 === 0 ? i / 100000 : (Math.floor(i / 10000) + 1) / 10;
}

/**
 * CVSS v3.0/v3.1 base score of a vector (`CVSS:3.1/AV:N/AC:L/...`), per the FIRST
 * specification; undefined when the vector is not a complete v3 base vector.
 */
export function cvss3BaseScore(vector: string): number | undefined {
  const parts = vector.trim().split("/");
  if (!/^CVSS:3\.[01]$/.test(parts[0] ?? "")) return undefined;
  const m = new Map<string, string>();
  for (const p of parts.slice(1)) {
    const [k, v] = p.split(":");
    if (k && v) m.set(k, v);
  }
  const scope = m.get("S");
  if (scope !== "U" && scope !== "C") return undefined;
  const w = (k: string): number | undefined => V3_WEIGHTS[k]?.[m.get(k) ?? ""];
  const pr = m.get("PR");
  const prW =
    pr === "N"
      ? 0.85
      : pr === "L"
        ? scope === "C"
          ? 0.68
          : 0.62
        : pr === "H"
          ? scope === "C"
            ? 0.5
            : 0.27
          : undefined;
  const av = w("AV");
  const ac = w("AC");
  const ui = w("UI");
  const c = w("C");
  const i = w("I");
  const a = w("A");
  if (av === undefined || ac === undefined || ui === undefined || prW === undefined) return undefined;
  if (c === undefined || i === undefined || a === undefined) return undefined;
  const iss = 1 - (1 - c) * (1 - i) * (1 - a);
  const impact = scope === "U" ? 6.42 * iss : 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15;
  const exploitability = 8.22 * av * ac * prW * ui;
  if (impact <= 0) return 0;
  const raw = scope === "U" ? impact + exploitability : 1.08 * (impact + exploitability);
  return roundUp1(Math.min(raw, 10));
}

/** CVSS qualitative rating of a base score (None is reported as Negligible). */
export function severityFromScore(score: number): Severity {
  if (score >= 9) return "Critical";
  if (score >= 7) return "High";
  if (score >= 4) return "Medium";
  if (score >= 0.1) return "Low";
  return "Negligible";
}
