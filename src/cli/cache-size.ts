import { OcipatchError } from "../errors.js";
import { parseByteSize } from "../util/byte-size.js";

/** A cache's size limit from the environment variable `name` ("2GiB", "500MB", 0: no cache), else `dflt`. */
export function cacheSizeFromEnv(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const text = env[name];
  if (text === undefined || text === "") return dflt;
  const bytes = parseByteSize(text);
  if (bytes === undefined)
    throw new OcipatchError(
      "USAGE",
      `${name} must be a size such as 2GiB, 500MB or 0 (no cache), not "${text.slice(0, 40)}"`,
    );
  return bytes;
}
