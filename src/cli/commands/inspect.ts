import type { Command } from "commander";
import { OcipatchError } from "../../errors.js";
import { parsePlatform } from "../../image/platform.js";
import { type ImageInspection, inspectImageDetails } from "../../transport/inspect.js";
import type { CliContext } from "../context.js";
import { humanBytes } from "../output.js";
import { transportOptions } from "../registry-flags.js";

interface InspectFlags {
  platform?: string;
  creds?: string;
  insecure?: boolean;
  tlsVerify?: string | boolean;
  format: string;
  raw?: boolean;
  config?: boolean;
}

export function registerInspectCommand(program: Command, ctx: CliContext): void {
  program
    .command("inspect")
    .description(
      "show an image's digest, platforms, layers and config summary (REF, docker://REF, docker-daemon:REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF])",
    )
    .argument("<REF>", "image to inspect")
    .option(
      "--platform <os/arch[/variant]>",
      "for an index: the image to describe (default: this host's, else the first)",
    )
    .option("--creds <USER:PASSWORD>", "registry credentials")
    .option("--src-creds <USER:PASSWORD>", "alias of --creds")
    .option("--insecure", "allow registries without valid TLS (and plain HTTP)")
    .option("--tls-verify [bool]", "false: like --insecure")
    .option("--format <format>", "text or json", "text")
    .option("--raw", "print the manifest (or index) bytes exactly as stored")
    .option("--config", "print the image config JSON exactly as stored")
    .action(async (ref: string, o: InspectFlags & { srcCreds?: string }) => {
      if (o.format !== "text" && o.format !== "json") {
        throw new OcipatchError("USAGE", `--format must be text or json, got "${o.format}"`);
      }
      if (o.raw && o.config) throw new OcipatchError("USAGE", "give --raw or --config, not both");
      if (o.creds !== undefined && o.srcCreds !== undefined) {
        throw new OcipatchError("USAGE", "give --creds or --src-creds, not both");
      }
      const platform = o.platform === undefined ? undefined : parsePlatform(o.platform);
      const opts = transportOptions(
        ctx.env,
        o.creds ?? o.srcCreds,
        o.creds !== undefined ? "--creds" : "--src-creds",
        o.insecure,
        o.tlsVerify,
        "--tls-verify",
      );
      const { inspection, top, image } = await inspectImageDetails(ref, { ...opts, platform });
      if (o.raw) {
        // what REF names, or the chosen platform's manifest when --platform is given
        ctx.stdout.write(platform ? image.rawManifest : top.rawManifest);
        return;
      }
      if (o.config) {
        ctx.stdout.write(await image.rawConfig());
        return;
      }
      ctx.stdout.write(
        o.format === "json" ? `${JSON.stringify(inspection, null, 2)}\n` : formatInspection(inspection),
      );
    });
}

const list = (v: readonly string[] | null): string => (v === null ? "(none)" : JSON.stringify(v));

/** The human-readable form of an inspection. */
function formatInspection(r: ImageInspection): string {
  const lines: string[] = [];
  const row = (k: string, v: string | number) => lines.push(`${`${k}:`.padEnd(14)}${v}`);
  const img = r.image;
  const c = img.config;
  row("Name", r.name);
  row("Digest", r.digest);
  row("Media type", r.mediaType);
  if (r.platforms) {
    row("Platforms", r.platforms.length);
    const width = Math.max(...r.platforms.map((p) => p.platform.length));
    for (const p of r.platforms) {
      const kind = p.annotations?.["vnd.docker.reference.type"];
      lines.push(
        `  ${p.platform.padEnd(width)}  ${p.digest}  ${humanBytes(p.size)}${kind ? `  (${kind})` : ""}`,
      );
    }
    row("Image", `${img.digest} (${c.platform})`);
    row("Image type", img.mediaType);
  }
  if (r.referrers) {
    row("Referrers", r.referrers.length);
    for (const ref of r.referrers)
      lines.push(`  ${ref.artifactType ?? ref.mediaType}  ${ref.digest}  ${humanBytes(ref.size)}`);
  }
  row("Platform", c.platform);
  row("Created", c.created ?? "(unknown)");
  if (c.author) row("Author", c.author);
  row("Entrypoint", list(c.entrypoint));
  row("Cmd", list(c.cmd));
  if (c.workingDir) row("WorkingDir", c.workingDir);
  if (c.user) row("User", c.user);
  row("Env", `${c.envCount} variable${c.envCount === 1 ? "" : "s"}`);
  const labels = Object.entries(c.labels);
  row("Labels", labels.length === 0 ? "(none)" : labels.length);
  for (const [k, v] of labels) lines.push(`  ${k}=${v}`);
  row("History", `${c.historyCount} entr${c.historyCount === 1 ? "y" : "ies"}`);
  row("Config", img.configDigest);
  row("Layers", `${img.layers.length} (${humanBytes(img.totalLayerSize)})`);
  for (const l of img.layers) lines.push(`  ${l.digest}  ${humanBytes(l.size).padStart(10)}  ${l.mediaType}`);
  return `${lines.join("\n")}\n`;
}
