import { z } from "zod";
import {
  EFFECT_STATUSES,
  type KeptConffile,
  type PatchedPackage,
  type ScriptEffect,
  type ScriptReport,
} from "../backends/types.js";
import { OcipatchError } from "../errors.js";
import type { ScanResult } from "../scan/types.js";
import { VERSION } from "../version.js";
import { fixedVulnerabilities } from "./fixed.js";
import { formatScriptReport } from "./scripts.js";

/**
 * The JSON summary of one patch run (docs/patch-report.md): which image became which,
 * what was upgraded and why, the vulnerability counts before and after, and what the
 * user should know (conffiles kept, maintainer scripts not run, warnings).
 */
export const PATCH_REPORT_SCHEMA_VERSION = "1.0";

const imageSchema = z.strictObject({ reference: z.string().min(1), digest: z.string().nullable() });
const countsSchema = z.strictObject({
  total: z.number().int().nonnegative(),
  fixable: z.number().int().nonnegative(),
});

export const patchReportSchema = z.strictObject({
  schemaVersion: z.literal(PATCH_REPORT_SCHEMA_VERSION),
  tool: z.strictObject({ name: z.literal("ocipatch"), version: z.string() }),
  createdAt: z.iso.datetime(),
  /** patched: a new image was written; nothing-to-patch: no update was needed; dry-run: planned only. */
  status: z.enum(["patched", "nothing-to-patch", "dry-run"]),
  image: z.strictObject({ before: imageSchema, after: imageSchema.nullable() }),
  platform: z.string().nullable(),
  packages: z.array(
    z.strictObject({
      package: z.string().min(1),
      architecture: z.string(),
      /** null: newly installed (a dependency of an upgrade). */
      fromVersion: z.string().nullable(),
      toVersion: z.string().min(1),
      /** Vulnerabilities of this package the upgrade fixed (fixable ones when there is no re-scan). */
      vulnerabilities: z.array(z.string()),
    }),
  ),
  vulnerabilities: z.strictObject({
    before: countsSchema,
    after: countsSchema.nullable(),
    /** Ids fixable before and not reported after (empty without a re-scan). */
    fixed: z.array(z.string()),
  }),
  keptConffiles: z.array(z.strictObject({ package: z.string(), path: z.string() })),
  maintainerScripts: z.array(
    z.strictObject({
      package: z.string(),
      fromVersion: z.string(),
      toVersion: z.string(),
      wouldHaveDoneSomething: z.boolean(),
      kinds: z.array(z.string()),
      summary: z.string(),
    }),
  ),
  /** What ocipatch did about the skipped scripts' effects it knows (update-ca-certificates, ldconfig). */
  maintainerEffects: z
    .array(
      z.strictObject({
        package: z.string(),
        effect: z.string(),
        status: z.enum(EFFECT_STATUSES),
        detail: z.string(),
      }),
    )
    .default([]),
  /** Bytes fetched (mirror metadata and .debs) and needed (the planned .debs' sizes). */
  download: z
    .strictObject({
      bytes: z.number().int().nonnegative(),
      indexBytes: z.number().int().nonnegative(),
      packageBytes: z.number().int().nonnegative(),
      neededBytes: z.number().int().nonnegative(),
      fromCache: z.number().int().nonnegative(),
      files: z.number().int().nonnegative(),
    })
    .optional(),
  /** Packages not upgraded and why (kept back, unresolvable, vanished from the mirror). */
  notUpgraded: z
    .array(
      z.strictObject({
        package: z.string(),
        installedVersion: z.string().nullable(),
        reason: z.string(),
      }),
    )
    .optional(),
  warnings: z.array(z.string()),
});

export type PatchReport = z.infer<typeof patchReportSchema>;

export interface ImageIdentity {
  readonly reference: string;
  readonly digest?: string | undefined;
}

