/**
 * The exit codes of README's "Exit codes" table, from the real `bin/ocipatch` process, one
 * real failure of each class: against the harness's registries (anonymous and htpasswd), a
 * refused port and OCI layouts skopeo wrote.
 */
import { writeFileSync } from "node:fs";
import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EXIT_CODES } from "../../src/errors.js";
import { ensureBuilt, runBin } from "../harness/cli.js";
import { pushTestImage, randomLayer, skopeoCopy, tempDir, uniqueRepo } from "../harness/registry-fixtures.js";

const reg = inject("registry");
const authReg = inject("authRegistry");

let work: string;
let env: NodeJS.ProcessEnv;
/** An OCI layout (tag `t`) of a one-layer image, written by skopeo. */
let layout: string;

beforeAll(async () => {
  await ensureBuilt();
  work = await tempDir("ocipatch-exit-codes-");
  env = { PATH: process.env["PATH"], HOME: work, DOCKER_CONFIG: join(work, ".docker") };
  const img = await pushTestImage(`${reg.host}/${uniqueRepo("exitcodes")}:v1`, {
    layers: [randomLayer(20_000, "e.bin")],
  });
  layout = join(work, "layout");
  await skopeoCopy(`docker://${img.ref}`, `oci:${layout}:t`);
}, 300_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Run bin/ocipatch; expect one `[error]` line matching `message` and the exit code `code`. */
async function failsWith(args: string[], code: number, message: RegExp): Promise<void> {
  const r = await runBin(args, env);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("[error]"));
  expect({ args, code: r.code, errors }).toEqual({ args, code, errors: [expect.stringMatching(message)] });
}

describe("exit codes of real failures (bin/ocipatch)", () => {
  it("usage: a malformed reference, an unknown transport, an unknown flag → 2", async () => {
    expect(EXIT_CODES.REFERENCE_INVALID).toBe(2);
    await failsWith(["inspect", "Bad/UPPER:case"], 2, /invalid image reference "Bad\/UPPER:case"/);
    await failsWith(["inspect", "ftp://host/x"], 2, /unknown transport "ftp"/);
    await failsWith(["inspect", "--no-such-flag", "x"], 2, /unknown option/);
  });

  it("not found: a tag missing from a local OCI layout, a missing repository → 3", async () => {
    await failsWith(["inspect", `oci:${layout}:missing`], 3, /missing/);
    await failsWith(["inspect", `${reg.host}/does/not-exist:v1`], 3, /not found/);
  });

  it("auth: a wrong password against the htpasswd registry → 4", async () => {
    await failsWith(
      ["inspect", "--creds", `${authReg.username}:wrong-Pa55-31`, `${authReg.host}/x/y:z`],
      4,
      new RegExp(`authentication failed for registry ${authReg.host}`),
    );
  });

  it("network: a refused connection → 5", async () => {
    await failsWith(
      ["inspect", "127.0.0.1:1/x:y"],
      5,
      /cannot connect to registry 127\.0\.0\.1:1: connection refused/,
    );
  });

  it("verification: a tampered blob in an OCI layout → 6, nothing written", async () => {
    const tampered = join(work, "tampered");
    await skopeoCopy(`oci:${layout}:t`, `oci:${tampered}:t`);
    const index = JSON.parse(await readFile(join(tampered, "index.json"), "utf8")) as {
      manifests: { digest: string }[];
    };
    const blobPath = (d: string) => join(tampered, "blobs", ...d.split(":"));
    const manifest = JSON.parse(await readFile(blobPath(index.manifests[0]!.digest), "utf8")) as {
      layers: { digest: string }[];
    };
    const layer = manifest.layers[0]!.digest;
    // same size, different bytes: only the digest check can notice
    const fh = await open(blobPath(layer), "r+");
    try {
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, 100);
      b[0] = b[0]! ^ 0xff;
      await fh.write(b, 0, 1, 100);
    } finally {
      await fh.close();
    }
    await failsWith(["copy", `oci:${tampered}:t`, `oci:${join(work, "out6")}:t`], 6, new RegExp(layer));
  });

  it("local I/O: a destination under a regular file → 10", async () => {
    const file = join(work, "a-file");
    writeFileSync(file, "x");
    await failsWith(["copy", `oci:${layout}:t`, `oci:${file}/sub:t`], 10, /a-file/);
  });
});
