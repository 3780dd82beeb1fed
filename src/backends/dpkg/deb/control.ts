import { OcipatchError } from "../../../errors.js";
import type { ConffileEntry } from "./types.js";

/**
 * Parse a `md5sums` control member (or a dpkg `info/<pkg>.md5sums` file):
 * lines of `<32 hex>  <path>` with the path relative to the root.
 */
export function parseMd5sums(text: string, source = "md5sums"): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") continue;
    const m = /^([0-9a-fA-F]{32}) [ *](.+)$/.exec(line);
    if (!m) throw new OcipatchError("INVALID_FORMAT", `${source}:${i + 1}: malformed md5sums line`);
    let path = m[2]!;
    while (path.startsWith("/")) path = path.slice(1);
    while (path.startsWith("./")) path = path.slice(2);
    out.set(path, m[1]!.toLowerCase());
  }
  return out;
}

/** Parse a `conffiles` control member (deb-conffiles(5)), flags included. */
export function parseConffiles(text: string, source = "conffiles"): ConffileEntry[] {
  const out: ConffileEntry[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.replace(/\s+$/, "");
    if (line === "") continue;
    if (line.startsWith("/")) {
      out.push({ path: line, removeOnUpgrade: false });
      continue;
    }
    const sp = line.indexOf(" ");
    const flag = sp === -1 ? line : line.slice(0, sp);
    const path = sp === -1 ? "" : line.slice(sp + 1);
    if (!path.startsWith("/")) {
      throw new OcipatchError("INVALID_FORMAT", `${source}:${i + 1}: conffile name is not an absolute path`);
    }
    if (flag !== "remove-on-upgrade") {
      throw new OcipatchError("INVALID_FORMAT", `${source}:${i + 1}: unknown conffile flag "${flag}"`);
    }
    out.push({ path, removeOnUpgrade: true });
  }
  return out;
}
