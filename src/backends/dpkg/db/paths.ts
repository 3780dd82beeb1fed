/**
 * Where dpkg keeps its database in an image, defined once. Paths are absolute, as
 * the filesystem view takes them; `entryPath` gives the form layer entries use
 * (no leading slash).
 */

const DPKG_DIR = "/var/lib/dpkg";
/** The full database: one deb822 record per package. */
export const DPKG_STATUS = `${DPKG_DIR}/status`;
/** Distroless images: one record per file. */
export const DPKG_STATUS_D = `${DPKG_DIR}/status.d`;
/** Control files of installed packages (`<name>[:<arch>].<type>`). */
export const DPKG_INFO_DIR = `${DPKG_DIR}/info`;
/** Owner/mode overrides set by maintainer scripts (`dpkg-statoverride`). */
export const DPKG_STATOVERRIDE = `${DPKG_DIR}/statoverride`;

/** Diversions (`dpkg-divert`): from, to and the diverting package (`:` local), one line each. */
export const DPKG_DIVERSIONS = `${DPKG_DIR}/diversions`;

/** debconf's answers database (maintainer scripts' `config` questions). */
export const DEBCONF_CONFIG_DB = "/var/cache/debconf/config.dat";

/** `var/lib/dpkg/status` from `/var/lib/dpkg/status`: the name of a layer entry. */
export function entryPath(path: string): string {
  return path.replace(/^\/+/, "");
}
