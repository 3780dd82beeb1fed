import { describe, expect, it } from "vitest";
import { isOcipatchError } from "../../errors.js";
import { nextLink } from "../../transport/registry/tags.js";
import { isCopaConfig, parseConfigText, parseFleetConfig } from "../config.js";
import { expandFleet } from "../expand.js";
import { runPool } from "../pool.js";
import { selectTags, sortTags } from "../select-tags.js";
import { parseShard, shardOf } from "../shard.js";
import { parseTagTemplate } from "../template.js";

const DOC = `
apiVersion: copa.sh/v1alpha1
kind: PatchConfig
target:
  registry: "ghcr.io/myorg"
  tag: "{{ .SourceTag }}-patched"
images:
  - name: "nginx"
    image: "docker.io/library/nginx"
    tags:
      strategy: "pattern"
      pattern: "^1\\\\.2[0-9]\\\\.[0-9]+$"
      maxTags: 3
      exclude: ["1.20.0", "1.20.1"]
  - name: "python"
    image: "docker.io/library/python"
    tags:
      strategy: "list"
      list: ["3.9.18", "3.10.13", "3.11.7"]
    platforms: ["linux/amd64", "linux/arm64"]
    target:
      registry: "quay.io/special"
      tag: "{{ .SourceTag }}-fixed"
  - name: "alpine"
    image: "docker.io/library/alpine"
    tags:
      strategy: "latest"
`;

function parse(text: string) {
  return parseFleetConfig(parseConfigText(text, "f.yaml"), "f.yaml");
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isOcipatchError(e)) return e.message;
    throw e;
  }
  throw new Error("no error");
}

describe("copa PatchConfig", () => {
  it("reads copa's documented example", () => {
    const c = parse(DOC);
    expect(
      c.images.map((i) => [i.name, i.repository, i.tags.strategy, i.target.registry, i.target.tag]),
    ).toEqual([
      ["nginx", "docker.io/library/nginx", "pattern", "ghcr.io/myorg", "{{ .SourceTag }}-patched"],
      ["python", "docker.io/library/python", "list", "quay.io/special", "{{ .SourceTag }}-fixed"],
      ["alpine", "docker.io/library/alpine", "latest", "ghcr.io/myorg", "{{ .SourceTag }}-patched"],
    ]);
    expect(c.images[1]!.platforms).toEqual(["linux/amd64", "linux/arm64"]);
  });

  it("tells copa's file from ocipatch's own by kind/apiVersion", () => {
    expect(isCopaConfig(parseConfigText(DOC, "f"))).toBe(true);
    expect(isCopaConfig({ apt: { mirror: "http://m/debian" } })).toBe(false);
    expect(isCopaConfig([])).toBe(false);
  });

  it("names the bad field in one line", () => {
    const base = "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\n";
    expect(errorOf(() => parse(`apiVersion: copa.sh/v2\nkind: PatchConfig\nimages: []`))).toMatch(
      /^config file f\.yaml: apiVersion: /,
    );
    expect(errorOf(() => parse(`${base}images: []`))).toBe(
      "config file f.yaml: images: the config names no image",
    );
    expect(errorOf(() => parse(`${base}images:\n  - image: a\n    tags: {strategy: newest}`))).toBe(
      "config file f.yaml: images[0].tags.strategy: must be one of list, pattern, latest",
    );
    expect(errorOf(() => parse(`${base}images:\n  - image: a\n    tags: {strategy: list, list: []}`))).toBe(
      "config file f.yaml: images[0].tags.list: strategy list needs a non-empty list",
    );
    expect(
      errorOf(() => parse(`${base}images:\n  - image: a\n    tags: {strategy: pattern, pattern: "(["}`)),
    ).toMatch(/^config file f\.yaml: images\[0\]\.tags\.pattern: not a valid regular expression/);
    expect(errorOf(() => parse(`${base}images:\n  - image: a\n    tag: {strategy: latest}`))).toMatch(
      /images\[0\]/,
    );
    expect(
      errorOf(() => parse(`${base}images:\n  - image: a\n    tags: {strategy: latest}\n    typo: 1`)),
    ).toBe("config file f.yaml: images[0].typo: unknown field");
    expect(errorOf(() => parse(`${base}images:\n  - image: a:1\n    tags: {strategy: latest}`))).toMatch(
      /images\[0\]\.image: "a:1" must name a repository/,
    );
    expect(
      errorOf(() =>
        parse(`${base}target: {tag: "{{ .Tag }}"}\nimages:\n  - image: a\n    tags: {strategy: latest}`),
      ),
    ).toMatch(/^config file f\.yaml: target\.tag: .*only \{\{ \.SourceTag \}\}/);
    expect(
      errorOf(() => parse(`${base}charts: []\nimages:\n  - image: a\n    tags: {strategy: latest}`)),
    ).toBe("config file f.yaml: charts: Helm chart patching is not supported by ocipatch");
    expect(
      errorOf(() =>
        parse(`${base}images:\n  - image: a\n    tags: {strategy: latest}\n    platforms: [amd64]`),
      ),
    ).toMatch(/images\[0\]\.platforms\[0\]/);
  });

  it("renders the tag template", () => {
    expect(parseTagTemplate("{{ .SourceTag }}-patched").render("1.2")).toBe("1.2-patched");
    expect(parseTagTemplate("p-{{.SourceTag}}").render("x")).toBe("p-x");
    expect(parseTagTemplate("fixed").render("x")).toBe("fixed");
    expect(errorOf(() => parseTagTemplate("{{ .SourceTag }}/x").render("1"))).toMatch(/not a valid tag/);
  });
});

