import { randomUUID } from "node:crypto";
import { Enums, Models, Serialize, Spec } from "@cyclonedx/cyclonedx-library";
import { VERSION } from "../version.js";
import type { SbomDocument } from "./model.js";

export type CycloneDxVersion = "1.5" | "1.6";

export interface CycloneDxOptions {
  readonly specVersion?: CycloneDxVersion;
  /** Fixed values for reproducible output (tests). */
  readonly serialNumber?: string;
  readonly timestamp?: Date;
}

const PROPERTY_PREFIX = "ocipatch:";

/** Build the CycloneDX BOM model of an SBOM document. */
export function toCycloneDxBom(doc: SbomDocument, opts: CycloneDxOptions = {}): Models.Bom {
  const bom = new Models.Bom();
  bom.serialNumber = opts.serialNumber ?? `urn:uuid:${randomUUID()}`;
  bom.metadata.timestamp = opts.timestamp ?? new Date();
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, "ocipatch", { version: VERSION }),
  );
  const subject = new Models.Component(Enums.ComponentType.Container, doc.subject.name, {
    bomRef: "image",
    ...(doc.subject.digest ? { version: doc.subject.digest } : {}),
  });
  if (doc.subject.platform)
    subject.properties.add(new Models.Property(`${PROPERTY_PREFIX}image:platform`, doc.subject.platform));
  bom.metadata.component = subject;

  const os = new Models.Component(Enums.ComponentType.OperatingSystem, doc.os.id, {
    bomRef: "os",
    ...(doc.os.versionId ? { version: doc.os.versionId } : {}),
    ...(doc.os.prettyName ? { description: doc.os.prettyName } : {}),
  });
  if (doc.os.codename)
    os.properties.add(new Models.Property(`${PROPERTY_PREFIX}os:codename`, doc.os.codename));
  os.properties.add(new Models.Property(`${PROPERTY_PREFIX}os:source`, doc.os.source || "none"));
  os.properties.add(new Models.Property(`${PROPERTY_PREFIX}image:distroless`, String(doc.distroless)));
  bom.components.add(os);
  subject.dependencies.add(os.bomRef);

  for (const p of doc.packages) {
    const c = new Models.Component(Enums.ComponentType.Library, p.name, {
      bomRef: p.purl,
      version: p.version,
      purl: p.purl,
    });
    const prefix = `${PROPERTY_PREFIX}${p.type}:`;
    c.properties.add(new Models.Property(`${prefix}source`, p.sourceName));
    c.properties.add(new Models.Property(`${prefix}source-version`, p.sourceVersion));
    if (p.architecture) c.properties.add(new Models.Property(`${prefix}architecture`, p.architecture));
    for (const [k, v] of Object.entries(p.properties))
      c.properties.add(new Models.Property(`${prefix}${k}`, v));
    bom.components.add(c);
    subject.dependencies.add(c.bomRef);
  }
  return bom;
}

/** CycloneDX JSON (1.6 by default, 1.5 on request). */
export function toCycloneDxJson(doc: SbomDocument, opts: CycloneDxOptions = {}): string {
  const spec = opts.specVersion === "1.5" ? Spec.Spec1dot5 : Spec.Spec1dot6;
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(spec));
  return `${serializer.serialize(toCycloneDxBom(doc, opts), { sortLists: true, space: 2 })}\n`;
}
