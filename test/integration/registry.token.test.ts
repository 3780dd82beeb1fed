import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isOcipatchError } from "../../src/errors.js";
import type { Image } from "../../src/image/image.js";
import { parseImageManifest } from "../../src/image/manifest.js";
import {
  openRegistryImage,
  RegistryClient,
  RegistrySource,
  registrySink,
} from "../../src/transport/registry/index.js";
import { getManifest } from "../../src/transport/registry/source.js";
import { readAll } from "../../src/util/streams.js";
import { writeJson } from "../harness/credentials.js";
import { makeSigningKey } from "../harness/pki.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import {
  type PushedImage,
  pushTestImage,
  sha256Hex,
  skopeoInspectRaw,
  tempDir,
  uniqueRepo,
} from "../harness/registry-fixtures.js";
import { startTokenServer, type TokenServer } from "../harness/token-server.js";

const USER = "tokenuser";
const PASSWORD = "t0ken-Pa55";
const REFRESH = "refresh-7f3a9c";
const SERVICE = "ocipatch-test-registry";
const ISSUER = "ocipatch-test-issuer";

let dir: string;
let tokens: TokenServer;
let registry: TestRegistry;
let privateImage: PushedImage;
let publicImage: PushedImage;
const creds = { username: USER, password: PASSWORD };

beforeAll(async () => {
  dir = await tempDir();
  const key = makeSigningKey(dir);
  tokens = await startTokenServer({
    key,
    issuer: ISSUER,
    service: SERVICE,
    users: { [USER]: PASSWORD },
    refreshTokens: { [REFRESH]: USER },
    anonymousPullPrefix: "public/",
  });
  registry = await startRegistry({
    extraConfig: `auth:
  token:
    realm: ${tokens.url}
    service: ${SERVICE}
    issuer: ${ISSUER}
    rootcertbundle: ${key.certFile}
`,
  });
  // skopeo goes through the same token flow to push the fixtures
  privateImage = await pushTestImage(`${registry.host}/${uniqueRepo("private")}:v1`, { auth: creds });
  publicImage = await pushTestImage(`${registry.host}/${uniqueRepo("public")}:v1`, { auth: creds });
});

afterAll(async () => {
  await registry?.stop();
  await tokens?.close();
  await rm(dir, { recursive: true, force: true });
});

function repoOf(ref: string): string {
  return ref.slice(ref.indexOf("/") + 1, ref.lastIndexOf(":"));
}

function isolated(extra: Record<string, string> = {}) {
  return { env: { PATH: process.env["PATH"] ?? "", ...extra }, homeDir: dir };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("Bearer token flow against a real token-auth registry", () => {
  it("gets one pull token with Basic credentials and reuses it for manifest, config and layers", async () => {
    const before = tokens.requests.length;
    const img = (await openRegistryImage(privateImage.ref, { ...isolated(), credentials: creds })) as Image;
    expect(img.digest).toBe(privateImage.digest);
    for (const l of await img.layers()) await readAll(await l.uncompressed());
    const made = tokens.requests.slice(before);
    expect(made).toEqual([
      {
        method: "GET",
        service: SERVICE,
        scopes: [`repository:${repoOf(privateImage.ref)}:pull`],
        subject: USER,
        grantType: undefined,
        clientId: undefined,
        status: 200,
      },
    ]);
  });

  it("gets an anonymous token for a public repository", async () => {
    const before = tokens.requests.length;
    const img = (await openRegistryImage(publicImage.ref, isolated())) as Image;
    expect((await img.configFile()).architecture).toBe("amd64");
    const made = tokens.requests.slice(before);
    expect(made.map((r) => [r.subject, r.scopes])).toEqual([
      [undefined, [`repository:${repoOf(publicImage.ref)}:pull`]],
    ]);
  });

  it("anonymous access to a private repository is AUTH_FAILED", async () => {
    const e = await rejection(openRegistryImage(privateImage.ref, isolated()));
    expect(isOcipatchError(e, "AUTH_FAILED")).toBe(true);
    expect(e.message).toBe(
      `authentication required for registry ${registry.host} (HTTP 401): no credentials found; pass a username and password or log in`,
    );
  });

  it("a wrong password is refused by the token server, named in one line", async () => {
    const e = await rejection(
      openRegistryImage(privateImage.ref, {
        ...isolated(),
        credentials: { username: USER, password: "nope-nope" },
      }),
    );
    expect(isOcipatchError(e, "AUTH_FAILED")).toBe(true);
    const tokenHost = new URL(tokens.url).host;
    expect(e.message).toBe(
      `authentication failed for registry ${registry.host} (HTTP 401 from token server ${tokenHost}) (UNAUTHORIZED: invalid credentials): check username and password (credentials from explicit credentials)`,
    );
    expect(e.message).not.toContain("nope-nope");
  });

  it("pushes with a pull,push token that also covers the mount source, mounting every blob", async () => {
    const srcRepo = repoOf(privateImage.ref);
    const destRepo = uniqueRepo("private");
    const before = tokens.requests.length;
    const opts = { ...isolated(), credentials: creds };
    const img = await openRegistryImage(privateImage.ref, opts);
    const result = await registrySink(`${registry.host}/${destRepo}:v1`, opts).write(img);
    expect(result.stats).toEqual({ blobsUploaded: 0, bytesUploaded: 0, blobsSkipped: 0, blobsMounted: 2 });
    const made = tokens.requests.slice(before);
    expect(made.map((r) => r.scopes)).toEqual([
      [`repository:${srcRepo}:pull`],
      [`repository:${destRepo}:pull,push`, `repository:${srcRepo}:pull`],
    ]);
    expect(
      (await skopeoInspectRaw(`${registry.host}/${destRepo}:v1`, creds)).equals(privateImage.manifest),
    ).toBe(true);
  });

  it("uses an identity token from the docker config with an OAuth2 refresh-token POST", async () => {
    const home = join(dir, "idhome");
    await writeJson(join(home, ".docker", "config.json"), {
      auths: {
        [registry.host]: { auth: Buffer.from(`${USER}:`).toString("base64"), identitytoken: REFRESH },
      },
    });
    const before = tokens.requests.length;
    const img = await openRegistryImage(privateImage.ref, { env: { PATH: "" }, homeDir: home });
    expect(img.digest).toBe(privateImage.digest);
    expect(tokens.requests.slice(before)).toEqual([
      {
        method: "POST",
        service: SERVICE,
        scopes: [`repository:${repoOf(privateImage.ref)}:pull`],
        subject: USER,
        grantType: "refresh_token",
        clientId: "ocipatch",
        status: 200,
      },
    ]);
  });

  it("caches tokens per scope set until shortly before they expire", async () => {
    const client = new RegistryClient(registry.host, { ...isolated(), credentials: creds });
    const repo = repoOf(privateImage.ref);
    const source = new RegistrySource(client, repo);
    tokens.expiresIn = 2;
    try {
      await getManifest(client, repo, "v1");
      await getManifest(client, repo, "v1");
      expect(client.tokenRequests).toBe(1);
      // another scope set is another token
      await getManifest(client, repoOf(publicImage.ref), "v1");
      expect(client.tokenRequests).toBe(2);
      await new Promise((r) => setTimeout(r, 2100));
      const raw = await getManifest(client, repo, "v1");
      expect(client.tokenRequests).toBe(3);
      const img = parseImageManifest(raw.bytes);
      const cfg = await readAll(await source.openBlob(img.config));
      expect(`sha256:${sha256Hex(cfg)}`).toBe(img.config.digest);
      expect(client.tokenRequests).toBe(3);
    } finally {
      tokens.expiresIn = 300;
    }
  });
});
