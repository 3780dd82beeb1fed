import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { OcipatchError, oneLine } from "../errors.js";
import { parsePlatform } from "../image/platform.js";
import { parseReference } from "../reference/reference.js";
import { parseTagTemplate } from "./template.js";

/**
 * copa's bulk patching file (`apiVersion: copa.sh/v1alpha1`, `kind: PatchConfig`), read as
 * copa documents it (website/docs/bulk-image-patching.md): images with a tag strategy
 * (`list`, `pattern` + `maxTags`/`exclude`, `latest`), per-image `platforms`, and a `target`
 * (registry prefix, tag template) at the top and per image. copa's Helm chart and Chisel
 * fields are refused by name: ocipatch does not implement them.
 */

export const COPA_API_VERSION = "copa.sh/v1alpha1";
export const COPA_KIND = "PatchConfig";

const TargetSchema = z
  .object({
    registry: z.string().min(1).optional(),
    tag: z.string().min(1).optional(),
  })
  .strict();

const TagStrategySchema = z.discriminatedUnion("strategy", [
  z
    .object({
      strategy: z.literal("list"),
      list: z.array(z.string().min(1)).min(1, "strategy list needs a non-empty list"),
      exclude: z.array(z.string()).optional(),
    })
    .strict(),
  z
    .object({
      strategy: z.literal("pattern"),
      pattern: z.string().min(1, "strategy pattern needs a pattern"),
      maxTags: z.number().int().min(0).optional(),
      exclude: z.array(z.string()).optional(),
    })
    .strict(),
  z
    .object({
      strategy: z.literal("latest"),
      exclude: z.array(z.string()).optional(),
    })
    .strict(),
]);

const ImageSchema = z
  .object({
    name: z.string().min(1).optional(),
    image: z.string().min(1),
    tags: TagStrategySchema,
    platforms: z.array(z.string().min(1)).optional(),
    target: TargetSchema.optional(),
  })
  .strict();

const PatchConfigSchema = z
  .object({
    apiVersion: z.literal(COPA_API_VERSION),
    kind: z.literal(COPA_KIND),
    target: TargetSchema.optional(),
    images: z.array(ImageSchema).min(1, "the config names no image"),
  })
  .strict();

export type TagStrategy = z.infer<typeof TagStrategySchema>;

export interface FleetTarget {
  /** Registry/namespace prefix; the source's last path component is appended (copa's rule). */
  readonly registry: string | undefined;
  /** Tag template, `{{ .SourceTag }}` replaced (default `{{ .SourceTag }}-patched`). */
  readonly tag: string;
}

export interface FleetImageSpec {
  /** The entry's `name` (defaults to the repository). */
  readonly name: string;
  /** `registry/repository`, normalised (no tag, no digest). */
  readonly repository: string;
  readonly tags: TagStrategy;
  readonly platforms: readonly string[] | undefined;
  readonly target: FleetTarget;
}

export interface FleetConfig {
  readonly path: string;
  readonly images: readonly FleetImageSpec[];
}

export const DEFAULT_TAG_TEMPLATE = "{{ .SourceTag }}-patched";

/** Is this parsed document copa's file (it says so with `kind`/`apiVersion`), not ocipatch's own config? */
export function isCopaConfig(doc: unknown): boolean {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return false;
  return "kind" in doc || "apiVersion" in doc;
}

/** Parse a config file's text as YAML (JSON is YAML too). */
export function parseConfigText(text: string, path: string): unknown {
  try {
    return parseYaml(text);
  } catch (e) {
    throw new OcipatchError("INVALID_FORMAT", `config file ${path} is not valid YAML: ${oneLine(e)}`);
  }
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out || "(root)";
}

function invalid(path: string, field: string, message: string): OcipatchError {
  return new OcipatchError("INVALID_FORMAT", `config file ${path}: ${field}: ${message}`, {
    details: { option: "config", field },
  });
}

const UNSUPPORTED_FIELDS: Readonly<Record<string, string>> = {
  charts: "Helm chart patching is not supported by ocipatch",
  chartTarget: "Helm chart patching is not supported by ocipatch",
  overrides: "Helm chart patching is not supported by ocipatch",
  chiselRelease: "Ubuntu Chisel re-cuts are not supported by ocipatch",
};

/** Validate copa's PatchConfig (already parsed) into typed specs; one-line errors name the field. */
export function parseFleetConfig(doc: unknown, path: string): FleetConfig {
  if (typeof doc === "object" && doc !== null) {
    const top = doc as Record<string, unknown>;
    for (const [k, why] of Object.entries(UNSUPPORTED_FIELDS)) {
      if (k in top) throw invalid(path, k, why);
    }
    const images = Array.isArray(top["images"]) ? top["images"] : [];
    images.forEach((img, i) => {
      if (typeof img === "object" && img !== null && "chiselRelease" in img) {
        throw invalid(path, `images[${i}].chiselRelease`, UNSUPPORTED_FIELDS["chiselRelease"]!);
      }
    });
  }
  const r = PatchConfigSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = fieldPath(issue.path);
    if (issue.code === "unrecognized_keys") {
      const key = issue.keys[0]!;
      throw invalid(path, field === "(root)" ? key : `${field}.${key}`, "unknown field");
    }
    if (issue.code === "invalid_union" && issue.path[issue.path.length - 1] === "strategy") {
      throw invalid(path, field, "must be one of list, pattern, latest");
    }
    throw invalid(path, field, issue.message);
  }
  const cfg = r.data;
  const images = cfg.images.map((img, i): FleetImageSpec => {
    const at = `images[${i}]`;
    let repository: string;
    try {
      const ref = parseReference(img.image);
      if (ref.digest !== undefined || /:[^/]*$/.test(img.image.trim())) {
        throw invalid(path, `${at}.image`, `"${img.image}" must name a repository, without tag or digest`);
      }
      repository = `${ref.registry}/${ref.repository}`;
    } catch (e) {
      if (e instanceof OcipatchError && e.code === "INVALID_FORMAT") throw e;
      throw invalid(path, `${at}.image`, oneLine(e));
    }
    if (img.tags.strategy === "pattern") {
      try {
        new RegExp(img.tags.pattern, "u");
      } catch (e) {
        throw invalid(path, `${at}.tags.pattern`, `not a valid regular expression: ${oneLine(e)}`);
      }
    }
    for (const [j, p] of (img.platforms ?? []).entries()) {
      try {
        parsePlatform(p);
      } catch (e) {
        throw invalid(path, `${at}.platforms[${j}]`, oneLine(e));
      }
    }
    const registry = img.target?.registry ?? cfg.target?.registry;
    const tag = img.target?.tag ?? cfg.target?.tag ?? DEFAULT_TAG_TEMPLATE;
    const tagField = img.target?.tag !== undefined ? `${at}.target.tag` : "target.tag";
    try {
      parseTagTemplate(tag);
    } catch (e) {
      throw invalid(path, tagField, oneLine(e));
    }
    if (registry !== undefined) {
      const regField = img.target?.registry !== undefined ? `${at}.target.registry` : "target.registry";
      try {
        const ref = parseReference(`${registry.replace(/\/+$/, "")}/x`);
        if (ref.tag !== "latest" || ref.digest !== undefined)
          throw new Error("a tag or digest is not allowed");
      } catch (e) {
        throw invalid(path, regField, `"${registry}" is not a registry or namespace: ${oneLine(e)}`);
      }
    }
    return {
      name: img.name ?? repository,
      repository,
      tags: img.tags,
      platforms: img.platforms,
      target: { registry: registry?.replace(/\/+$/, ""), tag },
    };
  });
  return { path, images };
}
