import { describe, expect, it } from "vitest";
import type { OsInfo } from "../../os/types.js";
import { namespaceForOs } from "../release.js";

const os = (id: string, versionId?: string, codename?: string, prettyName?: string): OsInfo => ({
  id,
  idLike: [],
  versionId,
  codename,
  prettyName,
  family: "debian",
  source: "/etc/os-release",
});

describe("namespaceForOs", () => {
  it("maps Debian by VERSION_ID, else by codename (testing/sid have no VERSION_ID)", () => {
    expect(namespaceForOs(os("debian", "11", "bullseye")).namespace).toBe("debian:bullseye");
    expect(namespaceForOs(os("debian", "12")).namespace).toBe("debian:bookworm");
    expect(namespaceForOs(os("debian", "13", "trixie")).namespace).toBe("debian:trixie");
    expect(namespaceForOs(os("debian", undefined, "forky", "Debian GNU/Linux forky/sid")).namespace).toBe(
      "debian:forky",
    );
    expect(namespaceForOs(os("debian", undefined, undefined, "Debian GNU/Linux sid")).namespace).toBe(
      "debian:sid",
    );
    expect(namespaceForOs(os("debian")).warning).toMatch(/unknown Debian release/);
  });

  it("maps Ubuntu by VERSION_ID and Alpine by major.minor (edge for pre-releases)", () => {
    expect(namespaceForOs(os("ubuntu", "22.04", "jammy")).namespace).toBe("ubuntu:22.04");
    expect(namespaceForOs(os("alpine", "3.21.3")).namespace).toBe("alpine:3.21");
    expect(namespaceForOs(os("alpine", "3.22_alpha20250108")).namespace).toBe("alpine:edge");
    expect(namespaceForOs(os("ubuntu")).namespace).toBeUndefined();
  });

  it("maps AlmaLinux, Rocky Linux and RHEL (UBI) by major release, openSUSE Leap and SLES by VERSION_ID", () => {
    expect(namespaceForOs(os("almalinux", "9.4")).namespace).toBe("almalinux:9");
    expect(namespaceForOs(os("rocky", "8.10")).namespace).toBe("rocky:8");
    expect(
      namespaceForOs(os("rhel", "9.4", undefined, "Red Hat Enterprise Linux 9.4 (Plow)")).namespace,
    ).toBe("rhel:9");
    expect(namespaceForOs(os("opensuse-leap", "15.5")).namespace).toBe("opensuse-leap:15.5");
    expect(namespaceForOs(os("sles", "15.5")).namespace).toBe("sles:15.5");
    expect(namespaceForOs(os("rocky", undefined, undefined, "Rocky Linux")).warning).toBe(
      "unknown release Rocky Linux: no vulnerability data applies",
    );
  });

  it("maps Wolfi (rolling, no VERSION_ID) to its one namespace", () => {
    expect(namespaceForOs(os("wolfi")).namespace).toBe("wolfi:rolling");
    expect(namespaceForOs(os("wolfi", "20230201")).namespace).toBe("wolfi:rolling");
  });

  it("warns for other systems instead of failing", () => {
    const r = namespaceForOs(os("fedora", "40", undefined, "Fedora Linux 40 (Container Image)"));
    expect(r.namespace).toBeUndefined();
    expect(r.warning).toMatch(/unsupported operating system Fedora Linux 40 \(Container Image\)/);
  });
});
