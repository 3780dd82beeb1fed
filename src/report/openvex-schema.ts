import { z } from "zod";
import { OcipatchError } from "../errors.js";

/**
 * OpenVEX v0.2.0 documents (https://github.com/openvex/spec, OPENVEX-SPEC.md and its
 * JSON schema), written from the spec: required document fields, no unknown fields,
 * statuses and justifications from the fixed label sets, `not_affected` needing exactly
 * one of justification / impact_statement, `affected` needing an action statement.
 */
export const OPENVEX_CONTEXT = "https://openvex.dev/ns/v0.2.0";

export const VEX_STATUSES = ["not_affected", "affected", "fixed", "under_investigation"] as const;
export const VEX_JUSTIFICATIONS = [
  "component_not_present",
  "vulnerable_code_not_present",
  "vulnerable_code_not_in_execute_path",
  "vulnerable_code_cannot_be_controlled_by_adversary",
  "inline_mitigations_already_exist",
] as const;

/** RFC 3339 date-time (what JSON schema's `date-time` format accepts). */
const dateTime = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/,
    "not an RFC 3339 date-time",
  );
/** An IRI: a scheme, a colon, and no whitespace (purls are IRIs). */
const iri = z.string().regex(/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/, "not an IRI");

const uniqueItems = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .refine((xs) => new Set(xs.map((x) => JSON.stringify(x))).size === xs.length, "items are not unique");

const vexVulnerabilitySchema = z.strictObject({
  "@id": iri.optional(),
  name: z.string().min(1),
  description: z.string().optional(),
  aliases: uniqueItems(z.string()).optional(),
});

// the spec's text names cpe22/cpe23, its JSON schema @cpe22/@cpe23: accept both
const identifiersSchema = z.strictObject({
  purl: z.string().optional(),
  cpe22: z.string().optional(),
  cpe23: z.string().optional(),
  "@cpe22": z.string().optional(),
  "@cpe23": z.string().optional(),
});

const HASH_NAMES = [
  "md5",
  "sha1",
  "sha-256",
  "sha-384",
  "sha-512",
  "sha3-224",
  "sha3-256",
  "sha3-384",
  "sha3-512",
  "blake2s-256",
  "blake2b-256",
  "blake2b-512",
] as const;
const hashesSchema = z.strictObject(Object.fromEntries(HASH_NAMES.map((h) => [h, z.string().optional()])));

const vexSubcomponentSchema = z.strictObject({
  "@id": iri.optional(),
  identifiers: identifiersSchema.optional(),
  hashes: hashesSchema.optional(),
});

export const vexProductSchema = z.strictObject({
  "@id": iri.optional(),
  identifiers: identifiersSchema.optional(),
  hashes: hashesSchema.optional(),
  subcomponents: uniqueItems(vexSubcomponentSchema).optional(),
});

export const vexStatementSchema = z
  .strictObject({
    "@id": iri.optional(),
    version: z.number().int().min(1).optional(),
    vulnerability: vexVulnerabilitySchema,
    timestamp: dateTime.optional(),
    last_updated: dateTime.optional(),
    products: uniqueItems(vexProductSchema).optional(),
    status: z.enum(VEX_STATUSES),
    supplier: z.string().optional(),
    status_notes: z.string().optional(),
    justification: z.enum(VEX_JUSTIFICATIONS).optional(),
    impact_statement: z.string().optional(),
    action_statement: z.string().optional(),
    action_statement_timestamp: dateTime.optional(),
  })
  .refine(
    (s) =>
      s.status !== "not_affected" || (s.justification === undefined) !== (s.impact_statement === undefined),
    "a not_affected statement needs exactly one of justification and impact_statement",
  )
  .refine(
    (s) => s.status !== "affected" || s.action_statement !== undefined,
    "an affected statement needs an action_statement",
  );

export const openVexDocumentSchema = z.strictObject({
  "@context": iri,
  "@id": iri,
  author: z.string().min(1),
  role: z.string().optional(),
  timestamp: dateTime,
  last_updated: dateTime.optional(),
  version: z.number().int().min(1),
  tooling: z.string().optional(),
  statements: uniqueItems(vexStatementSchema).min(1),
});

export type OpenVexDocument = z.infer<typeof openVexDocumentSchema>;
export type VexStatement = z.infer<typeof vexStatementSchema>;
export type VexProduct = z.infer<typeof vexProductSchema>;

/** Validate a parsed document; INVALID_FORMAT with the first problem otherwise. */
export function parseOpenVex(doc: unknown, what = "OpenVEX document"): OpenVexDocument {
  const r = openVexDocumentSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${what} is not valid OpenVEX${where}: ${issue?.message ?? "invalid"}`,
    );
  }
  return r.data;
}
