import { writeFile } from "node:fs/promises";
import { type Command, Option } from "commander";
import { OcipatchError } from "../../errors.js";
import { formatPlatform, parsePlatform } from "../../image/platform.js";
import { readInventory } from "../../inventory/index.js";
import {
  buildSbom,
  SBOM_FORMATS,
  type SbomFormat,
  toCycloneDxJson,
  toSbomJson,
  toSbomTable,
} from "../../sbom/index.js";
import { credentialsFrom } from "../../scan/image.js";
import { openImage } from "../../transport/index.js";
import type { CliContext } from "../context.js";
import { indexCacheFor, NO_LAYER_CACHE_OPTION } from "../index-cache.js";

interface SbomOptions {
  image: string;
  format: SbomFormat;
  platform?: string;
  output?: string;
  username?: string;
  password?: string;
  insecure?: boolean;
  /** false with --no-layer-cache */
  layerCache: boolean;
}

export function registerSbom(program: Command, ctx: CliContext): void {
  program
    .command("sbom")
    .description("list the OS packages installed in an image (read from its layers, nothing is run)")
    .requiredOption(
      "-i, --image <ref>",
      "image to read (REF: the local engine's if it has it, else the registry's; docker://REF, docker-daemon:REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE)",
    )
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
    .option("-u, --username <user>", "registry user name")
    .option("-p, --password <password>", "registry password")
    .option("--insecure", "allow registries without valid TLS (and plain HTTP)")
    .option(...NO_LAYER_CACHE_OPTION)
    .action(async (opts: SbomOptions) => {
      await runSbom(opts, ctx);
    });
}

async function runSbom(opts: SbomOptions, ctx: CliContext): Promise<void> {
  const platform = opts.platform === undefined ? undefined : parsePlatform(opts.platform);
  const image = await openImage(opts.image, {
    platform,
    credentials: credentialsFrom(
      opts.username ?? ctx.env["OCIPATCH_USERNAME"],
      opts.password ?? ctx.env["OCIPATCH_PASSWORD"],
    ),
    insecure: opts.insecure,
  });
  const config = await image.configFile();
  // layers indexed by an earlier scan, sbom or patch are not read again
  const indexCache = indexCacheFor(ctx.env, opts.layerCache);
  const inventory = await readInventory(image, {
    unsupported: "warn",
    ...(indexCache ? { indexCache } : {}),
  });
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
