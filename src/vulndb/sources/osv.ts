import { z } from "zod";
import { OcipatchError } from "../../errors.js";
import { type EcosystemTarget, namespaceForEcosystem, schemeOf } from "../namespace.js";
import { cvss3BaseScore, parseSeverityName, severityFromScore } from "../severity.js";
import type { AffectedRecord, Severity } from "../types.js";
import { comparatorFor, type VersionComparator } from "../versioning/index.js";
import { jsonDocuments } from "./files.js";
import { type FeedDefinition, type FeedInput, type RecordSink, shorten } from "./types.js";

/**
 * OSV records (https://ossf.github.io/osv-schema/) of Linux distributions:
 * Debian (`Debian:11`), Ubuntu (`Ubuntu:22.04:LTS`, `Ubuntu:Pro:16.04:LTS`...),
 * Alpine (`Alpine:v3.21`) and the RPM distributions (`AlmaLinux:9`, `Rocky Linux:9`,
 * `Red Hat:enterprise_linux:9::baseos`, `openSUSE:Leap 15.5`, `SUSE:Linux Enterprise Server 15 SP5`). Input: one record, an array of records, a
 * directory of `*.json` records or an `all.zip` from the OSV bucket.
 */
const OSV_BUCKET = "https://osv-vulnerabilities.storage.googleapis.com";

const eventSchema = z.looseObject({
  introduced: z.string().optional(),
  fixed: z.string().optional(),
  last_affected: z.string().optional(),
  limit: z.string().optional(),
});
const severitySchema = z.looseObject({ type: z.string(), score: z.string() });
const affectedSchema = z.looseObject({
  package: z
    .looseObject({ ecosystem: z.string(), name: z.string().min(1), purl: z.string().optional() })
    .optional(),
  ranges: z.array(z.looseObject({ type: z.string(), events: z.array(eventSchema) })).optional(),
  versions: z.array(z.string()).optional(),
  severity: z.array(severitySchema).optional(),
  ecosystem_specific: z.record(z.string(), z.unknown()).optional(),
});
const osvSchema = z.looseObject({
  id: z.string().min(1),
  withdrawn: z.string().optional(),
  aliases: z.array(z.string()).nullish(),
  upstream: z.array(z.string()).nullish(),
  related: z.array(z.string()).nullish(),
  summary: z.string().optional(),
  details: z.string().optional(),
  severity: z.array(severitySchema).nullish(),
  affected: z.array(affectedSchema).nullish(),
});

const CVE_RE = /^CVE-\d{4}-\d+$/;

/** `UBUNTU-CVE-2021-3782`/`DEBIAN-CVE-...` → `CVE-2021-3782`; anything else unchanged. */
function cveOf(id: string): string {
  const m = /^(?:UBUNTU|DEBIAN|ALPINE)-(CVE-\d{4}-\d+)$/.exec(id);
  return m ? m[1]! : id;
}

/** Red Hat's advisory severity, which the RPM distributions put first in a summary ("Important: openssl security update"). */
const RPM_SUMMARY_SEVERITY = /^(Low|Moderate|Important|Critical):/;

function severityOf(
  list: ReadonlyArray<{ type: string; score: string }> | null | undefined,
  rpmSummary: string | undefined,
): {
  severity: Severity;
  priority: string | undefined;
} {
  const named = rpmSummary === undefined ? undefined : RPM_SUMMARY_SEVERITY.exec(rpmSummary)?.[1];
  if (named !== undefined) return { severity: parseSeverityName(named), priority: named };
  if (!list || list.length === 0) return { severity: "Unknown", priority: undefined };
  const distro = list.find((s) => s.type.toLowerCase() === "ubuntu");
  if (distro) return { severity: parseSeverityName(distro.score), priority: distro.score };
  for (const s of list) {
    if (s.type === "CVSS_V3") {
      const score = cvss3BaseScore(s.score);
      if (score !== undefined) return { severity: severityFromScore(score), priority: undefined };
    }
  }
  return { severity: "Unknown", priority: undefined };
}

interface Interval {
  introduced?: string | undefined;
  fixed?: string | undefined;
  lastAffected?: string | undefined;
}

/** OSV ECOSYSTEM range events → affected intervals (events sorted by version, per the OSV evaluation rules). */
function intervals(events: ReadonlyArray<z.infer<typeof eventSchema>>, cmp: VersionComparator): Interval[] {
  type Ev = { kind: "introduced" | "fixed" | "last_affected"; v: string };
  const evs: Ev[] = [];
  for (const e of events) {
    if (e.introduced !== undefined) evs.push({ kind: "introduced", v: e.introduced });
    if (e.fixed !== undefined) evs.push({ kind: "fixed", v: e.fixed });
    if (e.last_affected !== undefined) evs.push({ kind: "last_affected", v: e.last_affected });
  }
  for (const e of evs) {
    if (!(e.kind === "introduced" && e.v === "0") && !cmp.isValid(e.v)) {
      throw new Error(`invalid version "${e.v.slice(0, 40)}" in range`);
    }
  }
  const key = (e: Ev): number => (e.kind === "introduced" && e.v === "0" ? -1 : 0);
  evs.sort((a, b) => key(a) - key(b) || (key(a) === -1 ? 0 : cmp.compare(a.v, b.v)));
  const out: Interval[] = [];
  let open: Interval | undefined;
  for (const e of evs) {
    if (e.kind === "introduced") {
      if (!open) open = { introduced: e.v === "0" ? undefined : e.v };
    } else if (open) {
      if (e.kind === "fixed") open.fixed = e.v;
      else open.lastAffected = e.v;
      out.push(open);
      open = undefined;
    }
  }
  if (open) out.push(open);
  return out;
}

