import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { isOcipatchError, OcipatchError, oneLine } from "../errors.js";
import { readRegularFile } from "../util/regular-file.js";

/**
 * The `apt` section of ocipatch's config file (JSON; YAML when the file ends in `.yaml`/`.yml`),
 * e.g. for an air-gapped mirror:
 *
 *   { "apt": {
 *       "mirrors": { "http://deb.debian.org/debian": "http://mirror.corp/debian",
 *                    "http://deb.debian.org/debian-security": "http://mirror.corp/debian-security" },
 *       "keyrings": ["/etc/ocipatch/debian-archive-keyring.gpg"],
 *       "checkValidUntil": true } }
 *
 * `mirror` / `securityMirror` mean the same as `--mirror` / `--security-mirror`.
 */
/** Mirror configuration: `--mirror` and the config file's URL mapping. */
export interface MirrorConfig {
  /** Use this archive for every suite of the image's distribution (`--mirror`). */
  readonly mirror?: string | undefined;
  /** With `mirror`: the archive for the security suite (Debian keeps it in a separate archive). */
  readonly securityMirror?: string | undefined;
  /** Official URL prefix → mirror URL prefix (longest prefix wins). */
  readonly rewrites?: Readonly<Record<string, string>> | undefined;
}

const AptConfigSchema = z
  .object({
    mirror: z.string().url().optional(),
    securityMirror: z.string().url().optional(),
    mirrors: z.record(z.string().url(), z.string().url()).optional(),
    keyrings: z.array(z.string().min(1)).optional(),
    checkValidUntil: z.boolean().optional(),
  })
  .strict();

const ConfigFileSchema = z.object({ apt: AptConfigSchema.optional() }).passthrough();

/** Largest config file read. */
const CONFIG_MAX_BYTES = 1024 * 1024;

export interface AptConfig {
  readonly mirrors: MirrorConfig;
  /** Keyring files (paths on this machine) trusted in addition to the image's. */
  readonly keyrings: readonly string[];
  readonly checkValidUntil: boolean | undefined;
  /** The file it was read from, if any. */
  readonly path: string | undefined;
}

/** What planning takes from the configuration: mirrors, extra keyrings, the Valid-Until policy. */
export type RepositoryConfig = Pick<AptConfig, "mirrors" | "keyrings" | "checkValidUntil">;

export interface LoadConfigOptions {
  /** `--config` */
  readonly path?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** Command-line overrides. */
  readonly mirror?: string | undefined;
  readonly securityMirror?: string | undefined;
  readonly keyrings?: readonly string[] | undefined;
  readonly checkValidUntil?: boolean | undefined;
}

/** The config file path: `--config`, else `$OCIPATCH_CONFIG`, else `~/.config/ocipatch/config.json`. */
export function configPath(opts: LoadConfigOptions = {}): { path: string; explicit: boolean } {
  const env = opts.env ?? process.env;
  if (opts.path) return { path: opts.path, explicit: true };
  if (env["OCIPATCH_CONFIG"]) return { path: env["OCIPATCH_CONFIG"], explicit: true };
  const base = env["XDG_CONFIG_HOME"] || join(env["HOME"] || homedir(), ".config");
  return { path: join(base, "ocipatch", "config.json"), explicit: false };
}

/** Read the config file (a missing default file is no error) and apply command-line overrides. */
export async function loadAptConfig(opts: LoadConfigOptions = {}): Promise<AptConfig> {
  const found = configPath(opts);
  const explicit = found.explicit;
  // the default location may hold config.json, config.yaml or config.yml
  const candidates = explicit
    ? [found.path]
    : [found.path, found.path.replace(/\.json$/, ".yaml"), found.path.replace(/\.json$/, ".yml")];
  let path = found.path;
  let fileCfg: z.infer<typeof AptConfigSchema> = {};
  let usedPath: string | undefined;
  let text: string | undefined;
  for (const p of candidates) {
    try {
      text = (await readRegularFile(p, CONFIG_MAX_BYTES, { what: "config file" })).toString("utf8");
      path = p;
      break;
    } catch (e) {
      if (explicit || !isOcipatchError(e, "NOT_FOUND")) {
        if (!isOcipatchError(e, "NOT_FOUND")) throw e;
        throw new OcipatchError("IO", `cannot read config file ${p}: ${oneLine(e)}`, { cause: e });
      }
    }
  }
  if (text !== undefined) {
    const yaml = /\.ya?ml$/i.test(path);
    let json: unknown;
    try {
      // the YAML parser is loaded only for a YAML file
      json = yaml ? (await import("yaml")).parse(text) : JSON.parse(text);
    } catch (e) {
      throw new OcipatchError(
        "INVALID_FORMAT",
        `config file ${path} is not valid ${yaml ? "YAML" : "JSON"}: ${oneLine(e)}`,
      );
    }
    const r = ConfigFileSchema.safeParse(json);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new OcipatchError(
        "INVALID_FORMAT",
        `config file ${path}: ${issue.path.join(".") || "(root)"}: ${issue.message}`,
      );
    }
    fileCfg = r.data.apt ?? {};
    usedPath = path;
  }
  const validate = (u: string | undefined, option: string): string | undefined => {
    if (u === undefined) return undefined;
    try {
      new URL(u);
    } catch {
      throw new OcipatchError("USAGE", `"${u}" is not a URL`, { details: { option } });
    }
    return u;
  };
  return {
    mirrors: {
      mirror: validate(opts.mirror, "mirror") ?? fileCfg.mirror,
      securityMirror: validate(opts.securityMirror, "securityMirror") ?? fileCfg.securityMirror,
      rewrites: fileCfg.mirrors,
    },
    keyrings: [...(fileCfg.keyrings ?? []), ...(opts.keyrings ?? [])],
    checkValidUntil: opts.checkValidUntil ?? fileCfg.checkValidUntil,
    path: usedPath,
  };
}
