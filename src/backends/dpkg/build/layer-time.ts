import { createReadStream } from "node:fs";
import { OcipatchError } from "../../../errors.js";
import { readAr } from "../deb/ar.js";

/**
 * The one timestamp a patch layer gives what it writes itself (dpkg database files, directories it
 * creates, whiteouts), so that the same packages give the same layer bytes whenever and wherever
 * they are installed: `SOURCE_DATE_EPOCH` when set, else the newest build time of the packages
 * (the mtime dpkg-deb stamps on every ar member of a .deb), else the Unix epoch.
 */
export async function layerTime(
  debPaths: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Date> {
  const sde = env["SOURCE_DATE_EPOCH"];
  if (sde !== undefined && sde !== "") {
    if (!/^\d{1,12}$/.test(sde)) {
      throw new OcipatchError(
        "USAGE",
        `SOURCE_DATE_EPOCH must be a number of seconds, not "${sde.slice(0, 20)}"`,
      );
    }
    return new Date(Number(sde) * 1000);
  }
  let newest = 0;
  for (const path of debPaths) newest = Math.max(newest, await debBuildTime(path));
  return new Date(newest * 1000);
}

/** mtime (seconds) of the first ar member of a .deb; 0 when the file is not an ar archive. */
async function debBuildTime(path: string): Promise<number> {
  const stream = createReadStream(path, { highWaterMark: 4096 });
  const members = readAr(stream, path);
  try {
    const first = await members.next();
    return first.done ? 0 : first.value.header.mtime;
  } catch {
    // not ours to judge here: opening the package reports what is wrong with it
    return 0;
  } finally {
    await members.return(undefined).catch(() => undefined);
    stream.destroy();
  }
}
