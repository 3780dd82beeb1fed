/** Credentials for a registry, and where they came from (for messages; never the secret itself). */

/** Credentials a caller can pass explicitly (e.g. from `--username/--password`). */
export type Credentials =
  | { readonly username: string; readonly password: string }
  /** An OAuth2 refresh token (docker config `identitytoken`, helper username `<token>`). */
  | { readonly identityToken: string; readonly username?: string | undefined }
  /** A bearer token sent to the registry as is (docker config `registrytoken`). */
  | { readonly registryToken: string };

export interface ResolvedCredentials {
  /** `undefined` means anonymous. */
  readonly credentials: Credentials | undefined;
  /** Where they came from, e.g. `flags`, `/root/.docker/config.json`, `docker-credential-pass`. */
  readonly source: string;
}

export const ANONYMOUS: ResolvedCredentials = { credentials: undefined, source: "anonymous" };

export function isBasic(c: Credentials | undefined): c is { username: string; password: string } {
  return c !== undefined && "password" in c;
}

export function isIdentityToken(
  c: Credentials | undefined,
): c is { identityToken: string; username?: string | undefined } {
  return c !== undefined && "identityToken" in c;
}

export function isRegistryToken(c: Credentials | undefined): c is { registryToken: string } {
  return c !== undefined && "registryToken" in c;
}

/** `Basic <base64(user:password)>` */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
}
