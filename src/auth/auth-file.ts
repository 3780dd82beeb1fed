import { readFile } from "node:fs/promises";
import { z } from "zod";
import { OcipatchError } from "../errors.js";
import type { Credentials } from "./credentials.js";
import { normalizeRegistryHost, splitAuthKey } from "./hosts.js";

/**
 * Docker's `config.json` and the containers tools' `auth.json` share one format:
 * `auths` (inline credentials per registry), `credHelpers` (a credential helper per
 * registry) and, in Docker's, `credsStore` (the default helper).
 */
const authEntrySchema = z.looseObject({
  auth: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  identitytoken: z.string().optional(),
  registrytoken: z.string().optional(),
});

const authFileSchema = z.looseObject({
  auths: z.record(z.string(), authEntrySchema.nullable()).optional(),
  credsStore: z.string().optional(),
  credHelpers: z.record(z.string(), z.string()).optional(),
});

type AuthFile = z.infer<typeof authFileSchema>;
type AuthEntry = z.infer<typeof authEntrySchema>;

/** What an auth file says about a registry. */
type AuthFileMatch =
  | { readonly kind: "inline"; readonly credentials: Credentials; readonly key: string }
  | {
      readonly kind: "helper";
      readonly helper: string;
      /** Inline credentials to use if the helper has none (a `credsStore` fallback). */
      readonly fallback?: Credentials | undefined;
    };

/** Read and validate an auth file; `undefined` if it does not exist. */
export async function readAuthFile(path: string): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new OcipatchError("IO", `cannot read credentials file ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return parseAuthFile(text, path);
}

export function parseAuthFile(text: string, path: string): AuthFile {
  if (text.trim() === "") return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // the cause (a JSON.parse error) could quote a secret from the file; leave it out
    throw new OcipatchError("INVALID_FORMAT", `credentials file ${path} is not valid JSON`);
  }
  const r = authFileSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
    throw new OcipatchError("INVALID_FORMAT", `credentials file ${path} is not valid${where}`);
  }
  return r.data;
}

/** Credentials of one `auths` entry, or undefined when it holds none. */
export function entryCredentials(
  entry: AuthEntry | null | undefined,
  where: string,
): Credentials | undefined {
  if (!entry) return undefined;
  if (entry.registrytoken) return { registryToken: entry.registrytoken };
  let username = entry.username ?? "";
  let password = entry.password ?? "";
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon === -1) {
      throw new OcipatchError("INVALID_FORMAT", `${where}: the "auth" field is not base64 of user:password`);
    }
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (entry.identitytoken) return { identityToken: entry.identitytoken, username: username || undefined };
  if (username === "" && password === "") return undefined;
  return { username, password };
}

/** The matching `auths` key: `host/repo/path` keys (longest first), then the bare host. */
function findInline(
  file: AuthFile,
  host: string,
  repository: string | undefined,
  where: string,
): { credentials: Credentials; key: string } | undefined {
  const candidates: { key: string; depth: number; entry: AuthEntry | null }[] = [];
  for (const [key, entry] of Object.entries(file.auths ?? {})) {
    const k = splitAuthKey(key);
    if (k.host !== host) continue;
    if (k.path === undefined) candidates.push({ key, depth: 0, entry });
    else if (repository !== undefined && (repository === k.path || repository.startsWith(`${k.path}/`)))
      candidates.push({ key, depth: k.path.split("/").length, entry });
  }
  candidates.sort((a, b) => b.depth - a.depth);
  for (const c of candidates) {
    const credentials = entryCredentials(c.entry, `${where} (auths["${c.key}"])`);
    if (credentials) return { credentials, key: c.key };
  }
  return undefined;
}

/**
 * Look a registry up in an auth file, in Docker's order: `credHelpers[registry]`,
 * then `credsStore`, then inline `auths`. Unlike Docker, inline credentials are
 * still used when the `credsStore` helper has nothing for the registry.
 */
export function lookupAuthFile(
  file: AuthFile,
  registry: string,
  repository: string | undefined,
  where: string,
): AuthFileMatch | undefined {
  const host = normalizeRegistryHost(registry);
  for (const [key, helper] of Object.entries(file.credHelpers ?? {})) {
    if (normalizeRegistryHost(key) === host && helper !== "") return { kind: "helper", helper };
  }
  const inline = findInline(file, host, repository, where);
  if (file.credsStore) return { kind: "helper", helper: file.credsStore, fallback: inline?.credentials };
  if (inline) return { kind: "inline", ...inline };
  return undefined;
}