describe("tag selection", () => {
  const tags = [
    "1.20.0",
    "1.20.1",
    "1.21.6",
    "1.22.1",
    "1.25.3",
    "1.9.0",
    "latest",
    "1.25.3-rc.1",
    "stable",
    "v1.26",
  ];
  const lister = async () => tags;

  it("sorts versions by precedence, other tags first", () => {
    expect(sortTags(["1.10.0", "1.9.0", "1.10.0-rc.1", "zeta", "alpha", "22.04", "v1.2"])).toEqual([
      "alpha",
      "zeta",
      "v1.2",
      "1.9.0",
      "1.10.0-rc.1",
      "1.10.0",
      "22.04",
    ]);
  });

  it("pattern: regex, exclude, newest maxTags", async () => {
    const r = await selectTags(
      "r/x",
      { strategy: "pattern", pattern: "^1\\.2[0-9]\\.[0-9]+$", maxTags: 3, exclude: ["1.25.3"] },
      lister,
    );
    expect(r.tags).toEqual(["1.20.1", "1.21.6", "1.22.1"]);
    const all = await selectTags("r/x", { strategy: "pattern", pattern: "^1\\.2" }, lister);
    expect(all.tags).toEqual(["1.20.0", "1.20.1", "1.21.6", "1.22.1", "1.25.3-rc.1", "1.25.3"]);
  });

  it("latest: the highest version; list: only tags that exist, with warnings", async () => {
    expect((await selectTags("r/x", { strategy: "latest" }, lister)).tags).toEqual(["v1.26"]);
    expect((await selectTags("r/x", { strategy: "latest", exclude: ["v1.26"] }, lister)).tags).toEqual([
      "1.25.3",
    ]);
    const none = await selectTags("r/x", { strategy: "latest" }, async () => ["stable"]);
    expect(none.tags).toEqual([]);
    expect(none.warnings[0]).toMatch(/no tag of r\/x is a version/);
    const listed = await selectTags("r/x", { strategy: "list", list: ["1.9.0", "nope"] }, lister);
    expect(listed.tags).toEqual(["1.9.0"]);
    expect(listed.warnings).toEqual(["r/x:nope does not exist; skipped"]);
  });

  it("expands entries into sorted jobs with copa's target rule", async () => {
    const c = parse(DOC);
    const e = await expandFleet(c, async (repo) =>
      repo.endsWith("python")
        ? ["3.9.18", "3.10.13", "3.11.7"]
        : repo.endsWith("alpine")
          ? ["3.19", "3.20"]
          : tags,
    );
    expect(e.jobs.map((j) => `${j.source} -> ${j.destination}`)).toEqual([
      "docker.io/library/alpine:3.20 -> ghcr.io/myorg/alpine:3.20-patched",
      "docker.io/library/nginx:1.21.6 -> ghcr.io/myorg/nginx:1.21.6-patched",
      "docker.io/library/nginx:1.22.1 -> ghcr.io/myorg/nginx:1.22.1-patched",
      "docker.io/library/nginx:1.25.3 -> ghcr.io/myorg/nginx:1.25.3-patched",
      "docker.io/library/python:3.10.13 -> quay.io/special/python:3.10.13-fixed",
      "docker.io/library/python:3.11.7 -> quay.io/special/python:3.11.7-fixed",
      "docker.io/library/python:3.9.18 -> quay.io/special/python:3.9.18-fixed",
    ]);
    const failing = await expandFleet(c, async (repo) => {
      if (repo.endsWith("nginx")) throw new Error("boom");
      return ["3.20"];
    });
    expect(failing.failures.map((f) => f.repository)).toEqual(["docker.io/library/nginx"]);
  });
});

describe("shards", () => {
  it("parses K/N from 0", () => {
    expect(parseShard("0/3")).toEqual({ index: 0, count: 3 });
    expect(parseShard(" 2 / 3 ")).toEqual({ index: 2, count: 3 });
    for (const bad of ["3/3", "1/0", "-1/2", "a/b", "1", "1/2/3"])
      expect(() => parseShard(bad)).toThrow(/the shard must be K\/N/);
  });

  it("N shards are disjoint, cover the list and differ in size by at most one", () => {
    for (let n = 1; n <= 7; n++) {
      for (const len of [0, 1, 5, 13]) {
        const items = Array.from({ length: len }, (_, i) => `img${i}`);
        const parts = Array.from({ length: n }, (_, k) => shardOf(items, { index: k, count: n }));
        expect(parts.flat().sort()).toEqual([...items].sort());
        const sizes = parts.map((p) => p.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
    }
  });
});

describe("worker pool", () => {
  it("never runs more than N at once, runs every item even when some fail", async () => {
    let running = 0;
    let peak = 0;
    const ran: number[] = [];
    await runPool(
      Array.from({ length: 9 }, (_, i) => i),
      3,
      async (i) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5 + (i % 3) * 5));
        running--;
        ran.push(i);
        if (i % 2 === 0) throw new Error(`fail ${i}`);
      },
    );
    expect(peak).toBe(3);
    expect(ran.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("starts nothing after an abort", async () => {
    const ac = new AbortController();
    const ran: number[] = [];
    await runPool(
      [1, 2, 3, 4],
      1,
      async (i) => {
        ran.push(i);
        if (i === 2) ac.abort();
      },
      ac.signal,
    );
    expect(ran).toEqual([1, 2]);
  });
});

describe("tag list pagination", () => {
  it("finds rel=next in a Link header", () => {
    expect(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"')).toBe("/v2/a/tags/list?n=2&last=b");
    expect(nextLink('<https://x/p>; rel="prev", </v2/a/tags/list?last=c>; rel=next')).toBe(
      "/v2/a/tags/list?last=c",
    );
    expect(nextLink(undefined)).toBeUndefined();
    expect(nextLink('</x>; rel="prev"')).toBeUndefined();
  });
});
