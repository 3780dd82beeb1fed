/**
 * A registry answering a manifest request with a huge body (issue 15): refused with ONE line
 * (no second "unexpected error: Request aborted" from an unhandled rejection). A loopback HTTP
 * server plays the registry and streams the body (nothing of that size is allocated).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, runBin } from "../harness/cli.js";

let server: Server;
let port = 0;
const CHUNK = Buffer.alloc(64 * 1024, 0x20);

beforeAll(async () => {
  await ensureBuilt();
  server = createServer((req, res) => {
    if (req.url === "/v2/") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
      return;
    }
    if (req.url?.startsWith("/v2/app/manifests/")) {
      const declared = req.url.endsWith("/declared");
      res.writeHead(200, {
        "content-type": "application/vnd.oci.image.manifest.v1+json",
        // "declared": a Content-Length of 1000 MB; otherwise chunked, with no length at all
        ...(declared ? { "content-length": String(1000 * 1024 * 1024) } : {}),
      });
      if (req.method === "HEAD") {
        res.end();
        return;
      }
      // stream until the client goes away
      const pump = (): void => {
        while (!res.destroyed && res.write(CHUNK)) {
          // keep writing while the socket accepts
        }
        if (!res.destroyed) res.once("drain", pump);
      };
      res.on("close", () => res.removeAllListeners("drain"));
      pump();
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
}, 300_000);

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe("a huge manifest", () => {
  for (const tag of ["declared", "chunked"]) {
    it(`(${tag}) is refused with exactly one line`, async () => {
      const started = Date.now();
      const r = await runBin(["inspect", `127.0.0.1:${port}/app:${tag}`, "--insecure"], {
        ...process.env,
        OCIPATCH_CACHE_DIR: "/nonexistent-cache",
      });
      expect(r.code, r.stderr).toBe(6);
      const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/manifest .* (is too large|larger than)/);
      expect(r.stderr).not.toMatch(/Request aborted|unexpected error/);
      expect(Date.now() - started).toBeLessThan(60_000);
    }, 120_000);
  }
});
