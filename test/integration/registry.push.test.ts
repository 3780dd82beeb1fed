import { spawnSync } from "node:child_process";
import { createWriteStream } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { afterAll, describe, expect, inject, it } from "vitest";
import { FileLayer } from "../../src/image/file-layer.js";
import type { Image } from "../../src/image/image.js";
import { MediaTypes } from "../../src/image/media-types.js";
import { mutateImage } from "../../src/image/mutate.js";
import { headManifest, openRegistryImage, registrySink } from "../../src/transport/registry/index.js";
import { sha256 } from "../../src/util/digest.js";
import type { BlobAction } from "../../src/util/progress.js";
import {
  pushTestImage,
  pushTestIndex,
  randomLayer,
  run,
  sha256Hex,
  skopeoCopy,
  skopeoInspectRaw,
  tempDir,
  uniqueRepo,
} from "../harness/registry-fixtures.js";

const reg = inject("registry");
const authReg = inject("authRegistry");
const auth = { username: authReg.username, password: authReg.password };
const authOpts = { credentials: auth };

const work: string[] = [];
async function scratch(): Promise<string> {
  const d = await tempDir();
  work.push(d);
  return d;
}
afterAll(async () => {
  for (const d of work) await rm(d, { recursive: true, force: true });
});

/** Requests ocipatch made for a repository, from the registry's access log. */
async function ocipatchRequests(
  logFile: string,
  repo: string,
): Promise<{ method: string; uri: string; status: number }[]> {
  const log = await readFile(logFile, "utf8");
  const out: { method: string; uri: string; status: number }[] = [];
  for (const line of log.split("\n")) {
    if (!line.includes("http.request.useragent=ocipatch/") || !line.includes('msg="response completed"'))
      continue;
    const method = /http\.request\.method=(\S+)/.exec(line)?.[1];
    const uri = /http\.request\.uri="?([^"\s]+)"?/.exec(line)?.[1];
    const status = /http\.response\.status=(\d+)/.exec(line)?.[1];
    if (method && uri && status && uri.startsWith(`/v2/${repo}/`))
      out.push({ method, uri, status: Number(status) });
  }
  return out;
}

/** skopeo pulls the image into an OCI layout (verifying every blob) and umoci unpacks it. */
async function unpackWithTools(ref: string, authFor?: typeof auth): Promise<string> {
  const dir = await scratch();
  await skopeoCopy(`docker://${ref}`, `oci:${dir}/layout:img`, authFor ? { srcAuth: authFor } : {});
  await run("umoci", ["unpack", "--image", `${dir}/layout:img`, `${dir}/bundle`]);
  return join(dir, "bundle", "rootfs");
}

