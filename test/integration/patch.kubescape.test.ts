/**
 * kubescape patch's output flags (`-f pretty|json|sarif`, `-o FILE`, `-v`,
 * `-s SEV`), its accepted-but-ignored flags, `KUBESCAPE_REGISTRY_*` credentials, and the
 * referrers a patch attaches — read back independently of ocipatch, with plain HTTP the
 * way trivy's VEX/SBOM discovery does (the harness registry, distribution 2.8, has no
 * referrers API: the `sha256-<hex>` tag schema is what is found) and from an OCI layout.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import AjvDraft04Module from "ajv-draft-04";
import addFormatsModule from "ajv-formats";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { updateDatabase } from "../../src/vulndb/index.js";
import { run } from "../harness/exec.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage } from "../harness/images.js";
import { runCli, TRACKER_SUBSET, trackerDb } from "../harness/patch-support.js";
import { pushImage } from "../harness/push.js";
import {
  discoverReferrers,
  fetchBlob,
  fetchManifest,
  type HttpAuth,
  type ReferrerEntry,
} from "../harness/referrers-http.js";

const anon = inject("registry");
const authReg = inject("authRegistry");

const require = createRequire(import.meta.url);
const Ajv = AjvDraft04Module as unknown as typeof AjvDraft04Module.default;
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const sarifSchema = JSON.parse(
  readFileSync(require.resolve("@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json"), "utf8"),
);
const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
const validateSarif = ajv.compile(sarifSchema);

const work: string[] = [];
function temp(label: string): string {
  const d = makeTempDir(label);
  work.push(d);
  return d;
}
afterAll(async () => {
  for (const d of work) await rm(d, { recursive: true, force: true });
});

const unique = (name: string) => `ks/${name}-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

const AT_OR_ABOVE_LOW = new Set(["Critical", "High", "Medium", "Low"]);

interface PatchJson {
  status: string;
  destination?: { location: string; digest: string };
  platforms: Array<{ patchedDigest?: string; packages: Array<{ name: string; to: string }> }>;
}

interface ScanJson {
  findings: Array<{ id: string; severity: string }>;
}

/**
 * The tracker subset has no urgencies (every finding is of Unknown severity, which never
 * counts for -s): a database from a copy where curl's vulnerabilities are `high`.
 */
async function severityDb(): Promise<string> {
  const dir = temp("ks-db");
  type Tracker = Record<string, Record<string, { releases: Record<string, { urgency?: string }> }>>;
  const tracker = JSON.parse(readFileSync(TRACKER_SUBSET, "utf8")) as Tracker;
  for (const cve of Object.values(tracker["curl"]!)) {
    for (const rel of Object.values(cve.releases)) rel.urgency = "high";
  }
  const file = join(dir, "tracker.json");
  writeFileSync(file, JSON.stringify(tracker));
  await updateDatabase({ dbDir: join(dir, "db"), locations: { debian: [file] } });
  return join(dir, "db");
}

/** `pkg:oci/NAME@VERSION?QUALIFIERS` → its parts, percent-decoded. */
function decodeOciPurl(purl: string): { name: string; version: string; qualifiers: Record<string, string> } {
  const m = /^pkg:oci\/([^@?]+)@([^?]+)(?:\?(.*))?$/.exec(purl);
  if (!m) throw new Error(`not an oci purl: ${purl}`);
  return {
    name: decodeURIComponent(m[1]!),
    version: decodeURIComponent(m[2]!),
    qualifiers: Object.fromEntries(new URLSearchParams(m[3] ?? "")),
  };
}