export interface PatchReportInput {
  readonly before: ScanResult;
  /** The re-scan of the patched image (absent for a dry run). */
  readonly after?: ScanResult | undefined;
  readonly image: ImageIdentity;
  /** The image written (absent for a dry run or when there was nothing to patch). */
  readonly patchedImage?: ImageIdentity | undefined;
  readonly platform?: string | undefined;
  readonly packages: readonly PatchedPackage[];
  readonly keptConffiles?: readonly KeptConffile[] | undefined;
  readonly maintainerScripts?: readonly ScriptReport[] | undefined;
  readonly maintainerEffects?: readonly ScriptEffect[] | undefined;
  readonly warnings?: readonly string[] | undefined;
  readonly dryRun?: boolean | undefined;
  readonly createdAt?: Date | undefined;
  readonly download?: PatchReport["download"];
  readonly notUpgraded?: PatchReport["notUpgraded"];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Build (and validate) the report of a patch run. Lists are sorted. */
export function buildPatchReport(input: PatchReportInput): PatchReport {
  const fixed = input.after ? fixedVulnerabilities(input.before, input.after) : [];
  const fixedIds = new Set(fixed.map((v) => v.id));
  const idsOf = (p: PatchedPackage): string[] => {
    const ids = input.before.findings
      .filter((f) => f.package === p.package && (f.architecture === "" || f.architecture === p.architecture))
      .filter((f) => (input.after ? fixedIds.has(f.id) : f.fixState === "fixed"))
      .map((f) => f.id);
    return [...new Set(ids)].sort(cmp);
  };
  const status = input.dryRun ? "dry-run" : input.packages.length === 0 ? "nothing-to-patch" : "patched";
  const report: PatchReport = {
    schemaVersion: PATCH_REPORT_SCHEMA_VERSION,
    tool: { name: "ocipatch", version: VERSION },
    createdAt: (input.createdAt ?? new Date()).toISOString(),
    status,
    image: {
      before: { reference: input.image.reference, digest: input.image.digest ?? null },
      after: input.patchedImage
        ? { reference: input.patchedImage.reference, digest: input.patchedImage.digest ?? null }
        : null,
    },
    platform: input.platform ?? null,
    packages: [...input.packages]
      .sort((a, b) => cmp(a.package, b.package) || cmp(a.architecture, b.architecture))
      .map((p) => ({
        package: p.package,
        architecture: p.architecture,
        fromVersion: p.fromVersion ?? null,
        toVersion: p.toVersion,
        vulnerabilities: idsOf(p),
      })),
    vulnerabilities: {
      before: { total: input.before.summary.total, fixable: input.before.summary.fixable },
      after: input.after ? { total: input.after.summary.total, fixable: input.after.summary.fixable } : null,
      fixed: [...fixedIds].sort(cmp),
    },
    keptConffiles: [...(input.keptConffiles ?? [])]
      .sort((a, b) => cmp(a.package, b.package) || cmp(a.path, b.path))
      .map((k) => ({ package: k.package, path: k.path })),
    maintainerScripts: [...(input.maintainerScripts ?? [])]
      .sort((a, b) => cmp(a.package, b.package))
      .map((s) => ({
        package: s.package,
        fromVersion: s.fromVersion,
        toVersion: s.toVersion,
        wouldHaveDoneSomething: s.wouldHaveDoneSomething,
        kinds: [...s.kinds].sort(cmp),
        summary: formatScriptReport(s),
      })),
    maintainerEffects: [...(input.maintainerEffects ?? [])]
      .sort((a, b) => cmp(a.package, b.package) || cmp(a.effect, b.effect))
      .map((e) => ({ package: e.package, effect: e.effect, status: e.status, detail: e.detail })),
    ...(input.download ? { download: input.download } : {}),
    ...(input.notUpgraded ? { notUpgraded: [...input.notUpgraded] } : {}),
    warnings: [...(input.warnings ?? [])],
  };
  return parsePatchReport(report, "the generated patch report");
}

/** Validate a patch report document (e.g. read back from disk). */
export function parsePatchReport(doc: unknown, what = "patch report"): PatchReport {
  const r = patchReportSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
    throw new OcipatchError("INVALID_FORMAT", `${what} is not valid${where}: ${issue?.message ?? "invalid"}`);
  }
  return r.data;
}

export function formatPatchReport(r: PatchReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}
