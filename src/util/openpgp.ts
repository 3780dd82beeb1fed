import type * as OpenPGP from "openpgp";

import { once } from "./once.js";

/**
 * openpgp.js, imported when a key or signature is first read. It is a large module whose loading
 * (~0.1 s: it also builds AES tables ocipatch never uses) would otherwise be paid by every command
 * at start-up; `patch` starts it while its first Release downloads.
 */
export const openpgpLib: () => Promise<typeof OpenPGP> = once(() => import("openpgp"));
