/**
 * Small spec files of REAL packages for the RPM tests: real files (scripts, config, libraries,
 * symlinks, nested directories), subpackages of one source, epochs, tilde and caret versions,
 * versioned and file dependencies, conflicts and obsoletes. Nothing here needs a real
 * distribution: `basesh` provides the `/bin/sh` that rpmbuild's automatic requires ask for.
 */
export interface SpecFile {
  /** File name stem ("hello" → hello.spec). */
  readonly name: string;
  readonly text: string;
}

export const SPECS: readonly SpecFile[] = [
  {
    name: "basesh",
    text: `Name: basesh
Version: 3
Release: 1
Summary: provides /bin/sh (a text file: nothing is run)
License: MIT
BuildArch: noarch
%description
base
%install
mkdir -p %{buildroot}/bin %{buildroot}/etc
printf 'not a shell\\n' > %{buildroot}/bin/sh
chmod 755 %{buildroot}/bin/sh
echo 'basesh' > %{buildroot}/etc/basesh-release
%files
/bin/sh
%config /etc/basesh-release
`,
  },
  {
    name: "hello",
    text: `Name: hello
Version: 1.0~rc1
Release: 1.el9
Epoch: 2
Summary: hello with a subpackage
License: MIT
%global debug_package %{nil}
Requires: %{name}-libs = %{epoch}:%{version}-%{release}
%description
hello
%package libs
Summary: hello libraries
Provides: libhello = %{version}
%description libs
libs
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc %{buildroot}/usr/lib64 %{buildroot}/var/lib/hello
printf '#!/bin/sh\\necho hi\\n' > %{buildroot}/usr/bin/hello
chmod 755 %{buildroot}/usr/bin/hello
echo conf > %{buildroot}/etc/hello.conf
echo lib > %{buildroot}/usr/lib64/libhello.so.1
ln -s libhello.so.1 %{buildroot}/usr/lib64/libhello.so
%files
/usr/bin/hello
%config(noreplace) /etc/hello.conf
%dir /var/lib/hello
%ghost /var/lib/hello/state
%files libs
/usr/lib64/libhello.so.1
/usr/lib64/libhello.so
`,
  },
  {
    name: "tool",
    text: `Name: tool
Version: 1.2^git20240101.abc
Release: 3%{?dist}
Summary: caret version, versioned and rich requires, conflicts, obsoletes
License: MIT
BuildArch: noarch
Requires: libhello >= 1.0~rc1
Requires: (hello or basesh)
Requires: /bin/sh
Conflicts: hello < 1:0
Obsoletes: oldtool < 1.0
Provides: tool-cli = 1.2
%description
tool
%install
mkdir -p %{buildroot}/usr/share/tool/a/b %{buildroot}/usr/bin
for i in 1 2 3; do echo "data $i" > %{buildroot}/usr/share/tool/a/b/file$i.txt; done
echo 'ünïcödé' > %{buildroot}/usr/share/tool/ünïcödé.txt
printf '#!/bin/sh\\n' > %{buildroot}/usr/bin/tool
chmod 4755 %{buildroot}/usr/bin/tool
%files
/usr/bin/tool
/usr/share/tool
`,
  },
];

/**
 * The second repository state: the fixes. hello goes from the pre-release 1.0~rc1 to 1.0 (same
 * epoch 2, so only tilde ordering makes it newer), tool from release 3 to 4; basesh is unchanged.
 */
export const UPDATED_SPECS: readonly SpecFile[] = SPECS.map((s) => {
  if (s.name === "hello") return { ...s, text: s.text.replace("Version: 1.0~rc1\n", "Version: 1.0\n") };
  if (s.name === "tool")
    return { ...s, text: s.text.replace("Release: 3%{?dist}\n", "Release: 4%{?dist}\n") };
  return s;
});