describe("pushing to a registry", () => {
  it("copies registry→registry keeping the manifest digest; skopeo reads the result", async () => {
    const src = `${reg.host}/${uniqueRepo("push")}:v1`;
    const pushed = await pushTestImage(src, {
      layers: [randomLayer(3000, "a.bin"), randomLayer(5000, "b.bin")],
    });
    const dest = `${authReg.host}/${uniqueRepo("copy")}:v1`;
    const img = await openRegistryImage(src);
    const events: [string, BlobAction][] = [];
    const result = await registrySink(dest, authOpts).write(img, {
      progress: { blobDone: (d, a) => events.push([d.digest, a]) },
    });
    expect(result.digest).toBe(pushed.digest);
    expect(result.location).toBe(`${dest}@${pushed.digest}`);
    const manifest = JSON.parse(pushed.manifest.toString()) as {
      config: { size: number };
      layers: { size: number }[];
    };
    expect(result.stats).toEqual({
      blobsUploaded: 3,
      bytesUploaded: manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0),
      blobsSkipped: 0,
      blobsMounted: 0,
    });
    expect(events.map((e) => e[1])).toEqual(["upload", "upload", "upload"]);
    // skopeo sees exactly the same manifest bytes, and can copy every blob
    const raw = await skopeoInspectRaw(dest, auth);
    expect(raw.equals(pushed.manifest)).toBe(true);
    const rootfs = await unpackWithTools(dest, auth);
    expect((await readFile(join(rootfs, "opt/b.bin"))).length).toBe(5000);
  });

  it("a second push skips every blob; a changed config uploads only the config", async () => {
    const src = `${reg.host}/${uniqueRepo("push")}:v1`;
    await pushTestImage(src, { layers: [randomLayer(), randomLayer(1000, "x.bin")] });
    const destRepo = uniqueRepo("again");
    const img = (await openRegistryImage(src)) as Image;
    const first = await registrySink(`${authReg.host}/${destRepo}:one`, authOpts).write(img);
    expect(first.stats.blobsUploaded).toBe(3);
    const second = await registrySink(`${authReg.host}/${destRepo}:two`, authOpts).write(img);
    expect(second.stats).toEqual({ blobsUploaded: 0, bytesUploaded: 0, blobsSkipped: 3, blobsMounted: 0 });
    expect((await headManifest(`${authReg.host}/${destRepo}:two`, authOpts))?.digest).toBe(img.digest);

    const relabelled = await mutateImage(img, { labels: { "org.example.test": "yes" } });
    const third = await registrySink(`${authReg.host}/${destRepo}:three`, authOpts).write(relabelled);
    expect(third.stats).toEqual({
      blobsUploaded: 1,
      bytesUploaded: relabelled.manifest.config.size,
      blobsSkipped: 2,
      blobsMounted: 0,
    });
    expect(third.digest).toBe(relabelled.digest);
    const raw = await skopeoInspectRaw(`${authReg.host}/${destRepo}:three`, auth);
    expect(sha256(raw)).toBe(relabelled.digest);
  });

  it("mounts blobs from another repository of the same registry", async () => {
    const srcRepo = uniqueRepo("mountsrc");
    const pushed = await pushTestImage(`${reg.host}/${srcRepo}:v1`, {
      layers: [randomLayer(), randomLayer()],
    });
    const destRepo = uniqueRepo("mountdst");
    const img = await openRegistryImage(`${reg.host}/${srcRepo}:v1`);
    const result = await registrySink(`${reg.host}/${destRepo}:v1`).write(img);
    expect(result.stats).toEqual({ blobsUploaded: 0, bytesUploaded: 0, blobsSkipped: 0, blobsMounted: 3 });
    const reqs = await ocipatchRequests(reg.logFile, destRepo);
    const mounts = reqs.filter(
      (r) => r.method === "POST" && r.uri.includes("mount=") && r.uri.includes("from="),
    );
    expect(mounts).toHaveLength(3);
    expect(mounts.every((r) => r.status === 201)).toBe(true);
    expect(reqs.some((r) => r.method === "PATCH" || (r.method === "PUT" && r.uri.includes("/blobs/")))).toBe(
      false,
    );
    expect((await skopeoInspectRaw(`${reg.host}/${destRepo}:v1`)).equals(pushed.manifest)).toBe(true);
    await unpackWithTools(`${reg.host}/${destRepo}:v1`);
  });

  it("falls back to uploading into the session a declined mount opened", async () => {
    const srcRepo = uniqueRepo("mountsrc");
    await pushTestImage(`${reg.host}/${srcRepo}:v1`);
    const img = (await openRegistryImage(`${reg.host}/${srcRepo}:v1`)) as Image;
    // claim the blobs live in a repository that does not have them
    const elsewhere = { registry: reg.host, repository: uniqueRepo("empty") };
    const layers = (await img.layers()).map((l) => ({
      ...l,
      descriptor: l.descriptor,
      origin: elsewhere,
      compressed: (o?: { signal?: AbortSignal }) => l.compressed(o),
      uncompressed: (o?: { signal?: AbortSignal }) => l.uncompressed(o),
    }));
    const moved: Image = {
      ...img,
      kind: "image",
      origin: elsewhere,
      layers: async () => layers,
      rawConfig: () => img.rawConfig(),
      configFile: () => img.configFile(),
    };
    const destRepo = uniqueRepo("declined");
    const result = await registrySink(`${reg.host}/${destRepo}:v1`).write(moved);
    expect(result.stats).toMatchObject({ blobsUploaded: 2, blobsMounted: 0 });
    const reqs = await ocipatchRequests(reg.logFile, destRepo);
    const mounts = reqs.filter((r) => r.method === "POST" && r.uri.includes("mount="));
    expect(mounts.map((r) => r.status)).toEqual([202, 202]);
    // the sessions the declined mounts opened were used: no other upload was started
    expect(reqs.filter((r) => r.method === "POST" && !r.uri.includes("mount="))).toHaveLength(0);
    expect(
      reqs.filter((r) => r.method === "PUT" && r.uri.includes("/blobs/uploads/")).map((r) => r.status),
    ).toEqual([201, 201]);
    await unpackWithTools(`${reg.host}/${destRepo}:v1`);
  });

  it("uploads large blobs in chunks (PATCH) and small ones in one PUT", async () => {
    const src = `${reg.host}/${uniqueRepo("push")}:v1`;
    // random bytes do not compress: the gzip layer stays ~300 KiB
    const pushed = await pushTestImage(src, { layers: [randomLayer(300 * 1024, "big.bin")] });
    const img = (await openRegistryImage(src)) as Image;
    const layerSize = img.manifest.layers[0]!.size;
    const chunkSize = 64 * 1024;

    const chunkedRepo = uniqueRepo("chunked");
    await registrySink(`${authReg.host}/${chunkedRepo}:v1`, { ...authOpts, chunkSize }).write(img);
    const chunked = await ocipatchRequests(authReg.logFile, chunkedRepo);
    const patches = chunked.filter((r) => r.method === "PATCH");
    expect(patches).toHaveLength(Math.ceil(layerSize / chunkSize));
    expect(patches.every((r) => r.status === 202)).toBe(true);

    const monoRepo = uniqueRepo("mono");
    await registrySink(`${authReg.host}/${monoRepo}:v1`, authOpts).write(img);
    const mono = await ocipatchRequests(authReg.logFile, monoRepo);
    expect(mono.filter((r) => r.method === "PATCH")).toHaveLength(0);
    const blobPuts = mono.filter((r) => r.method === "PUT" && r.uri.includes("/blobs/uploads/"));
    expect(blobPuts).toHaveLength(2);
    expect(blobPuts.every((r) => r.status === 201)).toBe(true);

    for (const repo of [chunkedRepo, monoRepo]) {
      expect((await skopeoInspectRaw(`${authReg.host}/${repo}:v1`, auth)).equals(pushed.manifest)).toBe(true);
      const rootfs = await unpackWithTools(`${authReg.host}/${repo}:v1`, auth);
      expect(sha256Hex(await readFile(join(rootfs, "opt/big.bin")))).toBe(
        sha256Hex(await readFileFromTar(pushed.tars[0]!, "./opt/big.bin")),
      );
    }
  });

  it("copies an index with two platforms keeping every digest", async () => {
    const src = `${reg.host}/${uniqueRepo("pushidx")}:multi`;
    const pushed = await pushTestIndex(src, ["amd64", "arm64"]);
    const dest = `${authReg.host}/${uniqueRepo("idxcopy")}:multi`;
    const idx = await openRegistryImage(src);
    const result = await registrySink(dest, authOpts).write(idx);
    expect(result.digest).toBe(pushed.digest);
    expect(result.stats.blobsUploaded).toBe(4);
    expect((await skopeoInspectRaw(dest, auth)).equals(pushed.manifest)).toBe(true);
    // skopeo copies the whole index back (verifying every child and blob)
    const dir = await scratch();
    await skopeoCopy(`docker://${dest}`, `oci:${dir}/layout:multi`, {
      srcAuth: auth,
      args: ["--all", "--preserve-digests"],
    });
    const index = JSON.parse(await readFile(join(dir, "layout/index.json"), "utf8")) as {
      manifests: { digest: string }[];
    };
    expect(index.manifests[0]!.digest).toBe(pushed.digest);
    // pushing again writes nothing
    const again = await registrySink(dest, authOpts).write(idx);
    expect(again.stats.blobsUploaded).toBe(0);
    expect(again.stats.blobsSkipped).toBe(4);
  });

  it("copies a Docker schema 2 image keeping its media type and digest", async () => {
    const src = `${reg.host}/${uniqueRepo("push")}:v2s2`;
    const pushed = await pushTestImage(src, { format: "v2s2" });
    const dest = `${authReg.host}/${uniqueRepo("v2s2")}:v1`;
    const result = await registrySink(dest, authOpts).write(await openRegistryImage(src));
    expect(result.mediaType).toBe(MediaTypes.dockerManifest);
    expect(result.digest).toBe(pushed.digest);
    const head = await headManifest(dest, authOpts);
    expect(head?.mediaType).toBe(MediaTypes.dockerManifest);
  });

  it("writes by digest when the reference has no tag", async () => {
    const src = `${reg.host}/${uniqueRepo("push")}:v1`;
    const pushed = await pushTestImage(src);
    const repo = uniqueRepo("bydigest");
    const result = await registrySink(`${authReg.host}/${repo}@${pushed.digest}`, authOpts).write(
      await openRegistryImage(src),
    );
    expect(result.location).toBe(`${authReg.host}/${repo}@${pushed.digest}`);
    expect(
      (await skopeoInspectRaw(`${authReg.host}/${repo}@${pushed.digest}`, auth)).equals(pushed.manifest),
    ).toBe(true);
  });

  it("pushes an image with an appended layer that skopeo and umoci can unpack", async () => {
    const src = `${reg.host}/${uniqueRepo("push")}:v1`;
    await pushTestImage(src, { layers: [{ "etc/base.txt": "base\n", ...randomLayer(100) }] });
    const base = (await openRegistryImage(src)) as Image;
    const dir = await scratch();
    await writeFile(join(dir, "patch.txt"), "patched\n");
    await run("tar", ["-C", dir, "-cf", join(dir, "layer.tar"), "patch.txt"]);
    const tar = await readFile(join(dir, "layer.tar"));
    await pipeline(Readable.from([tar]), createGzip(), createWriteStream(join(dir, "layer.tar.gz")));
    const gz = await readFile(join(dir, "layer.tar.gz"));
    const layer = new FileLayer(
      join(dir, "layer.tar.gz"),
      { mediaType: MediaTypes.ociLayerGzip, digest: sha256(gz), size: gz.length },
      sha256(tar),
      "gzip",
    );
    const patched = await mutateImage(base, { append: [layer] });
    const dest = `${reg.host}/${uniqueRepo("patched")}:v1`;
    const result = await registrySink(dest).write(patched);
    // base layer and... nothing else is in the new repository: the base blobs are mounted
    expect(result.stats).toEqual({
      blobsUploaded: 2,
      bytesUploaded: gz.length + patched.manifest.config.size,
      blobsSkipped: 0,
      blobsMounted: 1,
    });
    const rootfs = await unpackWithTools(dest);
    expect(await readFile(join(rootfs, "patch.txt"), "utf8")).toBe("patched\n");
    expect(await readFile(join(rootfs, "etc/base.txt"), "utf8")).toBe("base\n");
  });
});

/** A file's content from a tar (with the system tar, as an independent reader). */
async function readFileFromTar(tar: Buffer, path: string): Promise<Buffer> {
  const r = spawnSync("tar", ["-xOf", "-", path], { input: tar, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`tar: ${r.stderr.toString()}`);
  return r.stdout;
}
