import { spawn, spawnSync } from "node:child_process";
import { Duplex, PassThrough, type Transform } from "node:stream";
import { OcipatchError } from "../errors.js";

/** `cmd --version`, run once per tool: its first line when it exits 0, undefined when it cannot run or fails. */
const probes = new Map<string, string | undefined>();

function probe(cmd: string): string | undefined {
  if (!probes.has(cmd)) {
    const r = spawnSync(cmd, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    probes.set(cmd, r.status === 0 ? (r.stdout.split("\n")[0] ?? "").trim() : undefined);
  }
  return probes.get(cmd);
}

/**
 * Is the use of the host's tool or library `name` switched off? `OCIPATCH_NO_HOST_<NAME>=1` (e.g.
 * `OCIPATCH_NO_HOST_ZSTD=1`, `OCIPATCH_NO_HOST_LIBLZMA=1`) makes ocipatch behave as if the host
 * had no such thing.
 */
export function hostSwitchedOff(name: string): boolean {
  return process.env[`OCIPATCH_NO_HOST_${name.toUpperCase()}`] === "1";
}

/** Is the host tool `cmd` on PATH (probed once with `cmd --version`) and not `hostSwitchedOff`? */
export function hostToolAvailable(cmd: string): boolean {
  if (hostSwitchedOff(cmd)) return false;
  return probe(cmd) !== undefined;
}

/** The first line `cmd --version` printed (the same probe), or undefined when the tool is not available. */
export function hostToolVersion(cmd: string): string | undefined {
  return hostToolAvailable(cmd) ? probe(cmd) : undefined;
}

/**
 * A host filter program (`zstd -d`, `zstd -c`...) as a Transform: bytes written go to its
 * stdin, its stdout is the readable side. A non-zero exit becomes an OcipatchError(`code`) naming
 * `what` with the tool's last stderr line. Only host tools run here, never anything from an image.
 */
export function hostFilter(
  cmd: string,
  args: readonly string[],
  what: string,
  code: "INVALID_FORMAT" | "IO" = "INVALID_FORMAT",
): Transform {
  const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    if (stderr.length < 2000) stderr += b.toString("utf8");
  });
  child.stdout.pipe(out, { end: false });
  const fail = (msg: string) => out.destroy(new OcipatchError(code, `${what}: ${msg}`));
  child.on("error", (e) => fail(`${cmd}: ${e.message}`));
  child.on("close", (status, signal) => {
    if (status === 0) out.end();
    else if (!out.destroyed)
      fail(stderr.trim().split("\n").pop() || `${cmd} exited with ${status ?? signal}`);
  });
  // EPIPE when the reader stops early (an abandoned iteration): not an error of ours
  child.stdin.on("error", () => undefined);
  const duplex = Duplex.from({ writable: child.stdin, readable: out }) as Duplex;
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  };
  duplex.on("close", stop);
  out.on("close", stop);
  return duplex as unknown as Transform;
}
