import { z } from "zod";
import { OcipatchError } from "../errors.js";
import { type Digest, isDigest } from "../util/digest.js";
import {
  isImageManifestMediaType,
  isIndexMediaType,
  isSchema1MediaType,
  MediaTypes,
  refuseSchema1,
} from "./media-types.js";

/** Schemas for the OCI image spec / Docker schema 2 documents, validated at the boundary. */

const digestSchema = z
  .string()
  .refine(isDigest, { message: "invalid digest" }) as unknown as z.ZodType<Digest>;

export const platformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  "os.version": z.string().optional(),
  "os.features": z.array(z.string()).optional(),
  variant: z.string().optional(),
  features: z.array(z.string()).optional(),
});
export type Platform = z.infer<typeof platformSchema>;

export const descriptorSchema = z.looseObject({
  mediaType: z.string(),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: platformSchema.optional(),
  artifactType: z.string().optional(),
  data: z.string().optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

export const imageManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ImageManifest = z.infer<typeof imageManifestSchema>;

export const indexManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type IndexManifest = z.infer<typeof indexManifestSchema>;

export const historySchema = z.looseObject({
  created: z.string().optional(),
  created_by: z.string().optional(),
  author: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
});
export type History = z.infer<typeof historySchema>;

export const configFileSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
  "os.version": z.string().optional(),
  created: z.string().optional(),
  author: z.string().optional(),
  config: z
    .looseObject({
      Labels: z.record(z.string(), z.string()).nullable().optional(),
      Env: z.array(z.string()).nullable().optional(),
      Cmd: z.array(z.string()).nullable().optional(),
      Entrypoint: z.array(z.string()).nullable().optional(),
      User: z.string().optional(),
      WorkingDir: z.string().optional(),
    })
    .nullable()
    .optional(),
  rootfs: z.looseObject({ type: z.string(), diff_ids: z.array(digestSchema) }),
  history: z.array(historySchema).nullable().optional(),
});
export type ConfigFile = z.infer<typeof configFileSchema>;

function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${what} is not valid${where}: ${issue?.message ?? "unknown error"}`,
    );
  }
  return r.data;
}

export function parseJson(bytes: Uint8Array | string, what: string): unknown {
  try {
    return JSON.parse(typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("utf8"));
  } catch (e) {
    throw new OcipatchError("INVALID_FORMAT", `${what} is not valid JSON`, { cause: e });
  }
}

export function parseConfigFile(bytes: Uint8Array, what = "image config"): ConfigFile {
  const cfg = validate(configFileSchema, parseJson(bytes, what), what);
  if (cfg.rootfs.type !== "layers")
    throw new OcipatchError("INVALID_FORMAT", `${what}: rootfs.type is not "layers"`);
  refuseTooManyLayers(cfg.rootfs.diff_ids.length, what);
  return cfg;
}

/**
 * Work out what kind of manifest some bytes are: the media type from the transport
 * (Content-Type, descriptor) is preferred; the document's own `mediaType`, then its
 * shape, decide otherwise. Schema 1 is refused.
 */
export function detectManifestMediaType(
  bytes: Uint8Array,
  declared: string | undefined,
  what: string,
): string {
  const doc = parseJson(bytes, what);
  if (typeof doc !== "object" || doc === null)
    throw new OcipatchError("INVALID_FORMAT", `${what} is not a JSON object`);
  const d = doc as Record<string, unknown>;
  if (d["schemaVersion"] === 1) refuseSchema1(what);
  const inDoc = typeof d["mediaType"] === "string" ? (d["mediaType"] as string) : undefined;
  const cleanDeclared = declared?.split(";")[0]?.trim();
  for (const mt of [cleanDeclared, inDoc]) {
    if (mt === undefined) continue;
    if (isSchema1MediaType(mt)) refuseSchema1(what);
    if (isIndexMediaType(mt) || isImageManifestMediaType(mt)) return mt;
  }
  if (Array.isArray(d["manifests"])) return MediaTypes.ociIndex;
  if (typeof d["config"] === "object" && Array.isArray(d["layers"])) return MediaTypes.ociManifest;
  throw new OcipatchError(
    "UNSUPPORTED",
    `${what} has an unsupported media type "${cleanDeclared ?? inDoc ?? "unknown"}"`,
  );
}

/**
 * The most layers ocipatch reads in one image. Registries refuse far fewer (127 is a common
 * limit; Docker's overlay2 driver allows 128), so more is a hostile or broken image: refused
 * before any layer is read, in every command.
 */
export const MAX_LAYERS = 500;

function refuseTooManyLayers(count: number, what: string): void {
  if (count > MAX_LAYERS)
    throw new OcipatchError(
      "UNSUPPORTED",
      `${what} has ${count} layers, more than the ${MAX_LAYERS} ocipatch reads (registries commonly allow 127)`,
      { details: { layers: count, maxLayers: MAX_LAYERS } },
    );
}

export function parseImageManifest(bytes: Uint8Array, what = "manifest"): ImageManifest {
  const m = validate(imageManifestSchema, parseJson(bytes, what), what);
  refuseTooManyLayers(m.layers.length, what);
  return m;
}

export function parseIndexManifest(bytes: Uint8Array, what = "index"): IndexManifest {
  return validate(indexManifestSchema, parseJson(bytes, what), what);
}

/** Canonical bytes for a document we create (compact JSON, as most tools write). */
export function encodeJson(doc: unknown): Buffer {
  return Buffer.from(JSON.stringify(doc), "utf8");
}
