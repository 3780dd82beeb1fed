import { isOcipatchError } from "../errors.js";

/**
 * The library names options by their API name (`details.option` of an OcipatchError); the CLI
 * names them by flag. Options without a flag here are shown by their API name.
 */
const FLAGS: Readonly<Record<string, string>> = {
  ignoreErrors: "--ignore-errors",
  suites: "--suites",
  platforms: "--platform",
  platform: "--platform",
  timeout: "--timeout",
  tag: "--tag",
  dest: "--dest",
  push: "--push",
  outputMode: "--output-mode",
  outputPath: "--output-path",
  compression: "--compression",
  report: "--vuln-report",
  vulnReport: "--vuln-report",
  mirror: "--mirror",
  securityMirror: "--security-mirror",
  keyrings: "--keyring",
  repositories: "--repository",
  dbDir: "--db-dir",
  sources: "--source",
  insecure: "--insecure",
  format: "--format",
  severityThreshold: "--severity-threshold",
  username: "--username",
  password: "--password",
  config: "--config",
  shard: "--shard",
  jobs: "--jobs",
};

function flagFor(option: string): string {
  return FLAGS[option] ?? option;
}

/** The flags an error's `details.option` (a name or a list) points at, e.g. `["--ignore-errors"]`. */
export function flagsOf(e: unknown): string[] {
  if (!isOcipatchError(e)) return [];
  const o = e.details?.["option"];
  const names = typeof o === "string" ? [o] : Array.isArray(o) ? o.filter((x) => typeof x === "string") : [];
  return names.map(flagFor);
}
