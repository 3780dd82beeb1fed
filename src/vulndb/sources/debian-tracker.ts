import { createReadStream } from "node:fs";
import Assembler from "stream-json/assembler.js";
import { z } from "zod";
import { OcipatchError } from "../../errors.js";
import { debianNamespace } from "../namespace.js";
import { severityFromUrgency } from "../severity.js";
import type { AffectedRecord, AffectedStatus } from "../types.js";
import { comparatorFor } from "../versioning/index.js";
import { forEachJsonToken, type Token } from "./json-tokens.js";
import { type FeedDefinition, type FeedInput, type RecordSink, shorten } from "./types.js";

/**
 * The Debian Security Tracker's JSON export
 * (https://security-tracker.debian.org/tracker/data/json):
 * `{ <source package>: { <CVE or TEMP id>: { description?, scope?, debianbug?,
 *    releases: { <codename>: { status, fixed_version?, urgency, nodsa?, nodsa_reason?, repositories } } } } }`.
 */
const TRACKER_URL = "https://security-tracker.debian.org/tracker/data/json";

const releaseSchema = z.looseObject({
  status: z.string(),
  fixed_version: z.string().optional(),
  urgency: z.string().optional(),
  nodsa: z.string().optional(),
  nodsa_reason: z.string().optional(),
});

const entrySchema = z.looseObject({
  description: z.string().optional(),
  // The tracker writes `[]` for "no releases".
  releases: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown()).length(0)]),
});

const PACKAGE_RE = /^[a-z0-9][a-z0-9+.~_-]*$/i;
const RELEASE_RE = /^[a-z][a-z0-9-]*$/;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const debianVersions = comparatorFor("debian:sid");

/** Turn one tracker entry (package → id → entry) into records. Exported for tests. */
function trackerEntryRecords(pkg: string, id: string, entry: unknown, sink: RecordSink): void {
  if (!PACKAGE_RE.test(pkg)) {
    sink.skip(`invalid source package name "${pkg.slice(0, 60)}"`);
    return;
  }
  if (!ID_RE.test(id)) {
    sink.skip(`${pkg}: invalid vulnerability id "${id.slice(0, 60)}"`);
    return;
  }
  const parsed = entrySchema.safeParse(entry);
  if (!parsed.success) {
    sink.skip(`${pkg} ${id}: ${parsed.error.issues[0]?.message ?? "invalid entry"}`);
    return;
  }
  const releases = parsed.data.releases;
  if (Array.isArray(releases)) return;
  const title = shorten(parsed.data.description);
  for (const [release, value] of Object.entries(releases)) {
    const r = releaseSchema.safeParse(value);
    if (!RELEASE_RE.test(release) || !r.success) {
      sink.skip(
        `${pkg} ${id} ${release.slice(0, 30)}: ${r.success ? "invalid release name" : r.error.issues[0]?.message}`,
      );
      continue;
    }
    const { status, fixed_version: fixed, urgency, nodsa, nodsa_reason: nodsaReason } = r.data;
    const notes: string[] = [];
    if (nodsa !== undefined || nodsaReason !== undefined) {
      notes.push(`no DSA${nodsaReason ? ` (${nodsaReason})` : ""}${nodsa ? `: ${nodsa}` : ""}`);
    }
    const eol = urgency?.replace(/\*+$/, "") === "end-of-life";
    if (eol) notes.push(`${release}: end of life for this package`);
    let recStatus: AffectedStatus;
    let fixedVersion: string | undefined;
    switch (status) {
      case "resolved":
        if (fixed === undefined || fixed === "") {
          sink.skip(`${pkg} ${id} ${release}: resolved without fixed_version`);
          continue;
        }
        if (fixed === "0") {
          sink.notAffected();
          continue;
        }
        if (!debianVersions.isValid(fixed)) {
          sink.skip(`${pkg} ${id} ${release}: invalid fixed_version "${fixed.slice(0, 40)}"`);
          continue;
        }
        recStatus = "fixed";
        fixedVersion = fixed;
        break;
      case "open":
        recStatus = nodsaReason === "ignored" || eol ? "wont-fix" : "open";
        break;
      case "undetermined":
        recStatus = "undetermined";
        break;
      default:
        sink.skip(`${pkg} ${id} ${release}: unknown status "${status.slice(0, 30)}"`);
        continue;
    }
    const rec: AffectedRecord = {
      namespace: debianNamespace(release),
      package: pkg,
      vulnId: id,
      aliases: [],
      status: recStatus,
      fixed: fixedVersion,
      urgency,
      severity: severityFromUrgency(urgency),
      notes: notes.length > 0 ? notes.join("; ") : undefined,
      title,
    };
    sink.add(rec);
  }
}

/** Stream-parse a tracker JSON file: only one entry is in memory at a time. */
export async function parseTrackerJson(input: FeedInput, sink: RecordSink): Promise<void> {
  const what = `debian tracker JSON ${input.location}`;
  let depth = 0;
  let pkg: string | undefined;
  let id: string | undefined;
  let asm: Assembler | undefined;
  /** skipping a non-object package value: depth at which it started */
  let skipUntil = -1;
  const onToken = (t: Token): void => {
    if (asm) {
      asm.consume(t);
      if (asm.done) {
        const value = asm.current;
        asm = undefined;
        depth--;
        trackerEntryRecords(pkg ?? "", id ?? "", value, sink);
      }
      return;
    }
    if (skipUntil >= 0) {
      if (t.name === "startObject" || t.name === "startArray") depth++;
      else if (t.name === "endObject" || t.name === "endArray") {
        depth--;
        if (depth === skipUntil) skipUntil = -1;
      }
      return;
    }
    switch (t.name) {
      case "startObject":
      case "startArray":
        if (depth === 0 && t.name === "startArray") {
          throw new OcipatchError(
            "INVALID_FORMAT",
            `${what}: expected an object of source packages, found an array`,
          );
        }
        if (depth === 2) {
          asm = new Assembler();
          asm.consume(t);
          depth++;
          return;
        }
        if (depth === 1 && t.name === "startArray") {
          sink.skip(`${pkg}: package value is not an object`);
          skipUntil = depth;
          depth++;
          return;
        }
        depth++;
        return;
      case "endObject":
      case "endArray":
        depth--;
        return;
      case "keyValue":
        if (depth === 1) pkg = t.value;
        else if (depth === 2) id = t.value;
        return;
      case "stringValue":
      case "numberValue":
      case "nullValue":
      case "trueValue":
      case "falseValue":
        if (depth === 0)
          throw new OcipatchError("INVALID_FORMAT", `${what}: expected an object of source packages`);
        if (depth === 1) sink.skip(`${pkg}: package value is not an object`);
        else if (depth === 2) sink.skip(`${pkg} ${id}: entry is not an object`);
        return;
      default:
        return;
    }
  };
  await forEachJsonToken(createReadStream(input.path, { highWaterMark: 1 << 16 }), what, onToken);
}

export const debianTrackerFeed: FeedDefinition = {
  name: "debian",
  title: "Debian Security Tracker (JSON)",
  defaultLocations: [TRACKER_URL],
  defaultsMayBeMissing: false,
  enabledByDefault: true,
  parse: parseTrackerJson,
};
