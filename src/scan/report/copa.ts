import { z } from "zod";
import { OcipatchError } from "../../errors.js";
import { FindingSet, newCounts } from "./common.js";
import type { ImportedReport } from "./grype.js";

/**
 * Copacetic's scanner-plugin update manifest: what a `copa-<scanner>` plugin prints and
 * `copa patch -r` reads. `v1alpha1` lists OS package updates under `updates`;
 * `v1alpha2` splits them into `osupdates` and `langupdates` (application packages, which
 * ocipatch skips). Versions are BINARY package versions, as the scanner reported them.
 *
 *     {"apiVersion":"v1alpha1",
 *      "metadata":{"os":{"type":"debian","version":"11.6"},"config":{"arch":"amd64"}},
 *      "updates":[{"name":"openssl","installedVersion":"1.1.1n-0+deb11u3",
 *                  "fixedVersion":"1.1.1n-0+deb11u4","vulnerabilityID":"CVE-2023-0286"}]}
 */
const COPA_API_VERSIONS = ["v1alpha1", "v1alpha2"] as const;

const updateSchema = z.looseObject({
  name: z.string().min(1),
  installedVersion: z.string().min(1),
  fixedVersion: z.string().nullish(),
  vulnerabilityID: z.string().min(1),
});

const metadataSchema = z.looseObject({
  os: z.looseObject({ type: z.string().min(1), version: z.string().nullish() }),
  config: z.looseObject({ arch: z.string().min(1), variant: z.string().nullish() }),
});

const copaManifestSchema = z.looseObject({
  apiVersion: z.enum(COPA_API_VERSIONS),
  metadata: metadataSchema,
  updates: z.array(z.unknown()).nullish(),
  osupdates: z.array(z.unknown()).nullish(),
  langupdates: z.array(z.unknown()).nullish(),
});

export function looksLikeCopa(doc: unknown): boolean {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return false;
  const d = doc as Record<string, unknown>;
  return typeof d["apiVersion"] === "string" && /^v1alpha\d+$/.test(d["apiVersion"]) && "metadata" in d;
}

/** `linux/<arch>[/<variant>]` of the manifest's `config`. */
function platformOf(config: z.infer<typeof metadataSchema>["config"]): string {
  return `linux/${config.arch}${config.variant ? `/${config.variant}` : ""}`;
}

export function importCopa(doc: unknown, path: string): ImportedReport {
  const parsed = copaManifestSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${path}: invalid report: not a copa update manifest${where}: ${issue?.message ?? "invalid"}`,
    );
  }
  const m = parsed.data;
  const counts = newCounts();
  const set = new FindingSet(counts);
  const os = m.apiVersion === "v1alpha1" ? (m.updates ?? []) : (m.osupdates ?? []);
  const lang = m.apiVersion === "v1alpha1" ? [] : (m.langupdates ?? []);
  counts.entries = os.length + lang.length;
  counts.nonOs = lang.length;
  let missingFix = 0;
  for (const raw of os) {
    const u = updateSchema.safeParse(raw);
    if (!u.success) {
      counts.invalid++;
      continue;
    }
    const { name, installedVersion, vulnerabilityID } = u.data;
    const fixedVersion = u.data.fixedVersion?.trim() || undefined;
    if (!fixedVersion) missingFix++;
    set.add({
      id: vulnerabilityID,
      aliases: [],
      package: name,
      installedVersion,
      fixedVersion,
      fixState: fixedVersion ? "fixed" : "unknown",
      severity: "Unknown",
      // the manifest names binary packages only; the planner maps them to their sources
      sourceName: name,
      sourceVersion: installedVersion,
      // the manifest gives the image's architecture, not each package's (some are "all")
      architecture: "",
      dataSource: "copa",
      notes: fixedVersion ? undefined : "update manifest entry without a fixed version",
    });
  }
  const warnings: string[] = [];
  if (counts.nonOs > 0) {
    warnings.push(
      `skipped ${counts.nonOs} application package update(s) (langupdates): ocipatch fixes OS packages only`,
    );
  }
  if (counts.invalid > 0) warnings.push(`skipped ${counts.invalid} invalid update(s) in ${path}`);
  if (missingFix > 0) warnings.push(`${missingFix} update(s) in ${path} have no fixed version`);
  return {
    findings: set.findings,
    counts,
    os: {
      id: m.metadata.os.type.toLowerCase(),
      versionId: m.metadata.os.version ?? undefined,
      codename: undefined,
      prettyName: undefined,
    },
    target: {
      type: "report",
      platform: platformOf(m.metadata.config),
      report: { path, format: "copa", scanner: `copa-${m.apiVersion}` },
    },
    warnings,
  };
}
