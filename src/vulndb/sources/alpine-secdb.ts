import { z } from "zod";
import { OcipatchError } from "../../errors.js";
import { alpineNamespace } from "../namespace.js";
import { comparatorFor } from "../versioning/index.js";
import { jsonDocuments } from "./files.js";
import type { FeedDefinition, FeedInput, RecordSink } from "./types.js";

/** Alpine secdb versions are apk versions (any alpine namespace). */
const alpineVersions = comparatorFor("alpine:edge");

/**
 * Alpine secdb (https://secdb.alpinelinux.org/<release>/<repo>.json):
 * `{ distroversion: "v3.21", reponame, packages: [{ pkg: { name, secfixes: { "<fixed version>": ["CVE-..."] } } }] }`.
 * Also accepted: one package per file (`{ name, secfixes, distroversion }`, as in aquasecurity/vuln-list),
 * and a directory of either. The secfix version `0` means "never affected".
 */
const SECDB_BASE = "https://secdb.alpinelinux.org";

/** Releases whose secdb the default configuration fetches (missing ones are skipped). */
const DEFAULT_ALPINE_RELEASES = ["v3.18", "v3.19", "v3.20", "v3.21", "v3.22", "v3.23", "v3.24", "edge"];

const secfixesSchema = z.record(z.string(), z.array(z.string()).nullable());
const pkgSchema = z.looseObject({ name: z.string().min(1), secfixes: secfixesSchema.nullish() });
const secdbSchema = z.looseObject({
  distroversion: z.string().optional(),
  reponame: z.string().optional(),
  packages: z.array(z.unknown()),
});
const singleSchema = pkgSchema.extend({ distroversion: z.string().optional() });

const ID_RE = /^[A-Z][A-Z0-9]*-[A-Za-z0-9._:-]+$/;

function addPackage(
  namespace: string,
  name: string,
  secfixes: z.infer<typeof secfixesSchema> | null | undefined,
  sink: RecordSink,
  where: string,
): void {
  for (const [version, ids] of Object.entries(secfixes ?? {})) {
    const v = version.trim();
    const vulnIds = (ids ?? []).flatMap((s) =>
      s
        .split(/\s+/)
        .map((t) => t.replace(/[,;]$/, ""))
        .filter((t) => ID_RE.test(t)),
    );
    if (vulnIds.length === 0) {
      sink.skip(`${where} ${name} ${v}: no vulnerability ids`);
      continue;
    }
    if (v === "0") {
      for (const _ of vulnIds) sink.notAffected();
      continue;
    }
    if (!alpineVersions.isValid(v)) {
      sink.skip(`${where} ${name}: invalid version "${v.slice(0, 40)}"`);
      continue;
    }
    for (const id of new Set(vulnIds)) {
      sink.add({
        namespace,
        package: name,
        vulnId: id,
        aliases: [],
        status: "fixed",
        fixed: v,
        severity: "Unknown",
      });
    }
  }
}

/**
 * Convert one secdb document (whole repo or single package); exported for tests. `namespace`: the
 * namespace of every record (Wolfi's feed, which has no `distroversion`); by default the Alpine
 * release named by the document's `distroversion`.
 */
function secdbRecords(doc: unknown, sink: RecordSink, name = "secdb", namespace?: string): void {
  const nsOf = (distroversion: string | undefined) =>
    namespace ?? (distroversion ? alpineNamespace(distroversion) : undefined);
  const whole = secdbSchema.safeParse(doc);
  if (whole.success) {
    const ns = nsOf(whole.data.distroversion);
    if (!ns) {
      sink.skip(`${name}: unknown or missing distroversion "${whole.data.distroversion ?? ""}"`);
      return;
    }
    for (const [i, p] of whole.data.packages.entries()) {
      const pkg = z.looseObject({ pkg: pkgSchema }).safeParse(p);
      if (!pkg.success) {
        sink.skip(`${name} packages[${i}]: ${pkg.error.issues[0]?.message ?? "invalid package"}`);
        continue;
      }
      addPackage(ns, pkg.data.pkg.name, pkg.data.pkg.secfixes, sink, name);
    }
    return;
  }
  const single = singleSchema.safeParse(doc);
  if (single.success) {
    const ns = nsOf(single.data.distroversion);
    if (!ns) {
      sink.skip(`${name}: unknown or missing distroversion "${single.data.distroversion ?? ""}"`);
      return;
    }
    addPackage(ns, single.data.name, single.data.secfixes, sink, name);
    return;
  }
  sink.skip(`${name}: not an Alpine secdb document`);
}

export async function parseSecdb(
  input: FeedInput,
  sink: RecordSink,
  opts: { readonly title?: string; readonly namespace?: string } = {},
): Promise<void> {
  const what = `${opts.title ?? "Alpine secdb"} ${input.location}`;
  let documents = 0;
  for await (const doc of jsonDocuments(input.path, what)) {
    documents++;
    if (doc.error !== undefined) {
      sink.skip(`${doc.name}: not JSON (${doc.error.slice(0, 80)})`);
      continue;
    }
    secdbRecords(doc.value, sink, doc.name, opts.namespace);
  }
  if (documents === 0) throw new OcipatchError("INVALID_FORMAT", `${what}: no JSON documents found`);
}

export const alpineSecdbFeed: FeedDefinition = {
  name: "alpine",
  title: "Alpine secdb",
  defaultLocations: DEFAULT_ALPINE_RELEASES.flatMap((r) => [
    `${SECDB_BASE}/${r}/main.json`,
    `${SECDB_BASE}/${r}/community.json`,
  ]),
  defaultsMayBeMissing: true,
  enabledByDefault: true,
  parse: (input, sink) => parseSecdb(input, sink),
};
