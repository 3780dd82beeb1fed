import type { Command } from "commander";
import { OcipatchError } from "../../errors.js";
import { parsePlatform } from "../../image/platform.js";
import { type CopyResult, copyImage } from "../../transport/copy.js";
import { parseImageLocation } from "../../transport/parse.js";
import { writeFileAtomic } from "../../util/fs.js";
import type { CliContext } from "../context.js";
import { humanBytes, Output } from "../output.js";
import { transportOptions } from "../registry-flags.js";

interface CopyFlags {
  platform?: string;
  all?: boolean;
  srcCreds?: string;
  destCreds?: string;
  insecure?: boolean;
  srcTlsVerify?: string | boolean;
  destTlsVerify?: string | boolean;
  format: string;
  digestfile?: string;
  quiet?: boolean;
}

const LOCATIONS =
  "docker://REF, REF (the local engine's image if it has one, else the registry's), docker-daemon:REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF]";

export function registerCopyCommand(program: Command, ctx: CliContext): void {
  program
    .command("copy")
    .description(`copy an image or a whole multi-platform index between ${LOCATIONS}`)
    .argument("<SRC>", "image to read")
    .argument("<DST>", "where to write it")
    .option(
      "--platform <os/arch[/variant]>",
      "copy only this platform's image out of an index (default: every platform)",
    )
    .option("-a, --all", "copy every platform of an index (the default)")
    .option("--src-creds <USER:PASSWORD>", "credentials for the source registry")
    .option("--dest-creds <USER:PASSWORD>", "credentials for the destination registry")
    .option("--insecure", "allow registries without valid TLS (and plain HTTP), both sides")
    .option("--src-tls-verify [bool]", "false: like --insecure for the source only")
    .option("--dest-tls-verify [bool]", "false: like --insecure for the destination only")
    .option("--format <format>", "text or json (the result on stdout)", "text")
    .option("--digestfile <file>", "write the digest of the copied manifest to a file")
    .option("-q, --quiet", "no progress, only warnings and errors")
    .action(async (src: string, dst: string, o: CopyFlags) => {
      if (o.format !== "text" && o.format !== "json") {
        throw new OcipatchError("USAGE", `--format must be text or json, got "${o.format}"`);
      }
      if (o.all && o.platform !== undefined) {
        throw new OcipatchError("USAGE", "give --all or --platform, not both");
      }
      const platform = o.platform === undefined ? undefined : parsePlatform(o.platform);
      const from = parseImageLocation(src);
      const to = parseImageLocation(dst);
      const srcOpts = transportOptions(
        ctx.env,
        o.srcCreds,
        "--src-creds",
        o.insecure,
        o.srcTlsVerify,
        "--src-tls-verify",
      );
      const destOpts = transportOptions(
        ctx.env,
        o.destCreds,
        "--dest-creds",
        o.insecure,
        o.destTlsVerify,
        "--dest-tls-verify",
      );
      const out = new Output(ctx, { quiet: o.quiet ?? false });
      let result: CopyResult;
      try {
        out.info(`Copying ${src} to ${dst}`);
        result = await copyImage(from, to, {
          platform,
          src: srcOpts,
          dest: destOpts,
          progress: out.progress(),
        });
      } finally {
        out.close();
      }
      if (o.digestfile !== undefined) {
        await writeFileAtomic(o.digestfile, result.digest);
      }
      const s = result.stats;
      out.success(
        `Copied to ${result.location} (${s.blobsUploaded} blobs written, ${humanBytes(s.bytesUploaded)}; ${s.blobsMounted} mounted; ${s.blobsSkipped} already present)`,
      );
      if (o.format === "json") {
        out.result(
          JSON.stringify(
            {
              digest: result.digest,
              mediaType: result.mediaType,
              location: result.location,
              source: result.source,
              sourceDigest: result.sourceDigest,
              platforms: result.platforms,
              stats: result.stats,
            },
            null,
            2,
          ),
        );
      }
    });
}
