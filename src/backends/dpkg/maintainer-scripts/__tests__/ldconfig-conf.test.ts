/**
 * /etc/ld.so.conf reading. ORACLE: glibc's ldconfig itself (`ldconfig -r ROOT -N -X -v` lists the
 * directories it would scan, in order, without writing anything) on a small tree; include loops
 * (which make the real ldconfig recurse until it crashes) are refused.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfUnsupported, readLdSoConf, resolveDirs } from "../ldconfig/index.js";
import { DirView } from "./dir-view.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-ldconf-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>, links: Record<string, string> = {}): string {
  const root = join(work, name);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(root, p, ".."), { recursive: true });
    if (p.endsWith("/")) mkdirSync(join(root, p), { recursive: true });
    else writeFileSync(join(root, p), text);
  }
  for (const [p, target] of Object.entries(links)) {
    mkdirSync(join(root, p, ".."), { recursive: true });
    symlinkSync(target, join(root, p));
  }
  return root;
}

describe("ld.so.conf", () => {
  it("lists the directories in ldconfig's order (includes, globs, comments, duplicates, links)", async () => {
    const root = tree(
      "order",
      {
        "etc/ld.so.conf":
          "include /etc/ld.so.conf.d/*.conf\n/opt/a/ # comment\n  /opt/b \t\nhwcap 0 nosegneg\n#/opt/x\n\ninclude /etc/more/*.conf /etc/none/*.conf\n/opt/link\n/opt/missing\n",
        "etc/ld.so.conf.d/b.conf": "/opt/c\n",
        "etc/ld.so.conf.d/a.conf": "/opt/d\n/opt/a\n",
        "etc/ld.so.conf.d/.hidden.conf": "/opt/hidden\n",
        "etc/ld.so.conf.d/c.txt": "/opt/txt\n",
        "etc/more/x.conf": "/opt/e",
        "opt/a/": "",
        "opt/b/": "",
        "opt/c/": "",
        "opt/d/": "",
        "opt/e/": "",
        "opt/hidden/": "",
        "opt/txt/": "",
      },
      { "opt/link": "a" },
    );
    const out = execFileSync("/sbin/ldconfig", ["-r", root, "-N", "-X", "-v"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const expected = [...out.matchAll(/^(\/\S*):(?: \(from [^)]*\))?$/gm)].map((m) => m[1]);
    const view = new DirView(root);
    const conf = await readLdSoConf(view);
    const dirs = await resolveDirs(
      view,
      conf.map((c) => c.path),
      "2.36",
    );
    expect(dirs.map((d) => d.path)).toEqual(expected);
    expect(expected).toEqual(["/opt/d", "/opt/a", "/opt/c", "/opt/b", "/opt/e"]);
  });

  it("refuses include loops and endless nesting, reads nothing outside the root", async () => {
    const loop = tree("loop", {
      "etc/ld.so.conf": "include /etc/ld.so.conf.d/*.conf\n",
      "etc/ld.so.conf.d/x.conf": "include ../ld.so.conf\n",
    });
    await expect(readLdSoConf(new DirView(loop))).rejects.toBeInstanceOf(ConfUnsupported);
    const self = tree("self", { "etc/ld.so.conf": "include ld.so.conf\n" });
    await expect(readLdSoConf(new DirView(self))).rejects.toThrow(/includes itself/);
    const outside = tree(
      "escape",
      { "etc/ld.so.conf": "include /etc/ld.so.conf.d/*.conf\n" },
      { "etc/ld.so.conf.d/evil.conf": "../../../../../../etc/ld.so.conf.d/libc.conf" },
    );
    expect(await readLdSoConf(new DirView(outside))).toEqual([]);
    // a pattern that would walk a large part of the image is refused
    const wide = tree(
      "wide",
      { "etc/ld.so.conf": "include /d/*/*\n" },
      Object.fromEntries(Array.from({ length: 101 }, (_, k) => [`d/l${k}`, "."])), // 101 x 101 paths
    );
    await expect(readLdSoConf(new DirView(wide))).rejects.toThrow(/matches too many paths/);
  });
});
