import { OcipatchError } from "../errors.js";
import type { Platform } from "./manifest.js";

/** Parse `os/arch[/variant]` (e.g. `linux/arm64/v8`). */
export function parsePlatform(s: string): Platform {
  const parts = s.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) {
    throw new OcipatchError(
      "USAGE",
      `invalid platform "${s}" (expected os/arch[/variant], e.g. linux/amd64)`,
    );
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

export function formatPlatform(p: Pick<Platform, "os" | "architecture" | "variant">): string {
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== "").join("/");
}

/** Default variants, as containerd normalises them. */
function normalizeVariant(arch: string, variant: string | undefined): string | undefined {
  if (arch === "arm64" && (variant === "v8" || variant === undefined)) return undefined;
  if (arch === "arm" && variant === undefined) return "v7";
  return variant;
}

/** Does a candidate platform satisfy the wanted one (variant optional in the wanted one)? */
export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  if (want.os !== have.os || want.architecture !== have.architecture) return false;
  if (want.variant === undefined) return true;
  return (
    normalizeVariant(want.architecture, want.variant) === normalizeVariant(have.architecture, have.variant)
  );
}

const NODE_ARCH: Record<string, string> = {
  x64: "amd64",
  arm64: "arm64",
  arm: "arm",
  ia32: "386",
  ppc64: "ppc64le",
  s390x: "s390x",
};

/** The platform of this host, in OCI terms. */
export function hostPlatform(): Platform {
  return { os: "linux", architecture: NODE_ARCH[process.arch] ?? process.arch };
}
