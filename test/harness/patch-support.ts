/** Shared set-up of the patch end-to-end tests: a vulnerability database from the real tracker subset, the CLI in-process. */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll } from "vitest";
import { main } from "../../src/cli/main.js";
import { updateDatabase } from "../../src/vulndb/index.js";
import { makeTempDir, safeRemove } from "./fs.js";

const SHARED = process.env["OCIPATCH_SHARED"] ?? join(import.meta.dirname, "../../../shared");
export const TRACKER_SUBSET = join(SHARED, "vulndata/debian/tracker-subset.json");
const CACHE = process.env["OCIPATCH_TEST_CACHE"] ?? "/var/cache/ocipatch-test";

/** ocipatch's cache (apt indices, verified .debs) shared by the tests, so reruns do not download again. */
export const OCIPATCH_CACHE = join(CACHE, "ocipatch-cache");

/**
 * A vulnerability database built from the real Debian tracker subset (built once per test file,
 * or per bench process). It is removed after the file's tests (at exit in a bench); one a killed
 * process left is swept by the next test run.
 */
let db: Promise<string> | undefined;
export function trackerDb(): Promise<string> {
  db ??= (async () => {
    const dir = makeTempDir("tracker-db");
    if (!underVitest) process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    await updateDatabase({ dbDir: dir, locations: { debian: [TRACKER_SUBSET] } });
    return dir;
  })();
  return db;
}

// registered on the root suite of each test file that imports this module (benches import it too)
const underVitest = process.env["VITEST"] !== undefined;
if (underVitest) {
  afterAll(async () => {
    const dir = await db?.catch(() => undefined); // a failed build already failed its test
    if (dir !== undefined) await safeRemove(dir);
  });
}

interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(c, _e, cb) {
      chunks.push(Buffer.from(c));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

/** Run the CLI in this process with captured output and a test environment. */
export async function runCli(argv: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  mkdirSync(OCIPATCH_CACHE, { recursive: true });
  const out = sink();
  const err = sink();
  const code = await main(argv, {
    stdout: out.stream,
    stderr: err.stream,
    env: {
      PATH: process.env["PATH"],
      HOME: process.env["HOME"],
      CI: "true",
      OCIPATCH_CACHE_DIR: OCIPATCH_CACHE,
      ...env,
    },
  });
  return { code, stdout: out.text(), stderr: err.text() };
}
