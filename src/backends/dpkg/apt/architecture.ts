import { OcipatchError } from "../../../errors.js";

/** The Debian architecture name of an OCI platform (image config `architecture` + `variant`). */
export function debianArchitecture(architecture: string, variant?: string | undefined): string {
  switch (architecture) {
    case "amd64":
    case "arm64":
    case "s390x":
    case "riscv64":
    case "loong64":
      return architecture;
    case "386":
      return "i386";
    case "ppc64le":
      return "ppc64el";
    case "mips64le":
      return "mips64el";
    case "arm": {
      const v = (variant ?? "v7").toLowerCase();
      return v === "v7" || v === "v8" ? "armhf" : "armel";
    }
    default:
      throw new OcipatchError(
        "UNSUPPORTED",
        `no Debian architecture for the OCI architecture "${architecture}"`,
      );
  }
}
