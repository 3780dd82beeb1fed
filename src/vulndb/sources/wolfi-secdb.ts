import { WOLFI_NAMESPACE } from "../namespace.js";
import { parseSecdb } from "./alpine-secdb.js";
import type { FeedDefinition } from "./types.js";

/**
 * Wolfi's security feed (https://packages.wolfi.dev/os/security.json): the Alpine secdb shape
 * (`{ apkurl, archs, reponame: "os", urlprefix, packages: [{ pkg: { name, secfixes } }] }`)
 * without `distroversion`, since Wolfi is rolling: every record goes to `wolfi:rolling`.
 */
const WOLFI_SECDB_URL = "https://packages.wolfi.dev/os/security.json";

export const wolfiSecdbFeed: FeedDefinition = {
  name: "wolfi",
  title: "Wolfi security feed",
  defaultLocations: [WOLFI_SECDB_URL],
  defaultsMayBeMissing: false,
  enabledByDefault: true,
  parse: (input, sink) =>
    parseSecdb(input, sink, { title: "Wolfi security feed", namespace: WOLFI_NAMESPACE }),
};
