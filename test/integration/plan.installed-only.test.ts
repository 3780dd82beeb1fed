/**
 * `--all --suites security` on Ubuntu noble (issue 15): libpam-modules' security update
 * Pre-Depends on libdb5.3t64, which noble-security does not carry. apt, restricted to the same
 * suite, decides in both cases:
 * - the harness image `ubuntu-noble` (mmdebstrap minbase) does NOT have libdb5.3t64: apt keeps
 *   libpam-modules and libpam-modules-bin back and upgrades the rest (ocipatch used to fail);
 * - with libdb5.3t64 installed from the release (in none of the chosen suites), the installed
 *   version satisfies the dependency and pam is upgraded.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planForImage } from "../../src/backends/dpkg/plan/plan-for-image.js";
import type { Inventory } from "../../src/inventory/types.js";
import type { Plan } from "../../src/plan/types.js";
import { aptSimulate, ensureDpkgStatus, inventoryFromStatus, ubuntuOs } from "../harness/apt-host-oracle.js";
import { ensureUbuntuKeyring, testCacheDir, UBUNTU_ARCHIVE } from "../harness/apt-support.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage } from "../harness/images.js";

const planned = (plan: Plan): Map<string, string> =>
  new Map([...plan.updates, ...plan.newPackages].map((u) => [u.package, u.targetVersion] as const));

async function plan(inv: Inventory, keyring: string): Promise<Plan> {
  const r = await planForImage({
    inventory: inv,
    architecture: "amd64",
    aptFiles: {
      sources: [{ path: "/etc/apt/sources.list", content: `deb ${UBUNTU_ARCHIVE} noble main\n` }],
      keyrings: [
        { path: "/usr/share/keyrings/ubuntu-archive-keyring.gpg", content: await readFile(keyring) },
      ],
    },
    mode: "all",
    suites: ["security"],
    host: null,
    hostKeyrings: null,
    client: { cacheDir: join(testCacheDir(), "apt-cache") },
  });
  expect(r.repositories.map((x) => x.suite)).toEqual(["noble-security"]);
  return r.plan;
}

const aptSecurityOnly = (status: string, keyring: string) =>
  aptSimulate({
    status,
    sources: [`deb [signed-by=${keyring}] ${UBUNTU_ARCHIVE} noble-security main`],
    architecture: "amd64",
    args: ["dist-upgrade"],
  });

const work: string[] = [];
afterAll(async () => {
  for (const d of work) await rm(d, { recursive: true, force: true });
});

/** The dpkg status file of the harness image's only layer (extracted with tar). */
async function harnessStatus(): Promise<string> {
  const img = await ensureImage("ubuntu-noble");
  const blob = (d: string) => join(img.layoutDir, "blobs", d.replace(":", "/"));
  const index = JSON.parse(readFileSync(join(img.layoutDir, "index.json"), "utf8")) as {
    manifests: Array<{ digest: string }>;
  };
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), "utf8")) as {
    layers: Array<{ digest: string }>;
  };
  expect(manifest.layers).toHaveLength(1);
  const dir = makeTempDir("noble-status");
  work.push(dir);
  mkdirSync(dir, { recursive: true });
  execFileSync("tar", ["-xzf", blob(manifest.layers[0]!.digest), "-C", dir, "var/lib/dpkg/status"]);
  return join(dir, "var/lib/dpkg/status");
}

describe("harness ubuntu-noble (no libdb5.3t64), --all --suites security", () => {
  it("keeps back what apt keeps back and plans the rest exactly as apt", async () => {
    const keyring = await ensureUbuntuKeyring();
    const status = await harnessStatus();
    const inv = await inventoryFromStatus(status, ubuntuOs("noble", "24.04"));
    expect(inv.packages.some((p) => p.name === "libdb5.3t64")).toBe(false);
    const p = await plan(inv, keyring);
    const apt = await aptSecurityOnly(status, keyring);
    expect(apt.failed, apt.output).toBe(false);
    expect(apt.output).toMatch(/kept back:\s+libpam-modules libpam-modules-bin\n/);
    expect(planned(p)).toEqual(apt.installs);
    expect(p.unresolved.map((u) => u.package)).toEqual(["libpam-modules", "libpam-modules-bin"]);
    expect(p.unresolved[0]!.reason).toBe(
      "kept back: libpam-modules 1.5.3-5ubuntu5.7 depends on libdb5.3t64, which no available version satisfies",
    );
    // libpam0g and libpam-runtime (same source) are upgraded, as apt does
    expect(planned(p).get("libpam0g")).toBe(apt.installs.get("libpam0g"));
  });
});

describe("noble minbase + libdb5.3t64, --all --suites security", () => {
  let inv: Inventory;
  let status: string;
  let keyring: string;

  beforeAll(async () => {
    keyring = await ensureUbuntuKeyring();
    status = await ensureDpkgStatus("noble-libdb", "noble", UBUNTU_ARCHIVE, ["apt", "libdb5.3t64"], keyring);
    inv = await inventoryFromStatus(status, ubuntuOs("noble", "24.04"));
  }, 30 * 60_000);

  it("the scenario: libdb5.3t64 is installed from the release, and the security pam needs it", () => {
    const libdb = inv.packages.find((p) => p.name === "libdb5.3t64");
    expect(libdb?.version).toBe("5.3.28+dfsg2-7");
  });

  it("plans what apt plans from noble-security alone (libdb5.3t64 stays as installed)", async () => {
    const p = await plan(inv, keyring);
    const apt = await aptSecurityOnly(status, keyring);
    expect(apt.failed, apt.output).toBe(false);
    expect(apt.removals).toEqual([]);
    expect(apt.installs.get("libpam-modules"), "the security pam is part of the upgrade").toBeDefined();
    expect(planned(p)).toEqual(apt.installs);
    expect(p.unresolved).toEqual([]);
    expect(p.newPackages).toEqual([]);
  });
});
