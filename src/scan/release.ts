import { DEBIAN_CODENAMES } from "../os/releases.js";
import type { OsInfo } from "../os/types.js";
import {
  alpineNamespace,
  debianNamespace,
  rpmMajorNamespace,
  ubuntuNamespace,
  WOLFI_NAMESPACE,
} from "../vulndb/namespace.js";

interface ReleaseMatch {
  /** `debian:bookworm`, `ubuntu:22.04`, `alpine:3.21`, `wolfi:rolling`; undefined when the OS is not supported. */
  readonly namespace: string | undefined;
  readonly warning?: string;
}

const describe = (os: OsInfo): string =>
  os.prettyName ??
  `${os.id}${os.versionId ? ` ${os.versionId}` : ""}${os.codename ? ` (${os.codename})` : ""}`;

/**
 * Which release's vulnerability data applies to an OS:
 * Debian by VERSION_ID (11 → bullseye, 12 → bookworm, 13 → trixie...), else by
 * VERSION_CODENAME (testing/sid have no VERSION_ID: trixie/forky/sid);
 * Ubuntu by VERSION_ID (22.04); Alpine by major.minor of VERSION_ID (a
 * `_alpha` VERSION_ID is edge); Wolfi (rolling, no releases) always wolfi:rolling; AlmaLinux, Rocky
 * Linux and RHEL (UBI) by the major release of VERSION_ID (9.4 → almalinux:9); openSUSE Leap and SLES
 * by VERSION_ID (15.5). Anything else: no namespace and a warning.
 */
export function namespaceForOs(os: OsInfo): ReleaseMatch {
  const id = os.id.toLowerCase();
  if (id === "debian") {
    const major = os.versionId?.split(".")[0];
    const byVersion = major ? DEBIAN_CODENAMES[major] : undefined;
    const codename = byVersion ?? os.codename?.toLowerCase();
    if (codename && /^[a-z]+$/.test(codename)) return { namespace: debianNamespace(codename) };
    if (!os.versionId && /\bsid\b|unstable/i.test(os.prettyName ?? ""))
      return { namespace: debianNamespace("sid") };
    return {
      namespace: undefined,
      warning: `unknown Debian release ${describe(os)}: no vulnerability data applies`,
    };
  }
  if (id === "ubuntu") {
    const v = os.versionId?.match(/^(\d+\.\d+)/)?.[1];
    if (v) return { namespace: ubuntuNamespace(v) };
    return {
      namespace: undefined,
      warning: `unknown Ubuntu release ${describe(os)}: no vulnerability data applies`,
    };
  }
  if (id === "alpine") {
    const v = os.versionId ?? "";
    if (/_alpha|_beta|_rc|edge/i.test(v) || /edge/i.test(os.prettyName ?? ""))
      return { namespace: "alpine:edge" };
    const ns = alpineNamespace(v);
    if (ns) return { namespace: ns };
    return {
      namespace: undefined,
      warning: `unknown Alpine release ${describe(os)}: no vulnerability data applies`,
    };
  }
  if (id === "wolfi") return { namespace: WOLFI_NAMESPACE };
  if (id === "almalinux" || id === "rocky" || id === "rhel") {
    const ns = rpmMajorNamespace(id, os.versionId ?? "");
    if (ns) return { namespace: ns };
    return {
      namespace: undefined,
      warning: `unknown release ${describe(os)}: no vulnerability data applies`,
    };
  }
  if (id === "opensuse-leap" || id === "sles") {
    const v = os.versionId?.match(/^(\d+\.\d+)$/)?.[1];
    if (v) return { namespace: `${id}:${v}` };
    return {
      namespace: undefined,
      warning: `unknown release ${describe(os)}: no vulnerability data applies`,
    };
  }
  return {
    namespace: undefined,
    warning: `unsupported operating system ${describe(os)}: ocipatch scans Debian, Ubuntu, Alpine, Wolfi, AlmaLinux, Rocky Linux, RHEL, openSUSE Leap and SLES; no findings reported`,
  };
}
