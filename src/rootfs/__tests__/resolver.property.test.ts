import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix, relative } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OcipatchError } from "../../errors.js";
import { LayeredFs } from "../layered-fs.js";
import { type EntrySpec, MemoryLayer } from "./synthetic.js";

/**
 * Property tests of path resolution over random trees with random symlinks:
 * the resolver never escapes the root and agrees with the kernel (realpath(3) on
 * the same tree written to a real directory) whenever links stay inside it.
 */

type Node =
  | { path: string; kind: "dir" }
  | { path: string; kind: "file" }
  | { path: string; kind: "link"; target: string };

const NAMES = ["a", "b", "c"];

/** A random tree: directories closed under prefix, files and symlinks in them. */
const treeArb = (targetArb: (paths: string[]) => fc.Arbitrary<string>) =>
  fc
    .uniqueArray(fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }), {
      maxLength: 8,
      selector: (p) => p.join("/"),
    })
    .chain((dirLists) => {
      const dirs = new Set<string>();
      for (const d of dirLists) for (let i = 1; i <= d.length; i++) dirs.add(d.slice(0, i).join("/"));
      const dirArr = ["", ...dirs];
      const leafArb = fc.record({
        dir: fc.constantFrom(...dirArr),
        name: fc.constantFrom("x", "y", "z", "a", "b"),
        isLink: fc.boolean(),
        layer: fc.integer({ min: 0, max: 1 }),
      });
      const allPaths = [...dirs];
      return fc.tuple(
        fc.constant(dirs),
        fc.array(leafArb, { maxLength: 8 }),
        fc.array(targetArb(allPaths), { minLength: 8, maxLength: 8 }),
      );
    })
    .map(([dirs, leaves, targets]) => {
      const nodes = new Map<string, Node & { layer: number }>();
      for (const d of dirs) nodes.set(d, { path: d, kind: "dir", layer: 0 });
      leaves.forEach((l, i) => {
        const p = l.dir === "" ? l.name : `${l.dir}/${l.name}`;
        if (nodes.has(p) || [...dirs].some((d) => d.startsWith(`${p}/`))) return;
        nodes.set(
          p,
          l.isLink
            ? { path: p, kind: "link", target: targets[i]!, layer: l.layer }
            : { path: p, kind: "file", layer: l.layer },
        );
      });
      return [...nodes.values()];
    });

/** Any target at all: absolute or relative, with "..", "." and empty components. */
const wildTarget = () =>
  fc
    .tuple(fc.boolean(), fc.array(fc.constantFrom("a", "b", "c", "x", "y", "..", ".", ""), { maxLength: 6 }))
    .map(([abs, cs]) => `${abs ? "/" : ""}${cs.join("/")}`);

/** Targets naming a node of the tree, absolute, or relative (fixed later) without leaving the root. */
const safeTarget = (paths: string[]) =>
  fc
    .tuple(fc.constantFrom("", ...paths, "a/x", "b/y", "missing"), fc.boolean())
    .map(([p, abs]) => `${abs ? "ABS" : "REL"}:${p}`);

function safeLinkTarget(linkPath: string, spec: string): string {
  const [mode, p] = [spec.slice(0, 3), spec.slice(4)];
  if (mode === "ABS") return `/${p}`;
  const from = posix.dirname(`/${linkPath}`);
  return posix.relative(from, `/${p}`) || ".";
}

function toLayers(
  nodes: Array<Node & { layer: number }>,
  fixTarget: (n: Node & { kind: "link" }) => string,
): EntrySpec[][] {
  const layers: EntrySpec[][] = [[], []];
  for (const n of nodes) {
    if (n.kind === "dir") layers[0]!.push({ name: `${n.path}/`, type: "directory" });
    else if (n.kind === "file") layers[n.layer]!.push({ name: n.path, content: n.path });
    else layers[n.layer]!.push({ name: n.path, type: "symlink", linkname: fixTarget(n) });
  }
  return layers;
}

async function viewOf(layers: EntrySpec[][]): Promise<LayeredFs> {
  return new LayeredFs(await Promise.all(layers.map((l) => MemoryLayer.of(l))), "random tree");
}

const queryArb = fc
  .tuple(
    fc.boolean(),
    fc.array(fc.constantFrom("a", "b", "c", "x", "y", "z", "..", "."), { minLength: 0, maxLength: 6 }),
  )
  .map(([abs, cs]) => `${abs ? "/" : ""}${cs.join("/")}`);

describe("path resolution properties", () => {
  it("never escapes the root and always yields a canonical path", async () => {
    await fc.assert(
      fc.asyncProperty(
        treeArb(() => wildTarget()),
        fc.array(queryArb, { minLength: 1, maxLength: 6 }),
        async (nodes, queries) => {
          const fs = await viewOf(toLayers(nodes, (n) => n.target));
          for (const q of queries) {
            for (const followFinal of [true, false]) {
              let r: Awaited<ReturnType<LayeredFs["resolve"]>>;
              try {
                r = await fs.resolve(q, { followFinal, mustExist: false });
              } catch (e) {
                expect(e).toBeInstanceOf(OcipatchError);
                expect((e as OcipatchError).code).toBe("NOT_FOUND");
                continue;
              }
              expect(r.path.startsWith("/")).toBe(true);
              const cs = r.path.split("/").slice(1);
              if (r.path !== "/") for (const c of cs) expect(["", ".", ".."]).not.toContain(c);
              // every proper prefix of an existing result is a real directory
              if (r.entry) {
                let prefix = "";
                for (const c of cs.slice(0, -1)) {
                  prefix += `/${c}`;
                  expect((await fs.lstat(prefix))?.type).toBe("directory");
                }
                if (followFinal) {
                  expect(r.entry.type).not.toBe("symlink");
                  expect(await fs.realpath(r.path)).toBe(r.path);
                }
              }
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  let scratch: string;
  beforeAll(async () => {
    scratch = await realpath(await mkdtemp(join(tmpdir(), "ocipatch-resolve-")));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it("agrees with the kernel's realpath when links stay inside the root", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        treeArb(safeTarget),
        fc.array(
          fc
            .array(fc.constantFrom("a", "b", "c", "x", "y", "z", "."), { minLength: 0, maxLength: 5 })
            .map((cs) => cs.join("/")),
          { minLength: 1, maxLength: 6 },
        ),
        async (nodes, queries) => {
          const fix = (n: Node & { kind: "link" }) => safeLinkTarget(n.path, n.target);
          const fs = await viewOf(toLayers(nodes, fix));
          const root = join(scratch, `t${run++}`);
          await mkdir(root);
          for (const n of [...nodes].sort((x, y) => x.path.length - y.path.length)) {
            const p = join(root, n.path);
            if (n.kind === "dir") await mkdir(p, { recursive: true });
            else if (n.kind === "file") await writeFile(p, n.path);
          }
          for (const n of nodes) {
            if (n.kind !== "link") continue;
            let t = fix(n);
            // an absolute target means "from the image root": make it relative for the real tree
            if (t.startsWith("/")) t = relative(posix.dirname(join(root, n.path)), join(root, t)) || ".";
            await symlink(t, join(root, n.path));
          }
          for (const q of queries) {
            const expected = await realpath(`${root}/${q}`).then(
              (p) => `/${relative(root, p)}`,
              () => "ERROR",
            );
            const got = await fs.realpath(q).catch((e: unknown) => {
              if (e instanceof OcipatchError && e.code === "NOT_FOUND") return "ERROR";
              throw e;
            });
            expect(got, `query ${q} in ${JSON.stringify(nodes)}`).toBe(expected === "/" ? "/" : expected);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
