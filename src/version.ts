import { readFileSync } from "node:fs";

/** Set by the CLI bundle (scripts/bundle-cli.mjs); the library build reads package.json. */
declare const __OCIPATCH_VERSION__: string | undefined;
/** Set by the CLI bundle: a hash of the sources and locked dependencies it was built from. */
declare const __OCIPATCH_BUILD_ID__: string | undefined;

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

export const VERSION: string =
  typeof __OCIPATCH_VERSION__ === "string" ? __OCIPATCH_VERSION__ : readVersion();
export const USER_AGENT = `ocipatch/${VERSION}`;

/** Which build of the CLI this is (undefined outside the bundle: the sources may change under it). */
export const BUILD_ID: string | undefined =
  typeof __OCIPATCH_BUILD_ID__ === "string" ? __OCIPATCH_BUILD_ID__ : undefined;
