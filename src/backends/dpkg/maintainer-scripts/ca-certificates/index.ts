import { isOcipatchError } from "../../../../errors.js";
import type { ScriptEffect } from "../../../types.js";
import { DEBCONF_CONFIG_DB } from "../../db/paths.js";
import type { EffectOutcome, EffectWrite, ImageView } from "../effects.js";
import { CertsDir, type CertsDirEntry, ETC_CERTS } from "./certs-dir.js";
import { byteCompare, certsListOf, type TrustNew, unsupportedConf, updateCaConf } from "./conf.js";
import { BUNDLE, CERTS_DIR, LOCAL_CERTS_DIR, updateCaCertificates } from "./update.js";

/*
 * ca-certificates' postinst, natively: /etc/ca-certificates.conf updated for
 * the certificates the new version adds and drops, then
 * `update-ca-certificates --hooksdir ""` (symlinks, hash links, bundle). The
 * hooks in /etc/ca-certificates/update.d (run by the deferred trigger) are
 * NOT run: reported. The debconf database is not updated.
 */

const CONF = "/etc/ca-certificates.conf";
const HOOKS_DIR = "/etc/ca-certificates/update.d";
const MAX_DEPTH = 16;

interface CaCertificatesInput {
  readonly view: ImageView;
  /** The new package's `config` script. */
  readonly configScript: Buffer | undefined;
}

/** trust_new_crts from the image's debconf database (default "yes"). */
async function trustNewCrts(view: ImageView): Promise<string> {
  const db = await view.readRegular(DEBCONF_CONFIG_DB);
  if (!db) return "yes";
  for (const para of db.toString("utf8").split(/\n\s*\n/)) {
    if (!/^Name: ca-certificates\/trust_new_crts\s*$/m.test(para)) continue;
    return /^Value: (.*)$/m.exec(para)?.[1]?.trim() || "yes";
  }
  return "yes";
}

/** `find DIR -type f -name '*.crt'` (`find -L` when follow), full paths. */
async function findCrts(view: ImageView, dir: string, follow: boolean, depth = 0): Promise<string[]> {
  if (depth > MAX_DEPTH) return [];
  const out: string[] = [];
  for (const name of await view.readdir(dir)) {
    const p = `${dir}/${name}`;
    const st = await view.lstat(p);
    if (!st) continue;
    let kind = st.kind;
    if (kind === "symlink" && follow) {
      if ((await view.readRegular(p)) !== undefined) kind = "file";
      else if ((await view.readdir(p)).length > 0) kind = "directory";
    }
    if (kind === "directory") out.push(...(await findCrts(view, p, follow, depth + 1)));
    else if (kind === "file" && name.endsWith(".crt")) out.push(p);
  }
  return out;
}

async function readCertsDir(view: ImageView): Promise<Map<string, CertsDirEntry>> {
  const m = new Map<string, CertsDirEntry>();
  for (const name of await view.readdir(ETC_CERTS)) {
    const p = `${ETC_CERTS}/${name}`;
    const st = await view.lstat(p);
    if (!st) continue;
    if (st.kind === "symlink") m.set(name, { kind: "symlink", target: st.target ?? "" });
    else if (st.kind === "file")
      m.set(name, { kind: "file", content: (await view.readRegular(p)) ?? Buffer.alloc(0) });
    else m.set(name, { kind: st.kind });
  }
  return m;
}

function skipped(detail: string): EffectOutcome {
  return {
    effect: { package: "ca-certificates", effect: "update-ca-certificates", status: "skipped", detail },
    writes: [],
    removes: [],
  };
}

function sameEntry(a: CertsDirEntry | undefined, b: CertsDirEntry | undefined): boolean {
  if (!a || !b || a.kind !== b.kind) return a === b;
  if (a.kind === "symlink" && b.kind === "symlink") return a.target === b.target;
  if (a.kind === "file" && b.kind === "file") return a.content.equals(b.content);
  return true;
}

