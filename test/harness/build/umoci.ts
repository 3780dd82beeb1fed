/** OCI layouts from rootfs tarballs and bundles with umoci (gzip layers). */
import { existsSync } from "node:fs";
import { run } from "../exec.js";

export interface ImageConfigSpec {
  /** OCI architecture (amd64, arm64). */
  readonly architecture: string;
  readonly created: string;
  readonly env?: readonly string[];
  readonly cmd?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly exposedPorts?: readonly string[];
  readonly stopSignal?: string;
  readonly user?: string;
  readonly workingDir?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** Creates `layout:tag` with the tarball as its single layer. */
export async function newImageFromTar(
  layout: string,
  tag: string,
  tar: string,
  created: string,
  createdBy: string,
): Promise<void> {
  if (!existsSync(layout)) await run("umoci", ["init", "--layout", layout]);
  await run("umoci", ["new", "--image", `${layout}:${tag}`]);
  await run("umoci", [
    "raw",
    "add-layer",
    "--image",
    `${layout}:${tag}`,
    "--history.created",
    created,
    "--history.created_by",
    createdBy,
    tar,
  ]);
}

export async function setConfig(layout: string, tag: string, c: ImageConfigSpec): Promise<void> {
  const args = [
    "config",
    "--image",
    `${layout}:${tag}`,
    "--no-history",
    "--os",
    "linux",
    "--architecture",
    c.architecture,
    "--created",
    c.created,
  ];
  if (c.env) {
    args.push("--clear=config.env");
    for (const e of c.env) args.push(`--config.env=${e}`);
  }
  if (c.cmd) {
    args.push("--clear=config.cmd");
    for (const a of c.cmd) args.push(`--config.cmd=${a}`);
  }
  if (c.entrypoint) {
    args.push("--clear=config.entrypoint");
    for (const a of c.entrypoint) args.push(`--config.entrypoint=${a}`);
  }
  for (const p of c.exposedPorts ?? []) args.push(`--config.exposedports=${p}`);
  if (c.stopSignal) args.push(`--config.stopsignal=${c.stopSignal}`);
  if (c.user !== undefined) args.push(`--config.user=${c.user}`);
  if (c.workingDir !== undefined) args.push(`--config.workingdir=${c.workingDir}`);
  for (const [k, v] of Object.entries(c.labels ?? {})) args.push(`--config.label=${k}=${v}`);
  await run("umoci", args);
}

/** Renames the working tag to its final name and drops unreferenced blobs. */
export async function finishTag(layout: string, from: string, to: string): Promise<void> {
  if (from !== to) {
    await run("umoci", ["tag", "--image", `${layout}:${from}`, to]);
    await run("umoci", ["rm", "--image", `${layout}:${from}`]);
  }
  await run("umoci", ["gc", "--layout", layout]);
}
