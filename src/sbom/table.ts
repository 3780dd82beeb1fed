import type { SbomDocument } from "./model.js";

/** A plain-text table for terminals: a header about the image and OS, then one row per package. */
export function toSbomTable(doc: SbomDocument): string {
  const os = doc.os;
  const osLine =
    os.id === "unknown"
      ? "unknown"
      : `${os.prettyName ?? os.id} (${[os.id, os.versionId, os.codename].filter(Boolean).join(" ")})`;
  const lines = [
    `Image:    ${doc.subject.name}${doc.subject.digest ? `@${doc.subject.digest}` : ""}${doc.subject.platform ? ` (${doc.subject.platform})` : ""}`,
    `OS:       ${osLine}`,
    `Packages: ${doc.packages.length} (${doc.packageManager}${doc.distroless ? ", distroless: no package manager program" : ""})`,
    "",
  ];
  const header = ["NAME", "VERSION", "SOURCE", "SOURCE VERSION", "ARCH", "PURL"];
  const rows = doc.packages.map((p) => [
    p.name,
    p.version,
    p.sourceName,
    p.sourceVersion,
    p.architecture,
    p.purl,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  lines.push(fmt(header), ...rows.map(fmt));
  return `${lines.join("\n")}\n`;
}
