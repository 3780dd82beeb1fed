import { describe, expect, it } from "vitest";
import { rpmBaseArch } from "../repositories.js";

describe("rpmBaseArch", () => {
  it("maps OCI platforms to dnf's $basearch", () => {
    const arch = (architecture: string, variant?: string) => rpmBaseArch({ architecture, variant });
    expect([
      arch("amd64"),
      arch("arm64", "v8"),
      arch("ppc64le"),
      arch("s390x"),
      arch("386"),
      arch("arm", "v7"),
    ]).toEqual(["x86_64", "aarch64", "ppc64le", "s390x", "i386", "armhfp"]);
    expect(() => arch("mips64le")).toThrow(/rpm has no base architecture for platform mips64le/);
  });
});
