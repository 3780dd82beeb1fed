/**
 * A real dockerd listening on tcp://127.0.0.1:PORT with `--tlsverify` (CA, server and client
 * certificates from openssl): `patch` reads the image from it and loads the patched image into
 * it with DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH as the docker CLI takes them. The
 * wrong CA, a missing client certificate and plain HTTP against the TLS port are one clear line
 * each, before any work.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { updateDatabase } from "../../src/vulndb/index.js";
import { startDockerd, type TestEngine } from "../harness/dockerd.js";
import { run } from "../harness/exec.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage } from "../harness/images.js";
import { runCli, TRACKER_SUBSET } from "../harness/patch-support.js";
import { makeClientCertDir, makeTestCa } from "../harness/pki.js";

const work: string[] = [];
function temp(label: string): string {
  const d = makeTempDir(label);
  work.push(d);
  return d;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

describe("patch with a dockerd over tcp:// + TLS", { timeout: 600_000 }, () => {
  let engine: TestEngine;
  let dbDir: string;
  let host: string;
  let certDir: string;
  const localRef = `local/nginx-tls-${process.pid}:1`;

  beforeAll(async () => {
    dbDir = temp("engine-tls-db");
    await updateDatabase({ dbDir, locations: { debian: [TRACKER_SUBSET] } });
    const img = await ensureImage("nginx-bullseye");
    const pki = temp("engine-tls-pki");
    const ca = makeTestCa(pki);
    certDir = join(pki, "client");
    mkdirSync(certDir);
    makeClientCertDir(pki, ca, certDir);
    const port = await freePort();
    host = `tcp://127.0.0.1:${port}`;
    engine = await startDockerd({ tls: { port, ca: ca.caCert, cert: ca.serverCert, key: ca.serverKey } });
    const dir = temp("engine-tls-load");
    await run("skopeo", ["copy", "-q", img.ociRef, `docker-archive:${join(dir, "a.tar")}:${localRef}`]);
    await engine.docker(["load", "-q", "-i", join(dir, "a.tar")]);
  }, 600_000);
  afterAll(async () => {
    await engine?.stop();
    for (const d of work) await rm(d, { recursive: true, force: true });
  });

  it("reads the image from the TLS engine and loads the patched image into it", async () => {
    const r = await runCli(["patch", "-i", localRef, "--db-dir", dbDir, "--skip-db-update"], {
      DOCKER_HOST: host,
      DOCKER_TLS_VERIFY: "1",
      DOCKER_CERT_PATH: certDir,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Patched image successfully. Loaded locally: ${localRef}-patched`);
    const inspect = JSON.parse(
      (await engine.docker(["image", "inspect", `${localRef}-patched`])).stdout,
    ) as Array<{ RootFS: { Layers: string[] }; Config: { Labels: Record<string, string> } }>;
    const original = JSON.parse((await engine.docker(["image", "inspect", localRef])).stdout) as Array<{
      RootFS: { Layers: string[] };
    }>;
    expect(inspect[0]!.RootFS.Layers.slice(0, -1)).toEqual(original[0]!.RootFS.Layers);
    expect(inspect[0]!.Config.Labels["io.ocipatch.layer.diffid"]).toBe(inspect[0]!.RootFS.Layers.at(-1));
  });

  it("the wrong CA: one line naming the TLS verification, before any work", async () => {
    const other = temp("engine-tls-other-ca");
    const wrong = makeTestCa(other);
    const dir = join(other, "client");
    mkdirSync(dir);
    // the right client certificate, the wrong CA
    await run("cp", [join(certDir, "cert.pem"), join(certDir, "key.pem"), dir]);
    writeFileSync(join(dir, "ca.pem"), readFileSync(wrong.caCert));
    const r = await runCli(["patch", "-i", localRef, "--db-dir", dbDir, "--skip-db-update"], {
      DOCKER_HOST: host,
      DOCKER_TLS_VERIFY: "1",
      DOCKER_CERT_PATH: dir,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
    expect(r.stderr).not.toContain("Scanning image");
    expect(r.stderr).toContain(`TLS verification of the container engine at ${host} failed`);
    expect(r.stderr).toContain("DOCKER_CERT_PATH's ca.pem");
  });

  it("no client certificate: one line saying the engine refused it", async () => {
    const dir = temp("engine-tls-no-client");
    await run("cp", [join(certDir, "ca.pem"), dir]);
    const r = await runCli(["patch", "-i", localRef, "--db-dir", dbDir, "--skip-db-update"], {
      DOCKER_HOST: host,
      DOCKER_TLS_VERIFY: "1",
      DOCKER_CERT_PATH: dir,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
    expect(r.stderr).toContain(`the container engine at ${host} refused this client's TLS certificate`);
  });

  it("no TLS variables against the TLS port: one line saying the engine expects TLS", async () => {
    const r = await runCli(["patch", "-i", localRef, "--db-dir", dbDir, "--skip-db-update"], {
      DOCKER_HOST: host,
      DOCKER_TLS_VERIFY: undefined,
      DOCKER_CERT_PATH: undefined,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
    expect(r.stderr).toContain(`the container engine at ${host} expects TLS: set DOCKER_TLS_VERIFY=1`);
  });
});
