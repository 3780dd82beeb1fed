import { Paragraph } from "../debian/deb822.js";
import { formatStatusConffiles, type StatusConffile } from "./conffiles.js";
import { formatDependencyField, formatVersion } from "./dependency-format.js";

/**
 * The fields dpkg knows, in the order it writes them to the status file
 * (lib/dpkg/parse.c `fieldinfos`). Fields it does not know ("arbitrary
 * fields": Homepage, Built-Using, Original-Maintainer...) follow, in the order
 * of the package's control file.
 */
const DPKG_STATUS_FIELD_ORDER = [
  "Package",
  "Essential",
  "Protected",
  "Status",
  "Priority",
  "Section",
  "Installed-Size",
  "Origin",
  "Maintainer",
  "Bugs",
  "Architecture",
  "Multi-Arch",
  "Source",
  "Version",
  "Config-Version",
  "Replaces",
  "Provides",
  "Depends",
  "Pre-Depends",
  "Recommends",
  "Suggests",
  "Breaks",
  "Conflicts",
  "Enhances",
  "Conffiles",
  "Description",
  "Triggers-Pending",
  "Triggers-Awaited",
] as const;

const DEPENDENCY_FIELDS = new Set(
  [
    "Replaces",
    "Provides",
    "Depends",
    "Pre-Depends",
    "Recommends",
    "Suggests",
    "Breaks",
    "Conflicts",
    "Enhances",
  ].map((f) => f.toLowerCase()),
);

/** Known to dpkg but never written for an installed package. */
const NOT_IN_STATUS = new Set(
  ["Filename", "Size", "MD5sum", "MSDOS-Filename", "Revision", "Config-Version", "Status", "Conffiles"].map(
    (f) => f.toLowerCase(),
  ),
);

/** dpkg's field-name aliases (parse.c `nicknames`). */
const NICKNAMES: Record<string, string> = {
  recommended: "Recommends",
  optional: "Suggests",
  class: "Priority",
  "package-revision": "Revision",
  package_revision: "Revision",
};

const KNOWN = new Map<string, string>(DPKG_STATUS_FIELD_ORDER.map((f) => [f.toLowerCase(), f]));
for (const f of ["Filename", "Size", "MD5sum", "MSDOS-Filename", "Revision"]) KNOWN.set(f.toLowerCase(), f);

interface StatusRecordInput {
  /** The package's current status record (undefined for a fresh install). */
  readonly old: Paragraph | undefined;
  /** The new version's control paragraph. */
  readonly control: Paragraph;
  /** The `Conffiles` entries to record (planConffiles().status). */
  readonly conffiles: readonly StatusConffile[];
}

/**
 * The status paragraph dpkg writes once the new version is unpacked and
 * configured: `Status: <want> ok installed` (a `hold` selection is kept),
 * fields of the new control file in dpkg's order and spelling, dependency
 * fields normalised, `Essential`/`Protected: no` and `Multi-Arch: no` dropped,
 * `Priority`/`Section` kept from the old record when the new control lacks
 * them, `Conffiles` as given, archive-only fields (Filename, Size, MD5sum) dropped.
 */
export function statusRecord(input: StatusRecordInput): Paragraph {
  const known = new Map<string, string>();
  const arbitrary: Array<[string, string]> = [];
  for (const [rawName, value] of input.control.fields) {
    const lower = rawName.toLowerCase();
    const canon = NICKNAMES[lower] ?? KNOWN.get(lower);
    if (canon === undefined) {
      arbitrary.push([rawName, value]);
      continue;
    }
    if (NOT_IN_STATUS.has(canon.toLowerCase())) continue;
    known.set(canon, value);
  }
  for (const f of ["Priority", "Section"]) {
    const oldValue = input.old?.get(f);
    if (!known.has(f) && oldValue) known.set(f, oldValue);
  }
  const oldWant = input.old?.get("Status")?.split(/\s+/)[0];
  const want = oldWant === "hold" ? "hold" : "install";
  known.set("Status", `${want} ok installed`);
  if (input.conffiles.length > 0) known.set("Conffiles", formatStatusConffiles(input.conffiles));

  const out = new Paragraph();
  for (const name of DPKG_STATUS_FIELD_ORDER) {
    let value = known.get(name);
    if (value === undefined) continue;
    if (name === "Essential" || name === "Protected") {
      if (value.toLowerCase() !== "yes") continue;
      value = "yes";
    } else if (name === "Multi-Arch") {
      value = value.toLowerCase();
      if (value === "no") continue;
    } else if (DEPENDENCY_FIELDS.has(name.toLowerCase())) {
      value = formatDependencyField(value);
      if (value === "") continue;
    } else if (name === "Version") {
      value = formatVersion(value);
    } else if (name === "Priority" || name === "Section") {
      if (value === "") continue;
    }
    out.set(name, value);
  }
  for (const [name, value] of arbitrary) out.set(name, value);
  return out;
}
