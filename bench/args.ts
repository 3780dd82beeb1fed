/** What the TypeScript benches share: `--runs N` and the median of the measurements. */

/** `--runs N` from the command line, else `dflt`. */
export function runsArg(dflt = 5): number {
  const i = process.argv.indexOf("--runs");
  return i === -1 ? dflt : Number(process.argv[i + 1]);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
