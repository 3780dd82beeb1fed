import { writeFile } from "node:fs/promises";
import { type Command, Option } from "commander";
import { OcipatchError } from "../../errors.js";
import type { Image } from "../../image/image.js";
import type { Platform } from "../../image/manifest.js";
import { formatPlatform, parsePlatform } from "../../image/platform.js";
import { selectImage } from "../../image/select.js";
import { readInventory } from "../../inventory/index.js";
import {
  buildSbom,
  SBOM_FORMATS,
  type SbomFormat,
  toCycloneDxJson,
  toSbomJson,
  toSbomTable,
} from "../../sbom/index.js";
import { openOciLayout } from "../../transport/oci-layout/index.js";
import type { CliContext } from "../context.js";

interface SbomOptions {
  image: string;
  format: SbomFormat;
  platform?: string;
  output?: string;
}

/**
 * INTEGRATION POINT: the only place `sbom` opens an image. This build reads
 * `oci:DIR[:TAG]` layouts only; the integrator replaces this function with the
 * general transport opener (registry, docker-archive, oci-archive...).
 */
export async function openImageForRead(
  spec: string,
  opts: { platform?: Platform | undefined },
): Promise<Image> {
  if (!spec.startsWith("oci:"))
    throw new OcipatchError(
      "UNSUPPORTED",
      `cannot open "${spec}": this build of sbom reads OCI layouts only (oci:DIR[:TAG])`,
    );
  const rest = spec.slice(4);
  const colon = rest.lastIndexOf(":");
  const hasTag = colon > rest.lastIndexOf("/") && colon > 0;
  const dir = hasTag ? rest.slice(0, colon) : rest;
  const tag = hasTag ? rest.slice(colon + 1) : undefined;
  if (dir === "") throw new OcipatchError("USAGE", `"${spec}": missing the layout directory (oci:DIR[:TAG])`);
  return selectImage(await openOciLayout(dir, tag), opts.platform);
}

export function registerSbom(program: Command, ctx: CliContext): void {
  program
    .command("sbom")
    .description("list the OS packages installed in an image (read from its layers, nothing is run)")
    .requiredOption("-i, --image <ref>", "image to read (oci:DIR[:TAG])")
    .addOption(
      new Option("-f, --format <format>", "output format")
        .choices([...SBOM_FORMATS])
        .default("table" satisfies SbomFormat),
    )
    .option(
      "--platform <os/arch[/variant]>",
      "platform to pick from a multi-platform image (default: this host's)",
    )
    .option("-o, --output <file>", "write the SBOM to a file instead of stdout")
    .action(async (opts: SbomOptions) => {
      await runSbom(opts, ctx);
    });
}

export async function runSbom(opts: SbomOptions, ctx: CliContext): Promise<void> {
  const platform = opts.platform === undefined ? undefined : parsePlatform(opts.platform);
  const image = await openImageForRead(opts.image, { platform });
  const config = await image.configFile();
  const inventory = await readInventory(image, { unsupported: "warn" });
  for (const w of inventory.warnings) ctx.stderr.write(`[warning] ${w.replace(/\s*\n\s*/g, " ")}\n`);
  const doc = buildSbom(
    {
      name: opts.image,
      digest: image.digest,
      platform: formatPlatform({ os: config.os, architecture: config.architecture, variant: config.variant }),
    },
    inventory,
  );
  const text =
    opts.format === "cyclonedx"
      ? toCycloneDxJson(doc)
      : opts.format === "json"
        ? toSbomJson(doc)
        : toSbomTable(doc);
  if (opts.output === undefined) {
    ctx.stdout.write(text);
    return;
  }
  try {
    await writeFile(opts.output, text);
  } catch (e) {
    throw new OcipatchError("IO", `cannot write ${opts.output}: ${(e as Error).message}`, { cause: e });
  }
  ctx.stderr.write(
    `[info] wrote the ${opts.format} SBOM of ${doc.packages.length} packages to ${opts.output}\n`,
  );
}
