import type { SbomDocument } from "./model.js";

/** ocipatch's own JSON: subject, OS, package manager and every package with its purl. */
export function toSbomJson(doc: SbomDocument): string {
  const out = {
    image: {
      name: doc.subject.name,
      digest: doc.subject.digest ?? null,
      platform: doc.subject.platform ?? null,
    },
    os: {
      id: doc.os.id,
      idLike: doc.os.idLike,
      versionId: doc.os.versionId ?? null,
      codename: doc.os.codename ?? null,
      prettyName: doc.os.prettyName ?? null,
      family: doc.os.family,
      source: doc.os.source || null,
    },
    packageManager: doc.packageManager,
    distroless: doc.distroless,
    packages: doc.packages.map((p) => ({
      name: p.name,
      version: p.version,
      sourceName: p.sourceName,
      sourceVersion: p.sourceVersion,
      architecture: p.architecture,
      properties: p.properties,
      purl: p.purl,
    })),
    warnings: doc.warnings,
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}
