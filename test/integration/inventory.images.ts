/**
 * Where the real-image tests get their images. ONE function, `testImageLayout`,
 * so the tests switch to the shared test-image harness with a one-line change:
 *
 *   return ensureImage(name).then((i) => ({ name, layoutDir: i.layoutDir, tag: i.tag }));
 *
 * (ensureImage from test/harness/images.ts). Until that harness is on main this
 * interim version uses an image the harness already built in the shared cache
 * ($OCIPATCH_TEST_CACHE/images/<name>-<key>/), or builds the Debian ones with the
 * shared bench scripts (../shared/bench/build-image.sh), and returns undefined
 * (the test is skipped with a message) when neither is possible.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { hostMirrors, TEST_CACHE } from "./inventory.mirror.js";

export type TestImageName =
  | "debian-bullseye"
  | "debian-bookworm"
  | "nginx-bullseye"
  | "ubuntu-jammy"
  | "distroless-bookworm";

export interface TestImageLayout {
  readonly name: TestImageName;
  /** OCI image layout directory (read-only for tests). */
  readonly layoutDir: string;
  readonly tag: string;
}

export async function testImageLayout(name: TestImageName): Promise<TestImageLayout | undefined> {
  return fromHarnessCache(name) ?? fromBench(name);
}

function fromHarnessCache(name: TestImageName): TestImageLayout | undefined {
  const root = join(TEST_CACHE, "images");
  if (!existsSync(root)) return undefined;
  const candidates = readdirSync(root)
    .filter((d) => d.startsWith(`${name}-`) && /^[0-9a-f]{16}$/.test(d.slice(name.length + 1)))
    .map((d) => join(root, d))
    .filter((d) => existsSync(join(d, "image.json")) && existsSync(join(d, "layout", "index.json")))
    .sort((a, b) => statSync(join(b, "image.json")).mtimeMs - statSync(join(a, "image.json")).mtimeMs);
  const dir = candidates[0];
  if (!dir) return undefined;
  const meta = JSON.parse(readFileSync(join(dir, "image.json"), "utf8")) as {
    tag: string;
    layoutDir?: string;
  };
  return { name, layoutDir: join(dir, "layout"), tag: meta.tag };
}

const BENCH_RECIPES: Partial<Record<TestImageName, { args: string[]; slug: string; tag: string }>> = {
  "debian-bullseye": { args: ["bullseye", "debian:bullseye"], slug: "debian_bullseye", tag: "bullseye" },
  "debian-bookworm": { args: ["bookworm", "debian:bookworm"], slug: "debian_bookworm", tag: "bookworm" },
  "nginx-bullseye": {
    args: ["bullseye", "nginx:bullseye", "nginx-light", "curl", "openssl", "ca-certificates"],
    slug: "nginx_bullseye",
    tag: "bullseye",
  },
};

function fromBench(name: TestImageName): TestImageLayout | undefined {
  const recipe = BENCH_RECIPES[name];
  const script = resolve(import.meta.dirname, "../../../shared/bench/build-image.sh");
  const fallback = "/work/shared/bench/build-image.sh";
  const build = existsSync(script) ? script : existsSync(fallback) ? fallback : undefined;
  if (!recipe || !build) return undefined;
  const benchDir = join(TEST_CACHE, "dpkg-bench");
  const layoutDir = join(benchDir, "images", recipe.slug);
  if (!existsSync(join(layoutDir, "index.json"))) {
    mkdirSync(benchDir, { recursive: true });
    const m = hostMirrors();
    try {
      // The script pushes to a registry at the end; the OCI layout is complete before that.
      execFileSync(build, recipe.args, {
        env: {
          ...process.env,
          BENCH_DIR: benchDir,
          REGISTRY: "127.0.0.1:9",
          DEBIAN_MIRROR: m.debian,
          SECURITY_MIRROR: m.security,
        },
        stdio: "ignore",
        timeout: 1_200_000,
      });
    } catch {
      // push failure expected
    }
  }
  return existsSync(join(layoutDir, "index.json")) ? { name, layoutDir, tag: recipe.tag } : undefined;
}
