import { describe, expect, it } from "vitest";
import { parseRepoFile, substituteVars } from "../repo-file.js";

const VARS = { releasever: "9", basearch: "aarch64", contentdir: "rocky" };

describe(".repo files", () => {
  it("substitutes $var and {braced} vars, leaving unknown ones as dnf does", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dnf's variable syntax, not a template
    expect(substituteVars("$contentdir/$releasever/BaseOS/${basearch}/os/$nope", VARS)).toBe(
      "rocky/9/BaseOS/aarch64/os/$nope",
    );
  });

  it("reads Rocky's own .repo file shape: mirrorlist, commented baseurl, gpgkey, countme", () => {
    const text = `[baseos]
name=Rocky Linux $releasever - BaseOS
mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever$rltype
#baseurl=http://dl.rockylinux.org/$contentdir/$releasever/BaseOS/$basearch/os/
gpgcheck=1
enabled=1
countme=1
metadata_expire=6h
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9
`;
    expect(parseRepoFile(text, "rocky.repo", VARS)).toEqual([
      {
        id: "baseos",
        name: "Rocky Linux 9 - BaseOS",
        baseurls: [],
        mirrorlist: "https://mirrors.rockylinux.org/mirrorlist?arch=aarch64&repo=BaseOS-9$rltype",
        metalink: undefined,
        enabled: true,
        gpgcheck: true,
        repoGpgcheck: false,
        gpgkeys: ["file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9"],
        origin: "rocky.repo",
      },
    ]);
  });

  it("takes [main]'s defaults, booleans in every spelling, lists over lines and commas", () => {
    const text = `[main]
gpgcheck=1

[a]
baseurl=http://a/1 http://a/2,
 http://a/3
enabled=off
gpgcheck=no
repo_gpgcheck=True
gpgkey=file:///k1
\tfile:///k2
`;
    const [a] = parseRepoFile(text, "f.repo", VARS, { gpgcheck: true, repoGpgcheck: false });
    expect(a).toMatchObject({
      baseurls: ["http://a/1", "http://a/2", "http://a/3"],
      enabled: false,
      gpgcheck: false,
      repoGpgcheck: true,
      gpgkeys: ["file:///k1", "file:///k2"],
    });
  });

  it("refuses what dnf would refuse: one INVALID_FORMAT line naming the file", () => {
    for (const [text, msg] of [
      ["baseurl=http://x\n", /^f\.repo:1: not "key=value" in a \[section\]$/],
      ["[a]\nbaseurl=http://x\nenabled=maybe\n", /^f\.repo \[a\] enabled: "maybe" is not a boolean$/],
      ["[a]\nname=no url\n", /^f\.repo \[a\]: no baseurl, mirrorlist or metalink$/],
      ["[a]\nbaseurl=http://x\n[a]\nbaseurl=http://y\n", /repository id "a" appears twice/],
      ["[a]\njust words\n", /^f\.repo:2: not "key=value"/],
    ] as const) {
      expect(() => parseRepoFile(text, "f.repo", VARS)).toThrowError(msg);
    }
    // a disabled repository without a URL is fine (dnf only complains when it is used)
    expect(parseRepoFile("[a]\nenabled=0\n", "f.repo", VARS)).toHaveLength(1);
  });
});
