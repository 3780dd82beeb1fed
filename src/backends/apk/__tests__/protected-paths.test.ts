import { describe, expect, it } from "vitest";
import { type EntrySpec, MemoryLayer } from "../../../rootfs/__tests__/synthetic.js";
import { LayeredFs } from "../../../rootfs/index.js";
import { ProtectedPaths } from "../protected-paths.js";

const of = async (entries: EntrySpec[]) =>
  ProtectedPaths.of(
    new LayeredFs([await MemoryLayer.of([{ name: "etc/hostname", content: "x\n" }, ...entries])], "t"),
  );

describe("apk protected paths (apk-protected_paths(5), apk_db_dir_get)", () => {
  it("built in: +etc, @etc/init.d, !etc/apk; subdirectories inherit; the root and /usr are not", async () => {
    const p = await of([]);
    expect(["/etc", "/etc/ssl/private", "/etc/init.d", "/etc/apk/keys"].map((d) => p.isProtected(d))).toEqual(
      [true, true, true, true],
    );
    expect(["/", "/usr/lib", "/etcetera"].map((d) => p.isProtected(d))).toEqual([false, false, false]);
  });

  it("*.list files in name order: globs per component, '-' unprotects, the last matching rule wins", async () => {
    const p = await of([
      { name: "etc/apk/protected_paths.d/a.list", content: "# comment\n\n+usr/*/engines-?\n-etc/ssl/\n" },
      { name: "etc/apk/protected_paths.d/b.list", content: "etc/ssl/private\n" },
      { name: "etc/apk/protected_paths.d/c.txt", content: "+opt\n" },
    ]);
    expect(p.isProtected("/usr/lib/engines-3")).toBe(true);
    expect(p.isProtected("/usr/lib/engines-3/x")).toBe(true);
    expect(p.isProtected("/usr/lib/engines-30")).toBe(false);
    expect(p.isProtected("/etc/ssl")).toBe(false);
    expect(p.isProtected("/etc/ssl/certs")).toBe(false);
    expect(p.isProtected("/etc/ssl/private")).toBe(true);
    expect(p.isProtected("/opt")).toBe(false);
  });
});
