/** What the image's OS is, as far as ocipatch needs to know it. */

export type OsFamily = "debian" | "alpine" | "redhat" | "suse" | "unknown";

/** What /etc/os-release (or a fallback) says about the image's OS. */
export interface OsInfo {
  /** `ID`: debian, ubuntu, alpine, ... */
  readonly id: string;
  readonly idLike: readonly string[];
  /** `VERSION_ID`: "11", "22.04"; undefined for Debian testing/sid. */
  readonly versionId: string | undefined;
  /** `VERSION_CODENAME`: bullseye, jammy, trixie, sid. */
  readonly codename: string | undefined;
  readonly prettyName: string | undefined;
  readonly family: OsFamily;
  /** The file the information came from (`/etc/os-release`, `/etc/debian_version`...). */
  readonly source: string;
}
