import { OcipatchError } from "../errors.js";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parse a Go-style duration as kubescape/copa accept them (`5m`, `1h30m`, `90s`,
 * `250ms`, `1.5h`). A bare number means seconds.
 */
export function parseDuration(s: string): number {
  const t = s.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number.parseFloat(t) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null = re.exec(t);
  while (m !== null) {
    total += Number.parseFloat(m[1]!) * UNIT_MS[m[2]!]!;
    pos = re.lastIndex;
    m = re.exec(t);
  }
  if (t === "" || pos !== t.length) {
    throw new OcipatchError("USAGE", `invalid duration "${s}" (examples: 5m, 90s, 1h30m)`);
  }
  return Math.round(total);
}

/**
 * The longest deadline accepted (576h = 24 days): timers hold at most 2^31-1 ms (~596h),
 * and a longer deadline would fire at once.
 */
export const MAX_TIMEOUT_MS = 576 * 3_600_000;

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${Math.round(s - m * 60)}s`;
}
