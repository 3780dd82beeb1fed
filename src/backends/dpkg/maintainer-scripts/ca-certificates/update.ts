import type { CertsDir } from "./certs-dir.js";
import { rehash } from "./rehash.js";

/*
 * `update-ca-certificates --hooksdir ""` (as postinst configure runs it) on a
 * model of /etc/ssl/certs: a symlink NAME.pem → /usr/share/ca-certificates/X
 * for every enabled certificate and every /usr/local/share/ca-certificates
 * *.crt, the ones deselected with "!" removed, dangling links removed and
 * `openssl rehash` run when anything changed, and ca-certificates.crt the
 * concatenation of the certificates in that order (a missing final newline
 * added), mode 0644.
 */

export const CERTS_DIR = "/usr/share/ca-certificates";
export const LOCAL_CERTS_DIR = "/usr/local/share/ca-certificates";
export const BUNDLE = "ca-certificates.crt";

interface UpdateInput {
  readonly conf: string;
  /** Full paths of `find -L /usr/local/share/ca-certificates -type f -name '*.crt'`. */
  readonly localCrts: readonly string[];
  /** `--fresh`: every link into the certificate directories is recreated. */
  readonly fresh: boolean;
}

interface UpdateResult {
  readonly added: number;
  readonly removed: number;
  /** The new ca-certificates.crt (undefined: not rewritten, no certificate at all). */
  readonly bundle: Buffer | undefined;
  /** Certificates named in the configuration that do not exist (the tool's "W: ... not found"). */
  readonly missing: readonly string[];
}

/** basename "$1" .crt */
function basename(path: string, suffix: string): string {
  const trimmed = path.replace(/\/+$/, "");
  let b = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  if (b !== suffix && b.endsWith(suffix)) b = b.slice(0, -suffix.length);
  return b;
}

/** The lines of `sed` output read by `while read -r x`: trimmed of blanks; a final unterminated line is read too by sed. */
function confLines(conf: string): string[] {
  const lines = conf.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

export async function updateCaCertificates(
  dir: CertsDir,
  input: UpdateInput,
  byteCompare: (a: string, b: string) => number,
): Promise<UpdateResult> {
  const fresh = input.fresh || input.conf.length === 0;
  let added = 0;
  let removed = 0;
  const missing: string[] = [];
  if (fresh) {
    for (const [name, e] of [...dir.entries]) {
      if (e.kind !== "symlink") continue;
      if (e.target.startsWith(CERTS_DIR) || e.target.startsWith(LOCAL_CERTS_DIR)) dir.unlink(name);
    }
    for (const [name, e] of [...dir.entries]) {
      if (e.kind === "symlink" && (await dir.regularContent(name)) === undefined) dir.unlink(name);
    }
  }
  const parts: Buffer[] = [];
  let wroteBundle = false;
  const add = async (cert: string, content: Buffer): Promise<void> => {
    const pem = `${basename(cert, ".crt").replace(/ /g, "_").replace(/[()]/g, "=").replace(/,/g, "_")}.pem`;
    if (!(await dir.exists(pem)) || dir.readlink(pem) !== cert) {
      dir.unlink(pem);
      dir.symlink(pem, cert);
      added++;
    }
    wroteBundle = true;
    parts.push(content);
    if (content.length > 0 && content[content.length - 1] !== 0x0a) parts.push(Buffer.from("\n"));
  };
  const lines = confLines(input.conf);
  for (const line of lines) {
    if (line === "" || !line.startsWith("!")) continue;
    const crt = line.slice(1).trim();
    const pem = `${basename(`${CERTS_DIR}/${crt}`, ".crt")}.pem`;
    if (dir.entries.get(pem)?.kind === "symlink") {
      dir.unlink(pem);
      removed++;
    }
  }
  for (const line of lines) {
    if (line === "" || line.startsWith("#") || line.startsWith("!")) continue;
    const crt = line.trim();
    const path = `${CERTS_DIR}/${crt}`;
    const content = await dir.outsideRegular(path);
    if (content === undefined) {
      missing.push(crt);
      continue;
    }
    await add(path, content);
  }
  for (const path of [...input.localCrts].sort(byteCompare)) {
    const content = await dir.outsideRegular(path);
    if (content !== undefined) await add(path, content);
  }
  if (added > 0 || removed > 0) {
    for (const [name, e] of [...dir.entries]) {
      if (e.kind === "symlink" && !(await dir.exists(name))) dir.unlink(name);
    }
    await rehash(dir);
  }
  return { added, removed, bundle: wroteBundle ? Buffer.concat(parts) : undefined, missing };
}
