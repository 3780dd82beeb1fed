/**
 * The HOST's apt, pointed at a private state directory and given sources: resolves and downloads
 * packages from a suite's signed Packages index (apt verifies InRelease against the keyring and the
 * .deb against the index), without touching the host's own apt state.
 */
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HarnessError, type RunOptions, run } from "../exec.js";

interface HostApt {
  readonly root: string;
  /** Runs an apt tool (apt-get, apt-cache) with this private configuration. */
  run(tool: "apt-get" | "apt-cache", args: readonly string[], opts?: RunOptions): Promise<string>;
  /** apt-get update; fails on any unreachable or unverifiable index. */
  update(): Promise<void>;
  /** Downloads the named packages (candidate versions) into dest; returns the .deb paths. */
  download(packages: readonly string[], dest: string): Promise<string[]>;
}

/**
 * @param root   an empty directory that holds apt's state and config
 * @param sourcesList one-line sources (`deb [signed-by=...] URI SUITE COMPONENTS`)
 */
export function hostApt(root: string, sourcesList: string, arch: string): HostApt {
  for (const d of [
    "etc/apt/apt.conf.d",
    "etc/apt/preferences.d",
    "etc/apt/sources.list.d",
    "etc/apt/trusted.gpg.d",
    "var/lib/apt/lists/partial",
    "var/cache/apt/archives/partial",
    "var/lib/dpkg",
    "var/log/apt",
  ]) {
    mkdirSync(join(root, d), { recursive: true });
  }
  writeFileSync(join(root, "var/lib/dpkg/status"), "");
  writeFileSync(join(root, "etc/apt/sources.list"), sourcesList);
  const conf = join(root, "apt.conf");
  writeFileSync(
    conf,
    [
      `Dir "${root}/";`,
      `Dir::State::status "${root}/var/lib/dpkg/status";`,
      `APT::Architecture "${arch}";`,
      `APT::Architectures { "${arch}"; };`,
      'Acquire::Languages "none";',
      'APT::Sandbox::User "root";',
      'Acquire::Retries "3";',
      "",
    ].join("\n"),
  );
  const env = { ...process.env, APT_CONFIG: conf, DEBIAN_FRONTEND: "noninteractive" };
  const self: HostApt = {
    root,
    async run(tool, args, opts = {}) {
      return (await run(tool, args, { cwd: root, ...opts, env })).stdout;
    },
    async update() {
      await self.run("apt-get", ["update", "-q", "--error-on=any"]);
      // no sources at all is not an error for apt, but it is for every caller here
      const lists = readdirSync(join(root, "var/lib/apt/lists"));
      if (!lists.some((f) => f.endsWith("_Packages"))) {
        throw new HarnessError(`apt-get update in ${root} fetched no Packages index (no usable sources?)`);
      }
    },
    async download(packages, dest) {
      mkdirSync(dest, { recursive: true });
      await self.run("apt-get", ["download", "-q", ...packages], { cwd: dest });
      const files = await run("sh", ["-c", 'ls -1 "$1"/*.deb', "sh", dest]);
      return files.stdout.split("\n").filter(Boolean);
    },
  };
  return self;
}
