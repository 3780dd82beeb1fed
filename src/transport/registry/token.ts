import { z } from "zod";
import { basicAuthorization, type Credentials, isBasic, isIdentityToken } from "../../auth/credentials.js";
import { OcipatchError } from "../../errors.js";
import type { Challenge } from "./challenge.js";
import { isLoopbackHost } from "./endpoint.js";
import { describeErrors, parseErrorBody } from "./errors.js";
import { bodyText, type HttpContext, sendWithRetry } from "./http.js";

/**
 * The registry token flow (distribution's token auth spec): GET the challenge's
 * realm with service and scopes, with Basic credentials when we have them; or POST
 * an OAuth2 refresh-token grant when the credentials are an identity token.
 */

const tokenResponseSchema = z.looseObject({
  token: z.string().optional(),
  access_token: z.string().optional(),
  expires_in: z.number().optional(),
  issued_at: z.string().optional(),
  refresh_token: z.string().optional(),
});

export interface BearerToken {
  readonly token: string;
  /** ms since epoch after which the token is not used any more. */
  readonly expiresAt: number;
}

/** Tokens are refreshed a little before they expire; the spec's default lifetime is 60 s. */
const DEFAULT_LIFETIME_S = 60;

const OAUTH_CLIENT_ID = "ocipatch";

interface TokenFetch {
  readonly registry: string;
  readonly challenge: Challenge;
  readonly scopes: readonly string[];
  readonly credentials: Credentials | undefined;
  readonly credentialSource: string;
  readonly insecure: boolean;
}

export function tokenCacheKey(challenge: Challenge, scopes: readonly string[]): string {
  return JSON.stringify([challenge.params["realm"], challenge.params["service"], [...scopes].sort()]);
}

function realmUrl(f: TokenFetch): URL {
  const realm = f.challenge.params["realm"];
  if (!realm) {
    throw new OcipatchError("REGISTRY", `registry ${f.registry} asked for a Bearer token without a realm`);
  }
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new OcipatchError("REGISTRY", `registry ${f.registry} sent an invalid token realm "${realm}"`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new OcipatchError(
      "REGISTRY",
      `registry ${f.registry} sent an unsupported token realm ${url.origin}`,
    );
  }
  // credentials never travel in the clear to a remote token server
  if (url.protocol === "http:" && !f.insecure && !isLoopbackHost(url.host) && f.credentials) {
    throw new OcipatchError(
      "AUTH_FAILED",
      `registry ${f.registry} sent a plain-HTTP token realm ${url.origin}; refusing to send credentials there (use the insecure option to allow it)`,
    );
  }
  return url;
}

export async function fetchToken(http: HttpContext, f: TokenFetch): Promise<BearerToken> {
  const url = realmUrl(f);
  const service = f.challenge.params["service"];
  const peer = `token server ${url.host} of registry ${f.registry}`;
  const ctx: HttpContext = { ...http, host: url.host, peer };
  const what = `token request to ${url.host}`;
  let res: Awaited<ReturnType<typeof sendWithRetry>>;
  if (isIdentityToken(f.credentials)) {
    const form = new URLSearchParams();
    form.set("grant_type", "refresh_token");
    form.set("refresh_token", f.credentials.identityToken);
    form.set("client_id", OAUTH_CLIENT_ID);
    if (service) form.set("service", service);
    if (f.scopes.length > 0) form.set("scope", f.scopes.join(" "));
    res = await sendWithRetry(ctx, {
      url,
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
      retryable: true,
      retryRefused: true,
      what,
    });
  } else {
    const u = new URL(url);
    if (service) u.searchParams.set("service", service);
    for (const s of f.scopes) u.searchParams.append("scope", s);
    const headers: Record<string, string> = {};
    if (isBasic(f.credentials)) {
      headers["authorization"] = basicAuthorization(f.credentials.username, f.credentials.password);
      u.searchParams.set("account", f.credentials.username);
    }
    res = await sendWithRetry(ctx, {
      url: u,
      method: "GET",
      headers,
      retryable: true,
      retryRefused: true,
      what,
    });
  }
  const text = await bodyText(res);
  if (res.statusCode === 401 || res.statusCode === 403) {
    const said = describeErrors(parseErrorBody(text));
    const why = said ? ` (${said})` : "";
    if (f.credentials) {
      throw new OcipatchError(
        "AUTH_FAILED",
        `authentication failed for registry ${f.registry} (HTTP ${res.statusCode} from token server ${url.host})${why}: check username and password (credentials from ${f.credentialSource})`,
        { details: { status: res.statusCode, registry: f.registry } },
      );
    }
    throw new OcipatchError(
      "AUTH_FAILED",
      `authentication required for registry ${f.registry} (HTTP ${res.statusCode} from token server ${url.host})${why}: no credentials found; pass a username and password or log in`,
      { details: { status: res.statusCode, registry: f.registry } },
    );
  }
  if (res.statusCode !== 200) {
    const said = describeErrors(parseErrorBody(text));
    throw new OcipatchError(
      "REGISTRY",
      `token server ${url.host} of registry ${f.registry} answered HTTP ${res.statusCode}${said ? `: ${said}` : ""}`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new OcipatchError(
      "REGISTRY",
      `token server ${url.host} of registry ${f.registry} sent invalid JSON`,
    );
  }
  const parsed = tokenResponseSchema.safeParse(doc);
  const token = parsed.success ? (parsed.data.token ?? parsed.data.access_token) : undefined;
  if (!parsed.success || !token) {
    throw new OcipatchError("REGISTRY", `token server ${url.host} of registry ${f.registry} sent no token`);
  }
  const lifetimeS = Math.max(1, parsed.data.expires_in ?? DEFAULT_LIFETIME_S);
  // the local clock decides (issued_at may be skewed); keep a margin for requests in flight
  const margin = Math.min(30, lifetimeS / 10) * 1000;
  return { token, expiresAt: Date.now() + lifetimeS * 1000 - margin };
}

/** Tokens per (realm, service, scope set), until shortly before they expire. */
export class TokenCache {
  private readonly tokens = new Map<string, BearerToken>();

  get(key: string, now = Date.now()): BearerToken | undefined {
    const t = this.tokens.get(key);
    if (t && t.expiresAt > now) return t;
    if (t) this.tokens.delete(key);
    return undefined;
  }

  set(key: string, token: BearerToken): void {
    this.tokens.set(key, token);
  }

  delete(key: string): void {
    this.tokens.delete(key);
  }
}
