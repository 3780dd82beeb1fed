/**
 * The token endpoint failing in the middle of `ocipatch patch`: a real registry with token
 * auth whose realm is a fault proxy in front of the test token server. The pull token is
 * issued; the push token request then gets HTTP 500, a reset, or finds the endpoint down.
 * Expected: bounded retries, then ONE error line naming the token server, a non-zero exit,
 * the destination tag never created (skopeo), and no secret in the output.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../harness/exec.js";
import { type FaultAction, type FaultProxy, PASS, startFaultProxy } from "../harness/fault-proxy.js";
import { ensureImage } from "../harness/images.js";
import { runCli, trackerDb } from "../harness/patch-support.js";
import { makeSigningKey } from "../harness/pki.js";
import { pushImage } from "../harness/push.js";
import { startRegistry, type TestRegistry } from "../harness/registry.js";
import { startTokenServer, type TokenServer } from "../harness/token-server.js";

const USER = "patcher";
const PASSWORD = "Tok3n-s3cret-pw";
const SERVICE = "ocipatch-token-faults";
const ISSUER = "ocipatch-token-faults-issuer";
const creds = { username: USER, password: PASSWORD };

const work = mkdtempSync(join(tmpdir(), "ocipatch-token-faults-"));
let tokens: TokenServer;
let registry: TestRegistry;
let front: FaultProxy;
let frontPort: number;
/** What the token front does with each request; switched per test. */
let decide: (req: IncomingMessage) => FaultAction = () => PASS;
let dbDir: string;
let repo: string;

const startFront = async (port = 0) => {
  const upstream = new URL(tokens.url).host;
  front = await startFaultProxy(upstream, (req) => decide(req), port);
  frontPort = Number(front.host.split(":")[1]);
};

beforeAll(async () => {
  const key = makeSigningKey(work);
  tokens = await startTokenServer({
    key,
    issuer: ISSUER,
    service: SERVICE,
    users: { [USER]: PASSWORD },
    refreshTokens: {},
    anonymousPullPrefix: "public/",
  });
  await startFront();
  registry = await startRegistry({
    extraConfig: `auth:
  token:
    realm: http://${front.host}/token
    service: ${SERVICE}
    issuer: ${ISSUER}
    rootcertbundle: ${key.certFile}
`,
  });
  dbDir = await trackerDb();
  const pushed = await pushImage(
    await ensureImage("nginx-bullseye"),
    registry.host,
    `faults/token-${process.pid}:1`,
    creds,
  );
  repo = pushed.ref.slice(registry.host.length + 1).replace(/:1$/, "");
}, 900_000);

afterAll(async () => {
  await registry?.stop();
  await front?.close();
  await tokens?.close();
  rmSync(work, { recursive: true, force: true });
});

/** A token request for a scope that includes push (the pull token of the source is issued). */
const isPushToken = (req: IncomingMessage) =>
  new URL(req.url ?? "/", "http://x").searchParams.getAll("scope").some((s) => /[:,]push\b/.test(s));

async function tagExists(tag: string): Promise<boolean> {
  const r = await run(
    "skopeo",
    [
      "inspect",
      "--raw",
      "--tls-verify=false",
      `--creds=${USER}:${PASSWORD}`,
      `docker://${registry.host}/${repo}:${tag}`,
    ],
    { okCodes: [0, 1, 2] },
  );
  if (r.code !== 0 && !/manifest unknown|not found/i.test(r.stderr)) {
    throw new Error(`skopeo inspect failed for another reason: ${r.stderr}`);
  }
  return r.code === 0;
}

async function patchTo(tag: string) {
  return runCli([
    "patch",
    "--push",
    "--no-referrers",
    "-i",
    `${registry.host}/${repo}:1`,
    "-t",
    tag,
    "-u",
    USER,
    "-p",
    PASSWORD,
    "--db-dir",
    dbDir,
    "--skip-db-update",
    "--timeout",
    "5m",
  ]);
}

const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("[error]"));

describe("the token endpoint failing during ocipatch patch", () => {
  it("one HTTP 500 from the token endpoint is retried and the patch succeeds", async () => {
    let left = 1;
    decide = (req) => (isPushToken(req) && left-- > 0 ? { kind: "status", status: 500 } : PASS);
    const tag = "token-500-once";
    const r = await patchTo(tag);
    expect(r.code, r.stderr).toBe(0);
    expect(front.requests.some((q) => q.action === "status")).toBe(true);
    expect(await tagExists(tag)).toBe(true);
  }, 600_000);

  it.each([
    ["HTTP 500 on every push token request", { kind: "status", status: 500 } as FaultAction],
    ["a reset on every push token request", { kind: "reset" } as FaultAction],
  ])(
    "%s: bounded retries, one line, non-zero exit, tag never created, no secret",
    async (_w, action) => {
      decide = (req) => (isPushToken(req) ? action : PASS);
      const before = front.requests.length;
      const tag = `token-${action.kind}`;
      const r = await patchTo(tag);
      decide = () => PASS;
      expect(r.code).not.toBe(0);
      const errors = errorLines(r.stderr);
      expect(errors, r.stderr).toHaveLength(1);
      expect(errors[0]).toContain(`token server ${front.host}`);
      expect(errors[0]!.length).toBeLessThan(400);
      const faulted = front.requests.slice(before).filter((q) => q.action !== "pass").length;
      expect(faulted).toBeGreaterThan(1); // retried
      expect(faulted).toBeLessThanOrEqual(20); // bounded
      expect(`${r.stdout}${r.stderr}`).not.toContain(PASSWORD);
      expect(`${r.stdout}${r.stderr}`).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString("base64"));
      expect(await tagExists(tag)).toBe(false);
    },
    600_000,
  );

  it("the token endpoint is down for a moment after the pull token: retried, the patch succeeds", async () => {
    let back: Promise<void> | undefined;
    decide = (req) => {
      if (!isPushToken(req)) return PASS;
      // nothing listens at the realm's address for a second, then the same server is back
      back ??= front
        .close()
        .then(() => new Promise((r) => setTimeout(r, 1000)))
        .then(() => {
          decide = () => PASS;
          return startFront(frontPort);
        });
      return { kind: "reset" };
    };
    const tag = "token-down-briefly";
    const r = await patchTo(tag);
    await back;
    expect(back).toBeDefined();
    expect(r.code, r.stderr).toBe(0);
    expect(await tagExists(tag)).toBe(true);
  }, 600_000);

  it("the token endpoint goes down after the pull token: one line, non-zero exit, tag never created", async () => {
    let closing: Promise<void> | undefined;
    decide = (req) => {
      if (!isPushToken(req)) return PASS;
      // from now on nothing listens at the realm's address
      closing ??= front.close();
      return { kind: "reset" };
    };
    const tag = "token-down";
    const r = await patchTo(tag);
    await closing;
    expect(closing).toBeDefined();
    decide = () => PASS;
    await startFront(frontPort); // the realm answers again, for skopeo below
    expect(r.code).not.toBe(0);
    const errors = errorLines(r.stderr);
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toContain(`token server ${front.host}`);
    expect(`${r.stdout}${r.stderr}`).not.toContain(PASSWORD);
    expect(await tagExists(tag)).toBe(false);
  }, 600_000);
});