/** The VEX statement and the SBOM among the referrers of `digest`, checked as trivy reads them. */
async function readReferrers(host: string, repo: string, digest: string, auth?: HttpAuth) {
  const found = await discoverReferrers(host, repo, digest, auth);
  // distribution 2.8: no referrers API, the tag schema index
  expect(found.method).toBe("tag");
  const byType = (t: string) => found.manifests.filter((m) => m.artifactType === t);
  const vexEntries = byType("application/vnd.in-toto+json");
  const sbomEntries = byType("application/vnd.cyclonedx+json");
  expect(vexEntries).toHaveLength(1);
  expect(sbomEntries).toHaveLength(1);
  // trivy keeps the in-toto referrers ANNOUNCED as OpenVEX (the index entry's annotation)
  expect(vexEntries[0]!.annotations?.["in-toto.io/predicate-type"]).toBe("https://openvex.dev/ns/v0.2.0");
  const single = async (e: ReferrerEntry) => {
    const man = await fetchManifest(host, repo, e.digest, auth);
    expect(man.subject?.digest).toBe(digest);
    expect(man.artifactType).toBe(e.artifactType);
    // trivy: "OCI artifact must be a single layer"
    expect(man.layers).toHaveLength(1);
    return { man, blob: await fetchBlob(host, repo, man.layers[0]!.digest, auth) };
  };
  const vex = await single(vexEntries[0]!);
  const sbom = await single(sbomEntries[0]!);
  const statement = JSON.parse(vex.blob.toString("utf8")) as {
    _type: string;
    subject: Array<{ name: string; digest: { sha256: string } }>;
    predicateType: string;
    predicate: {
      "@context": string;
      statements: Array<{
        status: string;
        products: Array<{ "@id": string; hashes?: Record<string, string> }>;
      }>;
    };
  };
  // a bare in-toto statement: trivy tells it from a DSSE envelope by its `_type`
  expect(statement._type).toBe("https://in-toto.io/Statement/v1");
  expect(statement.predicateType).toBe("https://openvex.dev/ns/v0.2.0");
  expect(statement.subject).toEqual([
    { name: `${host}/${repo}`, digest: { sha256: digest.replace(/^sha256:/, "") } },
  ]);
  expect(statement.predicate["@context"]).toBe("https://openvex.dev/ns/v0.2.0");
  expect(statement.predicate.statements.length).toBeGreaterThan(0);
  const name = repo.split("/").pop()!;
  for (const st of statement.predicate.statements) {
    expect(st.status).toBe("fixed");
    const products = st.products.map((p) => decodeOciPurl(p["@id"]));
    // trivy's image purl form (repository_url, no tag/arch) and the bare form grype matches
    expect(products).toContainEqual({
      name,
      version: digest,
      qualifiers: { repository_url: `${host}/${repo}` },
    });
    expect(products).toContainEqual({ name, version: digest, qualifiers: {} });
    expect(st.products.some((p) => p.hashes?.["sha-256"] === digest.replace(/^sha256:/, ""))).toBe(true);
  }
  const bom = JSON.parse(sbom.blob.toString("utf8")) as {
    bomFormat: string;
    metadata: { component: { version?: string } };
    components: Array<{ name: string; version?: string; purl?: string }>;
  };
  expect(bom.bomFormat).toBe("CycloneDX");
  expect(bom.metadata.component.version).toBe(digest);
  return { statement, bom };
}

