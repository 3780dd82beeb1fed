/**
 * The referrers-API branch (distribution spec v1.1) that the harness registry
 * (distribution 2.8) cannot exercise: a tiny in-memory registry on 127.0.0.1 that answers
 * manifest PUTs with `OCI-Subject` and serves `GET /v2/<name>/referrers/<digest>`.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaTypes } from "../../../image/media-types.js";
import type { Digest } from "../../../util/digest.js";
import { attachArtifact, listReferrers } from "../referrers.js";

interface Stored {
  readonly bytes: Buffer;
  readonly mediaType: string;
}

const digestOf = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** Just enough of the distribution API for attachArtifact / listReferrers. */
class TinyRegistry {
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, Stored>();
  readonly tags = new Map<string, string>();
  readonly requests: string[] = [];
  private uploads = 0;
  server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.handle(req, res, Buffer.concat(chunks)));
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    return `127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): string {
    const d = digestOf(bytes);
    this.manifests.set(`${repo}@${d}`, { bytes, mediaType });
    if (!ref.startsWith("sha256:")) this.tags.set(`${repo}:${ref}`, d);
    return d;
  }

  private manifest(repo: string, ref: string): { digest: string; stored: Stored } | undefined {
    const d = ref.startsWith("sha256:") ? ref : this.tags.get(`${repo}:${ref}`);
    const stored = d ? this.manifests.get(`${repo}@${d}`) : undefined;
    return d && stored ? { digest: d, stored } : undefined;
  }

  /** Answers the request; returns true (so every branch can `return send(...)`). */
  private handle(req: IncomingMessage, res: ServerResponse, body: Buffer): boolean {
    const url = new URL(req.url ?? "/", "http://x");
    this.requests.push(`${req.method} ${url.pathname}`);
    const send = (status: number, headers: Record<string, string> = {}, b?: Buffer): true => {
      res.writeHead(status, { "content-length": String(b?.length ?? 0), ...headers });
      res.end(req.method === "HEAD" ? undefined : b);
      return true;
    };
    if (url.pathname === "/v2/") return send(200);
    let m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (m) {
      const [, repo, ref] = m as unknown as [string, string, string];
      if (req.method === "PUT") {
        const mediaType = String(req.headers["content-type"]);
        const d = this.putManifest(repo, ref, body, mediaType);
        const subject = (JSON.parse(body.toString("utf8")) as { subject?: { digest: string } }).subject;
        return send(201, {
          "docker-content-digest": d,
          location: `/v2/${repo}/manifests/${d}`,
          ...(subject ? { "oci-subject": subject.digest } : {}),
        });
      }
      const found = this.manifest(repo, ref);
      if (!found) return send(404, { "content-type": "application/json" }, Buffer.from('{"errors":[]}'));
      return send(
        200,
        { "content-type": found.stored.mediaType, "docker-content-digest": found.digest },
        found.stored.bytes,
      );
    }
    m = /^\/v2\/(.+)\/blobs\/uploads\/(.*)$/.exec(url.pathname);
    if (m) {
      const [, repo, id] = m as unknown as [string, string, string];
      if (req.method === "POST") {
        return send(202, { location: `/v2/${repo}/blobs/uploads/u${++this.uploads}` });
      }
      if (req.method === "PUT") {
        const d = url.searchParams.get("digest")!;
        if (digestOf(body) !== d) return send(400);
        this.blobs.set(`${repo}@${d}`, body);
        return send(201, { location: `/v2/${repo}/blobs/${d}`, "docker-content-digest": d });
      }
      void id;
      return send(405);
    }
    m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(url.pathname);
    if (m) {
      const b = this.blobs.get(`${m[1]}@${m[2]}`);
      return b ? send(200, { "docker-content-digest": m[2]! }, b) : send(404);
    }
    m = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(url.pathname);
    if (m) {
      const [, repo, subject] = m as unknown as [string, string, string];
      const wanted = url.searchParams.get("artifactType");
      const manifests = [];
      for (const [key, stored] of this.manifests) {
        if (!key.startsWith(`${repo}@`)) continue;
        const doc = JSON.parse(stored.bytes.toString("utf8")) as {
          subject?: { digest: string };
          artifactType?: string;
          annotations?: Record<string, string>;
        };
        if (doc.subject?.digest !== subject) continue;
        if (wanted && doc.artifactType !== wanted) continue;
        manifests.push({
          mediaType: stored.mediaType,
          digest: key.slice(repo.length + 1),
          size: stored.bytes.length,
          artifactType: doc.artifactType,
          ...(doc.annotations ? { annotations: doc.annotations } : {}),
        });
      }
      const index = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }),
      );
      return send(200, { "content-type": MediaTypes.ociIndex }, index);
    }
    return send(404);
  }
}

describe("referrers on a registry with the referrers API", () => {
  const reg = new TinyRegistry();
  let host = "";
  let subject = "";
  beforeAll(async () => {
    host = await reg.start();
    const config = Buffer.from("{}");
    reg.blobs.set(`app@${digestOf(config)}`, config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, digest: digestOf(config), size: config.length },
        layers: [],
      }),
    );
    subject = reg.putManifest("app", "v1", manifest, MediaTypes.ociManifest);
  });
  afterAll(() => {
    reg.server?.close();
  });

  it("attaches through the API (OCI-Subject): no tag schema index is written; listReferrers reads the API", async () => {
    const blob = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}\n');
    const res = await attachArtifact(`${host}/app:v1`, {
      artifactType: "application/vnd.in-toto+json",
      mediaType: "application/vnd.in-toto+json",
      blob,
      annotations: { "in-toto.io/predicate-type": "https://openvex.dev/ns/v0.2.0" },
    });
    expect(res.method).toBe("api");
    expect(res.tag).toBeUndefined();
    expect(res.subject.digest).toBe(subject);
    // nothing but the artifact went in: no `sha256-<hex>` tag
    expect(reg.requests.filter((r) => r.startsWith("PUT") && r.includes("/manifests/sha256-"))).toEqual([]);
    expect(reg.blobs.get(`app@${digestOf(blob)}`)).toEqual(blob);

    await attachArtifact(`${host}/app@${subject}`, {
      artifactType: "application/vnd.cyclonedx+json",
      mediaType: "application/vnd.cyclonedx+json",
      blob: Buffer.from('{"bomFormat":"CycloneDX"}'),
    });
    const all = await listReferrers(`${host}/app`, subject as Digest);
    expect(all.method).toBe("api");
    expect(all.referrers.map((r) => r.artifactType).sort()).toEqual([
      "application/vnd.cyclonedx+json",
      "application/vnd.in-toto+json",
    ]);
    const vex = await listReferrers(`${host}/app`, subject as Digest, {
      artifactType: "application/vnd.in-toto+json",
    });
    expect(vex.referrers).toHaveLength(1);
    expect(vex.referrers[0]!.digest).toBe(res.descriptor.digest);
    expect(vex.referrers[0]!.annotations?.["in-toto.io/predicate-type"]).toBe(
      "https://openvex.dev/ns/v0.2.0",
    );
  });
});
