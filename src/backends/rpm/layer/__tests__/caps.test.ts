import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isOcipatchError } from "../../../../errors.js";
import { CAP_NAMES, fileCapsXattr } from "../caps.js";

/**
 * libcap as the oracle: `setcap TEXT f` (cap_from_text + cap_set_file, as rpm installs %caps),
 * then the file's security.capability xattr, hex; "ERR" when setcap refuses the text. One python3
 * run for all texts. Needs root (CAP_SETFCAP) and a filesystem with xattrs.
 */
function libcap(texts: readonly string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), "ocipatch-caps-"));
  try {
    const py = `
import json, os, subprocess, sys
f = os.path.join(sys.argv[1], "f")
out = []
for t in json.load(sys.stdin):
    open(f, "w").close()
    r = subprocess.run(["setcap", t, f], capture_output=True)
    if r.returncode != 0:
        out.append("ERR")
        continue
    try:
        out.append(os.getxattr(f, "security.capability").hex())
    except OSError:
        out.append("NONE")
    os.unlink(f)
print(json.dumps(out))
`;
    const r = spawnSync("python3", ["-c", py, dir], { input: JSON.stringify(texts), encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout) as string[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function ours(text: string): string {
  try {
    return fileCapsXattr(text, "pkg: /f").toString("hex");
  } catch (e) {
    if (isOcipatchError(e) && e.code === "INVALID_FORMAT") return "ERR";
    throw e;
  }
}

const TEXTS = [
  "cap_net_raw=ep",
  "cap_net_raw+ep",
  "cap_net_raw,cap_net_admin+ep",
  "cap_net_raw,cap_net_admin=eip",
  "cap_net_bind_service=+ep",
  "CAP_NET_RAW=EP",
  "Cap_Sys_Admin+p",
  "cap_sys_admin+i",
  "cap_setuid,cap_setgid+ip",
  "cap_sys_ptrace+e",
  "=ep cap_net_raw-e",
  "=ep cap_net_raw-ep",
  "all=ep",
  "all+p",
  "all=p cap_chown-p",
  "=",
  "=p",
  "=eip cap_sys_admin=",
  "cap_bpf,cap_perfmon+ep",
  "cap_checkpoint_restore=ep",
  "cap_audit_read,cap_block_suspend=p",
  "13=ep",
  "0x0d+ep",
  "012+p",
  "40=ep",
  "cap_net_raw+ep cap_net_admin+ep",
  "  cap_net_raw=ep  ",
  "cap_net_raw=ep-p",
  "cap_net_raw+p-p",
  "cap_net_raw,cap_kill=p cap_kill+e",
  "cap_net_raw=-p",
  "cap_net_raw+e",
  "cap_net_raw=p cap_net_admin=ep",
  "cap_net_raw+p cap_net_admin+ep",
  // refused
  "cap_net_rawx=ep",
  "cap_nothing=ep",
  "cap_net_raw",
  "cap_net_raw=x",
  "+ep",
  "-ep",
  "=+ep",
  "cap_net_raw+",
  "cap_net_raw+ ep",
  "cap_net_raw,=ep",
  "cap_net_raw;cap_kill=ep",
  "64=ep",
  "cap_net_raw=ep+",
  "cap_net_raw=ep+1",
];

describe("fileCapsXattr against libcap (setcap, security.capability)", () => {
  it("gives the bytes setcap writes, and refuses what setcap refuses", () => {
    expect(libcap(TEXTS)).toEqual(TEXTS.map(ours));
    // some of each: the oracle is not all refusals
    expect(TEXTS.map(ours).filter((v) => v !== "ERR").length).toBeGreaterThan(25);
    expect(ours("cap_net_raw=ep")).toBe("0100000200200000000000000000000000000000");
  });

  it("agrees with setcap on generated texts", () => {
    const name = fc.oneof(
      { arbitrary: fc.constantFrom(...CAP_NAMES), weight: 8 },
      { arbitrary: fc.constantFrom("all", "cap_bogus", "CAP_KILL"), weight: 1 },
      { arbitrary: fc.integer({ min: 0, max: 66 }).map(String), weight: 1 },
    );
    const flags = fc.subarray(["e", "i", "p"]).map((f) => f.join(""));
    const action = fc.tuple(fc.constantFrom("=", "+", "-", "=+", "=-"), flags).map(([o, f]) => o + f);
    const clause = fc
      .tuple(fc.array(name, { minLength: 0, maxLength: 3 }), fc.array(action, { minLength: 1, maxLength: 3 }))
      .map(([names, actions]) => names.join(",") + actions.join(""));
    const texts = fc.sample(
      fc.array(clause, { minLength: 1, maxLength: 3 }).map((c) => c.join(" ")),
      { numRuns: 600, seed: 14 },
    );
    const want = libcap(texts);
    const got = texts.map(ours);
    const diff = texts.flatMap((t, i) => (want[i] === got[i] ? [] : [`${t}: ${want[i]} / ${got[i]}`]));
    expect(diff).toEqual([]);
    expect(got.filter((v) => v !== "ERR").length).toBeGreaterThan(40);
  });

  it("names the package and file in one line", () => {
    expect(() => fileCapsXattr("cap_bogus=ep", "ping-1.rpm: /usr/bin/ping")).toThrow(
      /^ping-1\.rpm: \/usr\/bin\/ping: file capabilities "cap_bogus=ep" are not valid$/,
    );
  });
});
