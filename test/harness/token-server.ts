/**
 * A small token server for distribution's token auth: GET with Basic credentials (or
 * anonymous), POST oauth2 refresh-token grants; issues RS256 JWTs the registry checks
 * against the signer's certificate (x5c header).
 */
import { randomBytes, sign } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { SigningKey } from "./pki.js";

export interface TokenRequestLog {
  readonly method: string;
  readonly service: string | null;
  readonly scopes: string[];
  /** Basic user name, `refresh:<user>` for refresh grants, undefined when anonymous. */
  readonly subject: string | undefined;
  readonly grantType?: string | undefined;
  readonly clientId?: string | undefined;
  readonly status: number;
}

export interface TokenServer {
  readonly url: string;
  readonly requests: TokenRequestLog[];
  /** Lifetime of issued tokens in seconds. */
  expiresIn: number;
  close(): Promise<void>;
}

interface TokenServerOptions {
  readonly key: SigningKey;
  readonly issuer: string;
  readonly service: string;
  /** user → password */
  readonly users: Record<string, string>;
  /** refresh token → user */
  readonly refreshTokens: Record<string, string>;
  /** Repositories anonymous users may pull (prefix). */
  readonly anonymousPullPrefix: string;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

function jwt(opts: TokenServerOptions, subject: string, access: unknown[], expiresIn: number): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: "JWT", alg: "RS256", x5c: [opts.key.certDerBase64] };
  const claims = {
    iss: opts.issuer,
    sub: subject,
    aud: opts.service,
    exp: now + expiresIn,
    nbf: now - 10,
    iat: now,
    jti: randomBytes(8).toString("hex"),
    access,
  };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign("sha256", Buffer.from(input), opts.key.privateKeyPem))}`;
}

/** `repository:name:pull,push` → access entry, restricted to what the subject may do. */
function grant(scope: string, user: string | undefined, anonPrefix: string) {
  const m = /^repository:([^:]+):(.+)$/.exec(scope);
  if (!m) return undefined;
  const name = m[1]!;
  let actions = m[2]!.split(",");
  if (user === undefined) actions = name.startsWith(anonPrefix) ? actions.filter((a) => a === "pull") : [];
  return { type: "repository", name, actions };
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const requests: TokenRequestLog[] = [];
  const state = { expiresIn: 300 };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    let subject: string | undefined;
    let scopes: string[];
    let service: string | null;
    let grantType: string | undefined;
    let clientId: string | undefined;
    let ok = true;
    if (req.method === "POST") {
      const form = new URLSearchParams(await body(req));
      grantType = form.get("grant_type") ?? undefined;
      clientId = form.get("client_id") ?? undefined;
      service = form.get("service");
      scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
      const user = opts.refreshTokens[form.get("refresh_token") ?? ""];
      if (grantType !== "refresh_token" || !user) ok = false;
      else subject = user;
    } else {
      service = url.searchParams.get("service");
      scopes = url.searchParams.getAll("scope");
      const h = req.headers.authorization;
      if (h?.startsWith("Basic ")) {
        const [u, ...rest] = Buffer.from(h.slice(6), "base64").toString("utf8").split(":");
        if (u && opts.users[u] === rest.join(":")) subject = u;
        else ok = false;
      }
    }
    const status = ok ? 200 : 401;
    requests.push({ method: req.method ?? "", service, scopes, subject, grantType, clientId, status });
    if (!ok) {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "invalid credentials" }] }));
      return;
    }
    const access = scopes
      .map((s) => grant(s, subject, opts.anonymousPullPrefix))
      .filter((a) => a !== undefined);
    const token = jwt(opts, subject ?? "", access, state.expiresIn);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify(
        req.method === "POST"
          ? { access_token: token, expires_in: state.expiresIn, scope: scopes.join(" ") }
          : { token, access_token: token, expires_in: state.expiresIn, issued_at: new Date().toISOString() },
      ),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/token`,
    requests,
    get expiresIn() {
      return state.expiresIn;
    },
    set expiresIn(v: number) {
      state.expiresIn = v;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
