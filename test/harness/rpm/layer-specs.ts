/**
 * Specs for the patch-layer tests: SPECS / UPDATED_SPECS plus `confpkg`, whose second version
 * changes its `%config` and `%config(noreplace)` files, drops a file, adds one, keeps a hard-link
 * pair, has files owned by `daemon`, scriptlets (%post/%postun ldconfig, a systemctl call) and a
 * trigger on basesh; its second version drops a locally changed `%config` file and requires
 * `newdep`, new to the image, which obsoletes `legacy`. Nothing runs them here: /bin/sh of `basesh` is a text file, so rpm only
 * warns about the failed scriptlets on the dnf-upgraded twin.
 */
import { SPECS, type SpecFile, UPDATED_SPECS } from "./specs.js";

function confpkg(version: 1 | 2): SpecFile {
  const dropped = version === 1;
  return {
    name: "confpkg",
    text: `Name: confpkg
Version: ${version}
Release: 1
Summary: config files, a dropped file, hard links, owners, scriptlets
License: MIT
BuildArch: noarch
${dropped ? "" : "Requires: newdep\n"}%description
conf
%install
mkdir -p %{buildroot}/etc/confpkg %{buildroot}/usr/share/confpkg %{buildroot}/srv/confpkg
echo 'keep = ${version}' > %{buildroot}/etc/confpkg/keep.conf
echo 'replace = ${version}' > %{buildroot}/etc/confpkg/replace.conf
echo 'same = ${version}' > %{buildroot}/etc/confpkg/same.conf
echo 'stable' > %{buildroot}/etc/confpkg/stable.conf
echo 'data ${version}' > %{buildroot}/usr/share/confpkg/data
ln %{buildroot}/usr/share/confpkg/data %{buildroot}/usr/share/confpkg/data-link
${dropped ? "echo old > %{buildroot}/usr/share/confpkg/dropped.txt" : "echo new > %{buildroot}/usr/share/confpkg/added.txt"}
${dropped ? "echo 'gone = 1' > %{buildroot}/etc/confpkg/gone.conf" : ""}
echo owned > %{buildroot}/srv/confpkg/owned
%post
/sbin/ldconfig
systemctl daemon-reload
%postun
/sbin/ldconfig
%triggerin -- basesh
update-alternatives --auto sh
%files
%config(noreplace) /etc/confpkg/keep.conf
%config /etc/confpkg/replace.conf
%config(noreplace) /etc/confpkg/same.conf
%config(noreplace) /etc/confpkg/stable.conf
${dropped ? "%config /etc/confpkg/gone.conf" : ""}
/usr/share/confpkg
%dir %attr(0750,daemon,daemon) /srv/confpkg
%attr(0640,daemon,daemon) /srv/confpkg/owned
`,
  };
}

/** A package new in the second state: confpkg 2 requires it (dnf installs it with the upgrade). */
const NEWDEP: SpecFile = {
  name: "newdep",
  text: `Name: newdep
Version: 1
Release: 1
Summary: a dependency new to the image
License: MIT
BuildArch: noarch
Obsoletes: legacy < 2
Provides: legacy = 2
%description
newdep
%install
mkdir -p %{buildroot}/usr/share/newdep %{buildroot}/usr/share/legacy
echo new > %{buildroot}/usr/share/newdep/file
echo shared, new > %{buildroot}/usr/share/legacy/shared.txt
%files
/usr/share/newdep
/usr/share/legacy/shared.txt
`,
};

/** In the first state only: newdep obsoletes it (dnf erases it with the upgrade). */
const LEGACY: SpecFile = {
  name: "legacy",
  text: `Name: legacy
Version: 1
Release: 1
Summary: obsoleted by newdep
License: MIT
BuildArch: noarch
%description
legacy
%install
mkdir -p %{buildroot}/usr/share/legacy
echo old > %{buildroot}/usr/share/legacy/file
echo shared, old > %{buildroot}/usr/share/legacy/shared.txt
%postun
echo bye
%files
/usr/share/legacy
`,
};

/** Version 2 gives its programs file capabilities (`%caps`): rpm sets the security.capability xattr. */
function capped(version: 1 | 2): SpecFile {
  const caps = (text: string) => (version === 2 ? `%caps(${text}) ` : "");
  return {
    name: "capped",
    text: `Name: capped
Version: ${version}
Release: 1
Summary: programs with file capabilities
License: MIT
BuildArch: noarch
%description
capped
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/libexec/capped
printf '#!/bin/sh\\necho ping ${version}\\n' > %{buildroot}/usr/bin/pinger
printf '#!/bin/sh\\necho helper ${version}\\n' > %{buildroot}/usr/libexec/capped/helper
echo ${version} > %{buildroot}/usr/libexec/capped/plain
chmod 0755 %{buildroot}/usr/bin/pinger %{buildroot}/usr/libexec/capped/helper
%files
${caps("cap_net_raw=ep")}/usr/bin/pinger
${caps("cap_setuid,cap_net_bind_service+p")}/usr/libexec/capped/helper
/usr/libexec/capped/plain
`,
  };
}

export const LAYER_SPECS: readonly SpecFile[] = [...SPECS, confpkg(1), LEGACY, capped(1)];
export const LAYER_UPDATED_SPECS: readonly SpecFile[] = [...UPDATED_SPECS, confpkg(2), NEWDEP, capped(2)];