describe("ocipatch patch: kubescape's output flags and the referrers scanners discover", () => {
  let dbDir: string;
  let image: { ref: string; digest: string };
  beforeAll(async () => {
    dbDir = await trackerDb();
    image = await pushImage(await ensureImage("nginx-bullseye"), anon.host, `${unique("nginx")}:1`);
  }, 600_000);

  it("-f json -o FILE -s low -r: the result in the file, exit 1 for what remains, VEX + SBOM referrers", async () => {
    const dir = temp("ks-json");
    const highDb = await severityDb();
    // fix only openssl (a copa report), so that (curl's High) vulnerabilities remain in the patched image
    const copa = join(dir, "copa.json");
    writeFileSync(
      copa,
      JSON.stringify({
        apiVersion: "v1alpha1",
        metadata: { os: { type: "debian", version: "11" }, config: { arch: "amd64" } },
        updates: [
          {
            name: "openssl",
            installedVersion: "1.1.1w-0+deb11u1",
            fixedVersion: "1.1.1w-0+deb11u2",
            vulnerabilityID: "CVE-2024-5535",
          },
        ],
      }),
    );
    const file = join(dir, "out", "result.json");
    const repo = image.ref.replace(`${anon.host}/`, "").replace(/:1$/, "");
    const dest = `${anon.host}/${repo}:json`;
    const r = await runCli([
      "patch",
      "-i",
      image.ref,
      "--dest",
      `docker://${dest}`,
      "-f",
      "json",
      "-o",
      file,
      "-s",
      "low",
      "--vuln-report",
      copa,
      "-r",
      "--report-dir",
      dir,
      "--db-dir",
      highDb,
      "--skip-db-update",
    ]);
    // nothing but the log on the terminal: the result went to the file
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`Results written to ${file}`);
    const res = JSON.parse(readFileSync(file, "utf8")) as PatchJson;
    expect(res.status).toBe("patched");
    expect(readdirSync(join(dir, "out")).filter((f) => f !== "result.json")).toEqual([]);

    // -s low: exit 1 (after writing the result) since the PATCHED image's re-scan still has
    // findings of Low severity or above (curl's); one line counting them
    const after = readdirSync(dir).find((f) => f.endsWith("-after.json"))!;
    const remaining = (JSON.parse(readFileSync(join(dir, after), "utf8")) as ScanJson).findings;
    const severe = new Set(remaining.filter((f) => AT_OR_ABOVE_LOW.has(f.severity)).map((f) => f.id));
    expect(severe.size).toBeGreaterThan(0);
    expect(r.code, r.stderr).toBe(1);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("[error]"));
    expect(errors).toEqual([
      expect.stringMatching(
        new RegExp(
          `the patched image still has ${severe.size} vulnerabilit(y|ies) at or above Low \\(--severity-threshold\\)`,
        ),
      ),
    ]);

    const digest = res.destination!.digest;
    expect((await run("skopeo", ["inspect", "--tls-verify=false", `docker://${dest}`])).stdout).toContain(
      digest,
    );
    const { bom } = await readReferrers(anon.host, repo, digest);
    // the SBOM describes the PATCHED packages (trivy --sbom-sources oci scans it instead of the image)
    const versions = new Map(bom.components.map((c) => [c.name, c.version]));
    for (const p of res.platforms[0]!.packages) expect(versions.get(p.name), p.name).toBe(p.to);
    // and the plain OpenVEX file of -r names the image in the same forms
    const vexFile = readdirSync(dir).find((f) => f.endsWith("-vex.json"))!;
    const vex = JSON.parse(readFileSync(join(dir, vexFile), "utf8")) as {
      statements: Array<{ products: Array<{ "@id": string }> }>;
    };
    expect(vex.statements[0]!.products.map((p) => p["@id"])).toHaveLength(2);
  }, 600_000);

  it("-v lists what remains; -a/--addr, --use-default-matchers, --grype-db-url are accepted with a notice; referrers in an OCI layout", async () => {
    const dir = temp("ks-pretty");
    const layout = join(dir, "layout");
    const r = await runCli([
      "patch",
      "-i",
      image.ref,
      "--dest",
      `oci:${layout}:fixed`,
      "-v",
      "-a",
      "tcp://0.0.0.0:8888",
      "--use-default-matchers=false",
      "--grype-db-url",
      "https://grype.example.invalid/databases",
      "-s",
      "critical",
      "--db-dir",
      dbDir,
      "--skip-db-update",
    ]);
    expect(r.stdout).toMatch(/Vulnerability summary:\nImage: /);
    // the table of what remains in the patched image (grouped by severity, or none), with its totals
    expect(r.stdout).toMatch(/\nRemaining vulnerabilities:\nImage: oci:\S+layout:fixed@sha256:[0-9a-f]{64}/);
    expect(r.stdout).toMatch(/(VULNERABILITY\s+PACKAGE\s+INSTALLED\s+FIXED IN|No vulnerabilities found\.)/);
    const critical = Number(/\nTotal: \d+ \(Critical: (\d+)/.exec(r.stdout)?.[1]);
    expect(Number.isInteger(critical)).toBe(true);
    // -s critical: exit 1 exactly when a Critical one remains
    expect(r.code, r.stderr).toBe(critical > 0 ? 1 : 0);
    expect(r.stderr).toContain("[info] ocipatch needs no BuildKit daemon: --address is ignored");
    expect(r.stderr).toContain("--use-default-matchers=false is ignored");
    expect(r.stderr).toContain("--grype-db-url is ignored");
    // the layout's index.json lists the referrers of the patched manifest
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
      manifests: Array<{ artifactType?: string; annotations?: Record<string, string> }>;
    };
    expect(index.manifests.map((m) => m.artifactType).filter(Boolean)).toEqual(
      expect.arrayContaining(["application/vnd.in-toto+json", "application/vnd.cyclonedx+json"]),
    );

    const seed = await runCli([
      "patch",
      "-i",
      image.ref,
      "--addr",
      "unix:///run/buildkit/buildkitd.sock",
      "--dry-run",
      "--db-dir",
      dbDir,
      "--skip-db-update",
    ]);
    expect(seed.code, seed.stderr).toBe(0);
    expect(seed.stderr).toContain("--addr is ignored");
  }, 600_000);

  it("-f sarif with KUBESCAPE_REGISTRY_* credentials against the auth registry; --no-referrers", async () => {
    const creds = { username: authReg.username, password: authReg.password };
    const img = await pushImage(
      await ensureImage("nginx-bullseye"),
      authReg.host,
      `${unique("auth")}:1`,
      creds,
    );
    const repo = img.ref.replace(`${authReg.host}/`, "").replace(/:1$/, "");
    const env = { KUBESCAPE_REGISTRY_USERNAME: creds.username, KUBESCAPE_REGISTRY_PASSWORD: creds.password };
    const r = await runCli(
      [
        "patch",
        "-i",
        img.ref,
        "--dest",
        `docker://${authReg.host}/${repo}:sarif`,
        "-f",
        "sarif",
        "--db-dir",
        dbDir,
        "--skip-db-update",
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(creds.password);
    const log = JSON.parse(r.stdout) as {
      version: string;
      runs: Array<{
        results: Array<{ properties: { fixState: string } }>;
        properties: { target: { digest: string } };
      }>;
    };
    const ok = validateSarif(log);
    expect(validateSarif.errors ?? [], JSON.stringify(validateSarif.errors?.slice(0, 3))).toEqual([]);
    expect(ok).toBe(true);
    expect(log.runs).toHaveLength(1);
    // the PATCHED image's findings: none is fixable any more
    expect(log.runs[0]!.results.filter((x) => x.properties.fixState === "fixed")).toEqual([]);
    const digest = log.runs[0]!.properties.target.digest;
    await readReferrers(authReg.host, repo, digest, creds);

    // without the variables (nor -u/-p) the registry refuses: they were what authenticated
    const anonymous = await runCli([
      "patch",
      "-i",
      img.ref,
      "--dry-run",
      "--db-dir",
      dbDir,
      "--skip-db-update",
    ]);
    expect(anonymous.code).toBe(4);

    // --no-referrers: the image is written, nothing is attached
    const bare = await runCli(
      [
        "patch",
        "-i",
        img.ref,
        "--dest",
        `docker://${authReg.host}/${repo}:bare`,
        "-u",
        creds.username,
        "--no-referrers",
        "-f",
        "json",
        "--db-dir",
        dbDir,
        "--skip-db-update",
      ],
      { KUBESCAPE_REGISTRY_PASSWORD: creds.password },
    );
    expect(bare.code, bare.stderr).toBe(0);
    const res = JSON.parse(bare.stdout) as PatchJson;
    const found = await discoverReferrers(authReg.host, repo, res.destination!.digest, creds);
    expect(found.manifests).toEqual([]);
  }, 900_000);

  it.each([
    [["-s", "severe"], /severity threshold must be one of negligible, low, medium, high, critical/],
    [["-f", "xml"], /--format must be one of/],
    [["-o", ""], /--output is empty/],
    [["-t", "x", "--dest", "oci:/tmp/never"], /either a tag or a destination, not both \(--tag, --dest\)/],
  ])("usage error %j → exit 2, one line", async (extra, msg) => {
    const r = await runCli(["patch", "-i", image.ref, "--db-dir", dbDir, "--skip-db-update", ...extra]);
    expect(r.code).toBe(2);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("[error]"));
    expect(errors).toEqual([expect.stringMatching(msg)]);
  });

  it("-f pretty-printer (kubescape's name) and -f table (the seed's) are the summary", async () => {
    for (const f of ["pretty-printer", "table"]) {
      const r = await runCli([
        "patch",
        "-i",
        image.ref,
        "-f",
        f,
        "--dry-run",
        "--db-dir",
        dbDir,
        "--skip-db-update",
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Vulnerability summary:\nImage: /);
    }
  });
});
