import { describe, expect, it } from "vitest";
import { formatScriptReport } from "../../../../report/scripts.js";
import { classifyScript, upgradeScriptReport } from "../index.js";

describe("maintainer script classification (heuristic)", () => {
  it("boilerplate does nothing", () => {
    for (const s of [
      undefined,
      "#!/bin/sh\nset -e\n\n#DEBHELPER#\n\nexit 0\n",
      '#!/bin/sh\nset -e\ncase "$1" in\n  configure)\n  ;;\n  abort-upgrade|abort-remove|abort-deconfigure)\n  ;;\n  *)\n    echo "postinst called with unknown argument \\`$1\'" >&2\n    exit 1\n  ;;\nesac\nexit 0\n',
      "#!/bin/sh\n# only comments\n. /usr/share/debconf/confmodule\n",
    ]) {
      expect(classifyScript(s).effective).toBe(false);
    }
  });

  it("names the notable actions", () => {
    const s = [
      "#!/bin/sh",
      "set -e",
      'if [ "$1" = "configure" ]; then',
      "  ldconfig",
      "  update-alternatives --install /usr/bin/x x /usr/bin/x1 10",
      "  adduser --system --group foo",
      "  deb-systemd-helper enable foo.service >/dev/null || true",
      "  invoke-rc.d foo restart",
      '  dpkg-maintscript-helper rm_conffile /etc/foo.conf 1.0~ -- "$@"',
      "  db_get foo/question",
      "  update-ca-certificates --fresh",
      "  chown root:adm /var/log/foo",
      "fi",
    ].join("\n");
    const c = classifyScript(s);
    expect(c.effective).toBe(true);
    expect(new Set(c.actions.map((a) => a.kind))).toEqual(
      new Set([
        "other",
        "ldconfig",
        "alternatives",
        "users-groups",
        "systemd",
        "services",
        "conffile-migration",
        "debconf",
        "ca-certificates",
        "permissions",
      ]),
    );
  });

  it("non-shell scripts count as doing something unless empty", () => {
    expect(classifyScript("#!/usr/bin/perl\nuse strict;\nexit 0;\n").effective).toBe(false);
    expect(classifyScript("#!/usr/bin/perl\nuse strict;\nsystem('x');\n").effective).toBe(true);
  });

  it("reports the scripts dpkg runs on upgrade, and trigger activations", () => {
    const r = upgradeScriptReport("libfoo1", "1.0-1", "1.0-2", {
      old: {
        postrm: Buffer.from("#!/bin/sh\nset -e\nexit 0\n"),
        prerm: Buffer.from("#!/bin/sh\nrm -f /x\n"),
      },
      new: { postinst: Buffer.from("#!/bin/sh\nset -e\n#DEBHELPER#\n") },
      newTriggers: Buffer.from("# ldconfig\nactivate-noawait ldconfig\n"),
    });
    expect(r.wouldHaveDoneSomething).toBe(true);
    expect(r.findings.map((f) => `${f.version} ${f.script}`)).toEqual(["old prerm", "new triggers"]);
    expect(formatScriptReport(r)).toBe("libfoo1: prerm (file-changes), triggers (triggers)");
    const none = upgradeScriptReport("x", "1", "2", { old: {}, new: {} });
    expect(none.wouldHaveDoneSomething).toBe(false);
  });
});
