/**
 * `db update` against a local HTTP server serving the real feeds: conditional
 * downloads (ETag, Last-Modified), retries, truncated/corrupt downloads keeping
 * the previous data, atomic replacement, and the CLI's messages.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isOcipatchError } from "../../src/errors.js";
import {
  databaseStatus,
  defaultDbDir,
  openDatabaseForScan,
  STALE_AFTER_MS,
  updateDatabase,
  VulnDatabase,
} from "../../src/vulndb/index.js";
import { jq, runCli, TRACKER_SUBSET, tempDir, VULNDATA } from "./vulndb.fixtures.js";

interface Served {
  body: Buffer;
  etag?: string;
  lastModified?: string;
  /** "ok" | "truncate" (send half, then reset) | "status:<code>" once */
  mode?: string;
  failuresLeft?: number;
}

const routes = new Map<string, Served>();
const requests: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
let server: Server;
let base: string;
let tmp: string;

beforeAll(async () => {
  tmp = tempDir();
  server = createServer((req, res) => {
    requests.push({ url: req.url ?? "", headers: req.headers });
    const r = routes.get(req.url ?? "");
    if (!r) {
      res.writeHead(404).end("not found");
      return;
    }
    if (r.mode?.startsWith("status:") && (r.failuresLeft ?? 0) > 0) {
      r.failuresLeft!--;
      res.writeHead(Number(r.mode.slice(7))).end("try later");
      return;
    }
    const inm = req.headers["if-none-match"];
    const ims = req.headers["if-modified-since"];
    if ((r.etag && inm === r.etag) || (!r.etag && r.lastModified && ims === r.lastModified)) {
      res.writeHead(304).end();
      return;
    }
    const headers: Record<string, string> = { "content-length": String(r.body.length) };
    if (r.etag) headers["etag"] = r.etag;
    if (r.lastModified) headers["last-modified"] = r.lastModified;
    res.writeHead(200, headers);
    if (r.mode === "truncate") {
      res.write(r.body.subarray(0, Math.floor(r.body.length / 2)), () => res.destroy());
      return;
    }
    res.end(r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  routes.clear();
  requests.length = 0;
});

const tracker = readFileSync(TRACKER_SUBSET);
const trackerRecords = jq("[.[] | .[] | .releases | length] | add", TRACKER_SUBSET) as number;
const FAST = { retryDelayMs: 10 };

function dbDir(name: string): string {
  return join(tmp, name);
}

describe("conditional downloads", () => {
  it("imports, then revalidates with If-None-Match (304 keeps the rows), then re-imports changed content", async () => {
    const dir = dbDir("etag");
    routes.set("/tracker.json", { body: tracker, etag: '"v1"' });
    const first = await updateDatabase({
      dbDir: dir,
      locations: { debian: [`${base}/tracker.json`] },
      fetch: FAST,
    });
    expect(first.results.map((r) => [r.outcome, r.records])).toEqual([["imported", trackerRecords]]);
    expect(requests.at(-1)?.headers["if-none-match"]).toBeUndefined();

    const inode = statSync(first.path).ino;
    const second = await updateDatabase({ dbDir: dir, fetch: FAST });
    expect(requests.at(-1)?.headers["if-none-match"]).toBe('"v1"');
    expect(second.results.map((r) => [r.outcome, r.records])).toEqual([["unchanged", trackerRecords]]);
    // nothing changed: no rebuild, the check time is recorded in place
    expect(second.rebuilt).toBe(false);
    expect(statSync(second.path).ino).toBe(inode);
    const checkedAt = (p: {
      metadata?: { feeds: ReadonlyArray<{ checkedAt?: string }> };
    }): string | undefined => p.metadata?.feeds[0]?.checkedAt;
    expect(checkedAt(second)! > checkedAt(first)!).toBe(true);

    const small = {
      "zlib-x": { "CVE-2030-1": { releases: { bookworm: { status: "open", urgency: "low" } } } },
    };
    routes.set("/tracker.json", { body: Buffer.from(JSON.stringify(small)), etag: '"v2"' });
    const third = await updateDatabase({ dbDir: dir, fetch: FAST });
    expect(third.results.map((r) => [r.outcome, r.records])).toEqual([["imported", 1]]);
    const db = VulnDatabase.open(third.path);
    expect(db.recordsFor("debian:bookworm", "zlib-x").map((r) => r.vulnId)).toEqual(["CVE-2030-1"]);
    expect(db.metadata().feeds[0]).toMatchObject({
      etag: '"v2"',
      status: "ok",
      location: `${base}/tracker.json`,
    });
    db.close();
  });

  it("uses If-Modified-Since when the server only sends Last-Modified; --force ignores validators", async () => {
    const dir = dbDir("lastmod");
    const lm = "Wed, 21 Oct 2026 07:28:00 GMT";
    routes.set("/t.json", { body: tracker, lastModified: lm });
    await updateDatabase({ dbDir: dir, locations: { debian: [`${base}/t.json`] } });
    const again = await updateDatabase({ dbDir: dir });
    expect(requests.at(-1)?.headers["if-modified-since"]).toBe(lm);
    expect(again.results[0]?.outcome).toBe("unchanged");
    const forced = await updateDatabase({ dbDir: dir, force: true });
    expect(requests.at(-1)?.headers["if-modified-since"]).toBeUndefined();
    expect(forced.results[0]?.outcome).toBe("imported");
  });

  it("retries 503s and resets, and gives up with a clear message", async () => {
    const dir = dbDir("retry");
    routes.set("/t.json", { body: tracker, etag: '"r"', mode: "status:503", failuresLeft: 2 });
    const ok = await updateDatabase({ dbDir: dir, locations: { debian: [`${base}/t.json`] }, fetch: FAST });
    expect(ok.results[0]?.outcome).toBe("imported");
    expect(requests.filter((r) => r.url === "/t.json")).toHaveLength(3);

    routes.set("/t.json", { body: tracker, etag: '"r2"', mode: "status:503", failuresLeft: 10 });
    const fail = await updateDatabase({ dbDir: dir, fetch: FAST });
    expect(fail.results[0]).toMatchObject({ outcome: "kept-previous", records: trackerRecords });
    expect(fail.results[0]?.error).toMatch(/download of http:\/\/127\.0\.0\.1:\d+\/t\.json failed: HTTP 503/);
  });
});

describe("bad downloads keep the previous database", () => {
  it("a download cut in the middle (Content-Length not reached) keeps the previous rows", async () => {
    const dir = dbDir("truncate");
    routes.set("/t.json", { body: tracker, etag: '"a"' });
    await updateDatabase({ dbDir: dir, locations: { debian: [`${base}/t.json`] } });
    const before = statSync(join(dir, "vulndb.sqlite")).ino;
    routes.set("/t.json", { body: tracker, etag: '"b"', mode: "truncate" });
    const r = await updateDatabase({ dbDir: dir, fetch: FAST });
    expect(r.results[0]).toMatchObject({ outcome: "kept-previous", records: trackerRecords });
    expect(r.results[0]?.error).toMatch(/interrupted|truncated|failed/);
    // nothing could be updated: the same file stays, with the failure recorded for `db status`
    expect(r.rebuilt).toBe(false);
    expect(statSync(join(dir, "vulndb.sqlite")).ino).toBe(before);
    expect(readdirSync(dir).filter((f) => f !== "vulndb.sqlite")).toEqual([]);
    expect(databaseStatus(dir).warnings.join()).toMatch(/debian: last update failed: .*t\.json/);
    const db = VulnDatabase.open(join(dir, "vulndb.sqlite"));
    expect(db.metadata().feeds[0]).toMatchObject({ records: trackerRecords, status: "error", etag: '"a"' });
    db.close();
  });

  it("a complete but corrupt (truncated JSON) feed keeps its previous rows while other feeds update", async () => {
    const dir = dbDir("corrupt");
    routes.set("/t.json", { body: tracker, etag: '"a"' });
    routes.set("/alpine/openssl.json", {
      body: readFileSync(join(VULNDATA, "alpine/vuln-list-v3.21-main/openssl.json")),
      etag: '"o1"',
    });
    await updateDatabase({
      dbDir: dir,
      locations: { debian: [`${base}/t.json`], alpine: [`${base}/alpine/openssl.json`] },
    });
    routes.set("/t.json", { body: tracker.subarray(0, tracker.length - 1000), etag: '"b"' });
    routes.set("/alpine/openssl.json", {
      body: readFileSync(join(VULNDATA, "alpine/vuln-list-v3.21-main/musl.json")),
      etag: '"o2"',
    });
    const r = await updateDatabase({ dbDir: dir });
    const by = Object.fromEntries(r.results.map((x) => [x.feed, x]));
    expect(by["debian"]).toMatchObject({ outcome: "kept-previous", records: trackerRecords });
    expect(by["debian"]?.error).toMatch(/debian tracker JSON .*t\.json: (truncated|invalid) JSON/);
    expect(by["alpine"]?.outcome).toBe("imported");
    expect(r.rebuilt).toBe(true);
    const st = databaseStatus(dir);
    expect(st.warnings.join("\n")).toMatch(/debian: last update failed/);
    const db = VulnDatabase.open(r.path);
    expect(db.recordsFor("alpine:3.21", "musl").length).toBeGreaterThan(0);
    expect(db.recordsFor("alpine:3.21", "openssl")).toEqual([]);
    expect(db.recordsFor("debian:bullseye", "openssl").length).toBeGreaterThan(0);
    db.close();
  });

  it("a corrupt OSV zip keeps the previous Ubuntu data; the CLI exits 1 naming the source", async () => {
    const dir = dbDir("zip");
    const zip = join(tmp, "ubuntu.zip");
    execFileSync("python3", [
      "-c",
      "import sys,zipfile,glob,os\nwith zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED) as z:\n  for f in glob.glob(sys.argv[2]+'/**/*.json', recursive=True): z.write(f, os.path.basename(f))",
      zip,
      join(VULNDATA, "ubuntu/osv-samples/vunnel/osv"),
    ]);
    const good = readFileSync(zip);
    routes.set("/Ubuntu/all.zip", { body: good, etag: '"z1"' });
    const first = await runCli([
      "db",
      "update",
      "--db-dir",
      dir,
      "--source",
      `ubuntu=${base}/Ubuntu/all.zip`,
    ]);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/\[success\] Vulnerability database updated/);
    const corrupt = Buffer.from(good);
    corrupt.fill(0x41, 200, 2000); // clobber compressed data and headers
    routes.set("/Ubuntu/all.zip", { body: corrupt.subarray(0, corrupt.length - 30), etag: '"z2"' });
    const second = await runCli(["db", "update", "--db-dir", dir]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(
      /\[error\] db update: 1 of 1 source location\(s\) failed; first: ubuntu \(http:.*all\.zip\): .*zip.*\(previous data kept\)/,
    );
    const db = VulnDatabase.open(join(dir, "vulndb.sqlite"));
    expect(db.recordsFor("ubuntu:22.04", "wayland").length).toBeGreaterThan(0);
    db.close();
  });

  it("invalid records are skipped and counted; the message names the source and the count", async () => {
    const dir = dbDir("invalid");
    const file = join(tmp, "tracker-with-bad-records.json");
    const data = JSON.parse(tracker.toString("utf8")) as Record<string, unknown>;
    data["bad-one"] = {
      "CVE-2030-9": { releases: { bookworm: { status: "resolved", fixed_version: "no good" } } },
    };
    data["bad-two"] = "not an object";
    writeFileSync(file, JSON.stringify(data));
    const r = await runCli(["db", "update", "--db-dir", dir, "--source", `debian=${file}`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /\[warning\] debian: .*tracker-with-bad-records\.json: skipped 2 invalid record\(s\)/,
    );
    expect(r.stdout).toMatch(new RegExp(`debian\\s+imported\\s+${trackerRecords}\\s+\\d+\\s+2\\s`));
  });

  it("a missing file is an error for a user-given location; nothing is created", async () => {
    const dir = dbDir("missing");
    const r = await runCli(["db", "update", "--db-dir", dir, "--source", `debian=${join(tmp, "nope.json")}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/debian .*nope\.json.*no such file/);
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("database lifecycle", () => {
  it("replaces the file atomically: a reader of the old file keeps working; other feeds are carried over", async () => {
    const dir = dbDir("atomic");
    await updateDatabase({
      dbDir: dir,
      locations: { debian: [TRACKER_SUBSET], alpine: [join(VULNDATA, "alpine/vuln-list-v3.21-main")] },
    });
    const reader = VulnDatabase.open(join(dir, "vulndb.sqlite"));
    const before = reader.recordsFor("debian:bullseye", "openssl").length;
    const small = join(tmp, "small.json");
    writeFileSync(
      small,
      JSON.stringify({ openssl: { "CVE-2030-2": { releases: { bullseye: { status: "open" } } } } }),
    );
    const r = await updateDatabase({ dbDir: dir, locations: { debian: [small] } });
    expect(r.results.map((x) => x.outcome)).toEqual(["imported"]);
    expect(reader.recordsFor("debian:bullseye", "openssl")).toHaveLength(before);
    reader.close();
    const fresh = VulnDatabase.open(join(dir, "vulndb.sqlite"));
    expect(fresh.recordsFor("debian:bullseye", "openssl").map((x) => x.vulnId)).toEqual(["CVE-2030-2"]);
    expect(fresh.recordsFor("alpine:3.21", "openssl").length).toBeGreaterThan(0); // alpine untouched
    expect(
      fresh
        .metadata()
        .feeds.map((f) => f.feed)
        .sort(),
    ).toEqual(["alpine", "debian"]);
    fresh.close();
    expect(readdirSync(dir)).toEqual(["vulndb.sqlite"]);
  });

  it("db status reports feeds, counts and age, and warns when stale", async () => {
    const dir = dbDir("status");
    await updateDatabase({ dbDir: dir, locations: { debian: [TRACKER_SUBSET] } });
    const now = databaseStatus(dir);
    expect(now.stale).toBe(false);
    expect(now.feeds).toEqual([
      expect.objectContaining({ feed: "debian", records: trackerRecords, locations: 1, skipped: 0 }),
    ]);
    expect(now.namespaces.map((n) => n.namespace)).toEqual([
      "debian:bookworm",
      "debian:bullseye",
      "debian:trixie",
    ]);
    const later = databaseStatus(dir, Date.now() + STALE_AFTER_MS + 3600_000);
    expect(later.stale).toBe(true);
    expect(later.warnings.join()).toMatch(/is 3 days old: run "ocipatch db update"/);
    const cli = await runCli(["db", "status", "--db-dir", dir]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`debian\\s+1\\s+${trackerRecords}\\s`));
    const json = await runCli(["db", "status", "--db-dir", dir, "--format", "json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ exists: true, stale: false });
    const none = await runCli(["db", "status", "--db-dir", join(tmp, "none")]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no vulnerability database at .*vulndb\.sqlite: run "ocipatch db update"/);
  });

  it("scans open the database offline, update it when missing, and fall back to a stale one when the update fails", async () => {
    const missing = join(tmp, "scan-missing");
    const offline = await openDatabaseForScan({ dbDir: missing, offline: true }).catch((e: unknown) => e);
    expect(isOcipatchError(offline, "NOT_FOUND")).toBe(true);
    expect((offline as Error).message).toMatch(
      /no vulnerability database in .*scan-missing: run "ocipatch db update"/,
    );

    const dir = dbDir("scan-stale");
    routes.set("/t.json", { body: tracker, etag: '"s"' });
    await updateDatabase({ dbDir: dir, locations: { debian: [`${base}/t.json`] } });
    routes.clear(); // the feed disappears: 404
    const { db, warnings } = await openDatabaseForScan({ dbDir: dir, maxAgeMs: 0, fetch: FAST });
    expect(db.recordsFor("debian:bullseye", "openssl").length).toBeGreaterThan(0);
    expect(warnings.join()).toMatch(/debian .*t\.json.*HTTP 404/);
    db.close();
  });

  it("never shows credentials of a feed URL (status, CLI output, errors)", async () => {
    const dir = dbDir("creds");
    routes.set("/t.json", { body: tracker, etag: '"c"' });
    const url = `${base.replace("http://", "http://mirror-user:s3cret@")}/t.json`;
    const up = await runCli(["db", "update", "--db-dir", dir, "--source", `debian=${url}`]);
    expect(up.code).toBe(0);
    routes.clear();
    const failed = await runCli(["db", "update", "--db-dir", dir]);
    expect(failed.code).toBe(1);
    const status = await runCli(["db", "status", "--db-dir", dir, "--format", "json"]);
    for (const out of [up.stdout, up.stderr, failed.stdout, failed.stderr, status.stdout]) {
      expect(out).not.toContain("s3cret");
    }
    expect(status.stdout).toContain("/t.json");
  });

  it("resolves the database directory like the issue says", () => {
    expect(defaultDbDir({ OCIPATCH_DB_DIR: "/x/db", XDG_CACHE_HOME: "/c", HOME: "/h" })).toBe("/x/db");
    expect(defaultDbDir({ XDG_CACHE_HOME: "/c", HOME: "/h" })).toBe("/c/ocipatch/db");
    expect(defaultDbDir({ HOME: "/h" })).toBe("/h/.cache/ocipatch/db");
    expect(defaultDbDir({ OCIPATCH_DB_DIR: "/x/db" }, "/explicit")).toBe("/explicit");
    expect(defaultDbDir({ OCIPATCH_CACHE_DIR: "/oc", HOME: "/h" })).toBe("/oc/db");
  });

  it("rejects unknown source names and malformed --source values (usage errors)", async () => {
    const bad = await runCli(["db", "update", "--db-dir", join(tmp, "u"), "--source", "redhat=/x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /unknown vulnerability source "redhat" \(known: debian, ubuntu, osv, alpine, wolfi\)/,
    );
    const malformed = await runCli(["db", "update", "--db-dir", join(tmp, "u"), "--source", "debian"]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/--source expects NAME=PATH_OR_URL/);
  });
});
