/**
 * A minimal chroot for dpkg/apt maintainer scripts in an unpacked test image: /proc and a PRIVATE
 * tmpfs /dev (the host /dev is never bind-mounted, so a stray rm -rf of the rootfs cannot reach
 * it), the host's resolv.conf copied in for apt, and a policy-rc.d that exits 101 so postinst
 * scripts never start services (nginx would bind :80 on the host). Everything is undone in a
 * finally block, directory mtimes included, so the chroot itself leaves no trace in a layer diff.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { HarnessError, type RunOptions, type RunResult, run } from "./exec.js";
import { mountsUnder, unmountAllSync } from "./fs.js";

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface ChrootSession {
  readonly rootfs: string;
  /** Runs argv inside the chroot with a clean environment (PATH, LC_ALL, DEBIAN_FRONTEND, HOME). */
  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

const active = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if the process exits while a chroot is prepared: never leave /proc mounted.
  process.once("exit", () => {
    for (const r of active) unmountAllSync(r);
  });
}

function chrootRun(rootfs: string, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  if (argv.length === 0) throw new HarnessError("runInChroot: empty argv");
  const env = ["PATH=" + DEFAULT_PATH, "LC_ALL=C.UTF-8", "DEBIAN_FRONTEND=noninteractive", "HOME=/root"];
  return run("chroot", [rootfs, "/usr/bin/env", "-i", ...env, ...argv], {
    ...opts,
    env: { PATH: DEFAULT_PATH },
  });
}

const DEVICES: ReadonlyArray<[string, number, number]> = [
  ["null", 1, 3],
  ["zero", 1, 5],
  ["full", 1, 7],
  ["random", 1, 8],
  ["urandom", 1, 9],
  ["tty", 5, 0],
];

/** Prepares rootfs as a chroot, runs fn, and always undoes the preparation. */
export async function withChroot<T>(rootfs: string, fn: (session: ChrootSession) => Promise<T>): Promise<T> {
  if (active.has(rootfs)) return fn({ rootfs, run: (argv, opts) => chrootRun(rootfs, argv, opts) });
  if (!existsSync(join(rootfs, "usr/bin/env"))) {
    throw new HarnessError(`${rootfs} has no /usr/bin/env: not a rootfs that can be chrooted into`);
  }
  installExitHook();
  active.add(rootfs);
  const mounts: string[] = [];
  const undo: Array<() => void> = [];
  const keepMtime = (dir: string) => {
    if (!existsSync(dir)) return;
    const st = statSync(dir);
    undo.push(() => {
      if (existsSync(dir)) utimesSync(dir, st.atime, st.mtime);
    });
  };
  /** Replaces a file for the chroot's lifetime, restoring the original (or its absence) afterwards. */
  const swapFile = (path: string, write: () => void) => {
    const saved = `${path}.ocipatch-orig`;
    let had = false;
    try {
      lstatSync(path);
      had = true;
    } catch {
      had = false;
    }
    if (had) renameSync(path, saved);
    undo.push(() => {
      rmSync(path, { force: true });
      if (had) renameSync(saved, path);
    });
    write();
  };
  try {
    keepMtime(rootfs);
    mkdirSync(join(rootfs, "proc"), { recursive: true });
    mkdirSync(join(rootfs, "dev"), { recursive: true });
    keepMtime(join(rootfs, "dev"));
    keepMtime(join(rootfs, "etc"));
    keepMtime(join(rootfs, "usr/sbin"));
    await run("mount", ["-t", "proc", "proc", join(rootfs, "proc")]);
    mounts.push(join(rootfs, "proc"));
    const dev = join(rootfs, "dev");
    await run("mount", ["-t", "tmpfs", "-o", "mode=755,size=16m", "ocipatch-dev", dev]);
    mounts.push(dev);
    for (const [name, major, minor] of DEVICES) {
      await run("mknod", ["-m", "666", join(dev, name), "c", String(major), String(minor)]);
    }
    symlinkSync("/proc/self/fd", join(dev, "fd"));
    symlinkSync("/proc/self/fd/0", join(dev, "stdin"));
    symlinkSync("/proc/self/fd/1", join(dev, "stdout"));
    symlinkSync("/proc/self/fd/2", join(dev, "stderr"));
    mkdirSync(join(dev, "pts"));
    mkdirSync(join(dev, "shm"));
    mkdirSync(join(rootfs, "etc"), { recursive: true });
    swapFile(join(rootfs, "etc/resolv.conf"), () =>
      copyFileSync("/etc/resolv.conf", join(rootfs, "etc/resolv.conf")),
    );
    mkdirSync(join(rootfs, "usr/sbin"), { recursive: true });
    const policy = join(rootfs, "usr/sbin/policy-rc.d");
    swapFile(policy, () => {
      writeFileSync(policy, "#!/bin/sh\nexit 101\n");
      chmodSync(policy, 0o755);
    });
    return await fn({ rootfs, run: (argv, opts) => chrootRun(rootfs, argv, opts) });
  } finally {
    const errors: string[] = [];
    for (const m of mounts.reverse()) {
      try {
        await run("umount", [m]);
      } catch {
        try {
          await run("umount", ["-l", m]);
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
    }
    unmountAllSync(rootfs);
    for (const u of undo.reverse()) {
      try {
        u();
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    active.delete(rootfs);
    const left = mountsUnder(rootfs);
    if (left.length > 0 || errors.length > 0) {
      // biome-ignore lint/correctness/noUnsafeFinally: a chroot that cannot be released must fail loudly
      throw new HarnessError(
        `releasing chroot ${rootfs} failed: ${[...left.map((m) => `still mounted ${m}`), ...errors].join("; ")}`,
      );
    }
  }
}

/** Runs argv in the rootfs as a chroot (inside an active withChroot session, or in a fresh one). */
export function runInChroot(
  rootfs: string,
  argv: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  if (active.has(rootfs)) return chrootRun(rootfs, argv, opts);
  return withChroot(rootfs, (s) => s.run(argv, opts));
}