/** Reproduce what ca-certificates' postinst configure would have done to the image. */
export async function caCertificatesPostinst(input: CaCertificatesInput): Promise<EffectOutcome> {
  const { view } = input;
  const certsList = input.configScript ? certsListOf(input.configScript.toString("utf8")) : undefined;
  if (!certsList) return skipped("the new package's config script has no CERTS_LIST");
  const trust = await trustNewCrts(view);
  if (trust !== "yes" && trust !== "no") {
    return skipped(`debconf ca-certificates/trust_new_crts is "${trust}" (only yes/no are reproduced)`);
  }
  if (!(await view.isRegular("/usr/bin/openssl"))) {
    return skipped("the image has no /usr/bin/openssl (update-ca-certificates would fail)");
  }
  const confBuf = await view.readRegular(CONF);
  const confText = confBuf?.toString("utf8");
  const why = unsupportedConf(confText);
  if (why) return skipped(why);

  const shareExists = (await view.lstat(CERTS_DIR))?.kind === "directory";
  const shareCrts = shareExists
    ? (await findCrts(view, CERTS_DIR, false)).map((p) => p.slice(CERTS_DIR.length + 1))
    : undefined;
  const fileExists = new Set<string>();
  for (const dir of [CERTS_DIR, LOCAL_CERTS_DIR]) {
    for (const p of await findCrts(view, dir, true)) fileExists.add(p.slice(dir.length + 1));
  }
  const conf = updateCaConf({
    conf: confText,
    shareCrts,
    certsList,
    trustNew: trust as TrustNew,
    certFileExists: (rel) => fileExists.has(rel),
  });

  const before = await readCertsDir(view);
  const confView: ImageView = {
    ...view,
    readRegular: async (p) => (p === CONF ? Buffer.from(conf.conf) : view.readRegular(p)),
  };
  const dir = new CertsDir(new Map(before), { readRegular: (p) => confView.readRegular(p) });
  let result: Awaited<ReturnType<typeof updateCaCertificates>>;
  try {
    result = await updateCaCertificates(
      dir,
      { conf: conf.conf, localCrts: await findCrts(view, LOCAL_CERTS_DIR, true), fresh: false },
      byteCompare,
    );
  } catch (e) {
    if (isOcipatchError(e, "UNSUPPORTED") || isOcipatchError(e, "INVALID_FORMAT")) return skipped(e.message);
    throw e;
  }

  const writes: EffectWrite[] = [];
  const removes: string[] = [];
  if (conf.changed) {
    writes.push({ path: CONF, kind: "file", content: Buffer.from(conf.conf), mode: 0o644 });
    if (!conf.created && confBuf) {
      writes.push({ path: `${CONF}.dpkg-old`, kind: "file", content: confBuf, mode: 0o644 });
    }
  }
  const after = dir.entries;
  if (result.bundle) after.set(BUNDLE, { kind: "file", content: result.bundle });
  for (const [name, e] of [...after].sort(([a], [b]) => byteCompare(a, b))) {
    if (sameEntry(before.get(name), e)) continue;
    const path = `${ETC_CERTS}/${name}`;
    if (e.kind === "symlink") writes.push({ path, kind: "symlink", target: e.target });
    else if (e.kind === "file") writes.push({ path, kind: "file", content: e.content, mode: 0o644 });
  }
  for (const name of [...before.keys()].sort(byteCompare)) {
    if (!after.has(name)) removes.push(`${ETC_CERTS}/${name}`);
  }
  const hooks = (await view.readdir(HOOKS_DIR)).filter((n) => /^[A-Za-z0-9_-]+$/.test(n));
  const notes: string[] = [];
  if (result.missing.length > 0) notes.push(`${result.missing.length} listed certificate(s) not found`);
  if (hooks.length > 0) notes.push(`hooks in ${HOOKS_DIR} NOT run: ${hooks.join(", ")}`);
  notes.push("debconf database not updated");
  const changed = writes.length + removes.length;
  const effect: ScriptEffect =
    changed === 0
      ? {
          package: "ca-certificates",
          effect: "update-ca-certificates",
          status: "not needed",
          detail: `/etc/ssl/certs and ${CONF} already as the new version leaves them (${notes.join("; ")})`,
        }
      : {
          package: "ca-certificates",
          effect: "update-ca-certificates",
          status: "applied natively",
          detail: `${CONF}${conf.changed ? " updated" : " unchanged"}; /etc/ssl/certs: ${result.added} certificate link(s) added, ${result.removed} removed, hash links and ${BUNDLE} regenerated (${notes.join("; ")})`,
          paths: [...writes.map((w) => w.path), ...removes],
        };
  return { effect, writes, removes };
}
