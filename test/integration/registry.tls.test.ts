import { readFile, rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isOcipatchError } from "../../src/errors.js";
import type { Image } from "../../src/image/image.js";
import { openRegistryImage, registrySink } from "../../src/transport/registry/index.js";
import { makeTestCa, type TestCa } from "../harness/pki.js";
import {
  type PushedImage,
  pushTestImage,
  skopeoInspectRaw,
  tempDir,
  uniqueRepo,
} from "../harness/registry-fixtures.js";
import { startTlsRegistry, type TlsRegistry } from "../harness/tls-registry.js";

let dir: string;
let pki: TestCa;
let registry: TlsRegistry;
let image: PushedImage;

beforeAll(async () => {
  dir = await tempDir();
  pki = makeTestCa(dir);
  registry = await startTlsRegistry(pki, await readFile(pki.caCert, "utf8"));
  // skopeo pushes without verifying (its --dest-tls-verify=false)
  image = await pushTestImage(`${registry.host}/${uniqueRepo("tls")}:v1`);
});

afterAll(async () => {
  await registry?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Nothing from the host's environment: no CA bundles unless given. */
function env(extra: Record<string, string> = {}) {
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

describe("TLS registries", () => {
  it("without the CA: a clear TLS error naming the registry and the way out", async () => {
    const e = await rejection(openRegistryImage(image.ref, env()));
    expect(isOcipatchError(e, "NETWORK")).toBe(true);
    expect(e.message).toMatch(
      new RegExp(
        `^TLS error talking to registry ${registry.host.replace(/\./g, "\\.")}: .*certificate.*; trust its CA with OCIPATCH_CA_FILE \\(or SSL_CERT_FILE\\), or use the insecure option$`,
      ),
    );
  });

  it("trusts the CA from OCIPATCH_CA_FILE", async () => {
    const img = (await openRegistryImage(image.ref, env({ OCIPATCH_CA_FILE: pki.caCert }))) as Image;
    expect(img.digest).toBe(image.digest);
    expect((await img.configFile()).architecture).toBe("amd64");
  });

  it("trusts the CA from SSL_CERT_FILE, and writes over TLS", async () => {
    const opts = env({ SSL_CERT_FILE: pki.caCert });
    const dest = `${registry.host}/${uniqueRepo("tlsw")}:v1`;
    const r = await registrySink(dest, opts).write(await openRegistryImage(image.ref, opts));
    expect(r.digest).toBe(image.digest);
    expect((await skopeoInspectRaw(dest)).equals(image.manifest)).toBe(true);
  });

  it("insecure skips certificate verification", async () => {
    const img = await openRegistryImage(image.ref, { ...env(), insecure: true });
    expect(img.digest).toBe(image.digest);
  });

  it("a CA file that cannot be read is an IO error naming the variable", async () => {
    const e = await rejection(openRegistryImage(image.ref, env({ OCIPATCH_CA_FILE: `${dir}/missing.pem` })));
    expect(isOcipatchError(e, "IO")).toBe(true);
    expect(e.message).toMatch(
      new RegExp(`^cannot read CA bundle ${dir}/missing.pem \\(from OCIPATCH_CA_FILE\\)`),
    );
  });
});