/** Convert one OSV record into records; exported for tests. */
export function osvRecords(doc: unknown, sink: RecordSink, name = "record"): void {
  const parsed = osvSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    sink.skip(`${name}: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "invalid OSV record"}`);
    return;
  }
  const rec = parsed.data;
  if (rec.withdrawn) return;
  const primary = cveOf(rec.id);
  const linked = [...(rec.aliases ?? []), ...(rec.upstream ?? [])].map(cveOf);
  let cves = [...new Set(linked.filter((a) => CVE_RE.test(a) && a !== primary))];
  // AlmaLinux's advisories (ALSA) name the CVEs they fix only in `related`
  if (cves.length === 0 && !CVE_RE.test(primary))
    cves = [...new Set((rec.related ?? []).filter((a) => CVE_RE.test(a)))];
  const others = [...new Set([rec.id, ...linked, ...(rec.related ?? [])])];
  /**
   * One record per vulnerability: a CVE record (or UBUNTU-CVE-...) is that CVE; an advisory
   * (DSA/DLA/USN, ALSA/RLSA/RHSA...) is expanded into one record per CVE it fixes, with the
   * advisory as alias, so that data from several feeds merges on the CVE.
   */
  const ids: Array<{ id: string; aliases: string[] }> =
    CVE_RE.test(primary) || cves.length === 0
      ? [{ id: primary, aliases: others.filter((a) => a !== primary) }]
      : cves.map((c) => ({ id: c, aliases: others.filter((a) => a !== c) }));
  const title = shorten(rec.summary ?? rec.details);
  for (const aff of rec.affected ?? []) {
    if (!aff.package) continue;
    const target: EcosystemTarget | undefined = namespaceForEcosystem(aff.package.ecosystem);
    if (!target) continue; // another ecosystem (PyPI, npm...) or an unknown release
    const cmp = comparatorFor(target.namespace);
    const { severity, priority } = severityOf(
      aff.severity ?? rec.severity,
      schemeOf(target.namespace) === "rpm" ? rec.summary : undefined,
    );
    const availability = aff.ecosystem_specific?.["availability"];
    const notes: string[] = [];
    if (target.channel) {
      notes.push(
        typeof availability === "string" && availability !== "No subscription required"
          ? availability
          : `${target.channel} channel, not in the public archive`,
      );
    }
    const spans: Interval[] = [];
    try {
      for (const r of aff.ranges ?? []) {
        if (r.type !== "ECOSYSTEM") continue;
        spans.push(...intervals(r.events, cmp));
      }
    } catch (e) {
      sink.skip(`${name} ${aff.package.name}: ${(e as Error).message}`);
      continue;
    }
    const exact =
      spans.length === 0 && aff.versions && aff.versions.length > 0
        ? aff.versions.filter((v) => cmp.isValid(v))
        : [];
    if (spans.length === 0 && exact.length === 0) {
      sink.skip(`${name} ${aff.package.name}: no ECOSYSTEM range or valid versions`);
      continue;
    }
    for (const { id, aliases } of ids) {
      const base = {
        namespace: target.namespace,
        package: aff.package.name,
        vulnId: id,
        aliases,
        urgency: priority,
        severity,
        channel: target.channel,
        notes: notes.length > 0 ? notes.join("; ") : undefined,
        title,
      };
      if (exact.length > 0) {
        sink.add({ ...base, status: "exact", versions: exact } satisfies AffectedRecord);
        continue;
      }
      for (const s of spans) {
        sink.add({
          ...base,
          status: s.fixed !== undefined ? "fixed" : s.lastAffected !== undefined ? "last-affected" : "open",
          introduced: s.introduced,
          fixed: s.fixed,
          lastAffected: s.lastAffected,
        } satisfies AffectedRecord);
      }
    }
  }
}

/** Parse an OSV input (zip, directory, single record or array of records). */
export async function parseOsv(input: FeedInput, sink: RecordSink): Promise<void> {
  const what = `OSV ${input.location}`;
  let documents = 0;
  for await (const doc of jsonDocuments(input.path, what)) {
    documents++;
    if (doc.error !== undefined) {
      sink.skip(`${doc.name}: not JSON (${doc.error.slice(0, 80)})`);
      continue;
    }
    if (Array.isArray(doc.value)) {
      for (const [i, v] of doc.value.entries()) osvRecords(v, sink, `${doc.name}[${i}]`);
    } else {
      osvRecords(doc.value, sink, doc.name);
    }
  }
  if (documents === 0) throw new OcipatchError("INVALID_FORMAT", `${what}: no JSON records found`);
}

export const ubuntuOsvFeed: FeedDefinition = {
  name: "ubuntu",
  title: "Ubuntu security notices (OSV)",
  defaultLocations: [`${OSV_BUCKET}/Ubuntu/all.zip`],
  defaultsMayBeMissing: false,
  enabledByDefault: true,
  parse: parseOsv,
};

/**
 * OSV records of any supported ecosystem. By default the RPM distributions' (they have no other
 * feed here); Debian's and Alpine's OSV exports can be given as locations, their native feeds
 * (`debian`, `alpine`) are the defaults for them.
 */
export const osvFeed: FeedDefinition = {
  name: "osv",
  title: "OSV records (any Debian/Ubuntu/Alpine/AlmaLinux/Rocky Linux/Red Hat/SUSE ecosystem)",
  defaultLocations: [`${OSV_BUCKET}/AlmaLinux/all.zip`, `${OSV_BUCKET}/Rocky%20Linux/all.zip`],
  defaultsMayBeMissing: false,
  enabledByDefault: true,
  parse: parseOsv,
};
