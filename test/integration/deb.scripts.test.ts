import { describe, expect, it } from "vitest";
import { openDebFile } from "../../src/backends/dpkg/deb/index.js";
import { classifyScript, type ScriptActionKind } from "../../src/backends/dpkg/maintainer-scripts/index.js";
import { debianDeb, ubuntuDeb } from "../harness/debian-packages.js";

// Commands whose presence (outside comments) must show up as the given kind.
const MARKERS: Array<[RegExp, ScriptActionKind]> = [
  [/^\s*[^#\n]*\bldconfig\b/m, "ldconfig"],
  [/^\s*[^#\n]*\bupdate-alternatives\b/m, "alternatives"],
  [/^\s*[^#\n]*\bdpkg-maintscript-helper\b/m, "conffile-migration"],
  [/^\s*[^#\n]*\bupdate-ca-certificates\b/m, "ca-certificates"],
  [/^\s*[^#\n]*\b(adduser|addgroup)\b/m, "users-groups"],
  [/^\s*[^#\n]*\bdb_(get|set|input|go)\b/m, "debconf"],
];

describe("classifying real maintainer scripts", () => {
  const pkgs = [
    () => debianDeb("bookworm", "libc6"),
    () => debianDeb("bookworm", "ca-certificates"),
    () => debianDeb("bookworm", "nginx-common"),
    () => debianDeb("bookworm", "tzdata"),
    () => debianDeb("bookworm", "libssl3"),
    () => ubuntuDeb("jammy-updates", "libssl3"),
  ];
  for (const get of pkgs) {
    it(`${get().filename.split("/").pop()}`, async () => {
      const pkg = await openDebFile(get().path);
      await pkg.close();
      for (const [name, script] of Object.entries(pkg.scripts)) {
        const c = classifyScript(script);
        const kinds = new Set(c.actions.map((a) => a.kind));
        const text = script.toString("utf8");
        for (const [re, kind] of MARKERS)
          if (re.test(text)) expect(kinds.has(kind), `${name}: ${kind}`).toBe(true);
        // every action detail is a real line of the script
        for (const a of c.actions)
          if (a.kind !== "other" || !a.detail.includes("script ("))
            expect(text).toContain(a.detail.replace(/\.\.\.$/, "").split(" ")[0]);
        if (kinds.size > 0) expect(c.effective).toBe(true);
      }
    });
  }
});
