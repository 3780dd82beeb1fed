import { OcipatchError } from "../../../errors.js";
import { type Paragraph, parseParagraphs } from "../debian/deb822.js";

export interface StatusReplacement {
  readonly package: string;
  /** Architecture of the record to replace (needed when several arches are installed). */
  readonly architecture?: string;
  /** The new record; undefined drops the record (and the blank line after it). */
  readonly record: Paragraph | undefined;
}

/**
 * Rewrite a whole /var/lib/dpkg/status text: the records of the given packages
 * are replaced in place (or dropped), everything else (order, other records,
 * blank lines) stays byte-identical. Every replacement must match exactly one record.
 */
export function rewriteStatusFile(text: string, replacements: readonly StatusReplacement[]): string {
  const lines = text.split("\n");
  const out: string[] = [];
  const used = new Set<StatusReplacement>();
  let i = 0;
  while (i < lines.length) {
    if (lines[i]!.trim() === "") {
      out.push(lines[i]!);
      i++;
      continue;
    }
    const start = i;
    while (i < lines.length && lines[i]!.trim() !== "") i++;
    const block = lines.slice(start, i);
    const para = parseParagraphs(`${block.join("\n")}\n`, { onError: () => {} })[0];
    const name = para?.get("Package");
    const arch = para?.get("Architecture");
    const hits = replacements.filter(
      (r) => r.package === name && (r.architecture === undefined || r.architecture === arch),
    );
    if (hits.length === 0) {
      out.push(...block);
      continue;
    }
    for (const h of hits) {
      if (used.has(h)) {
        throw new OcipatchError(
          "INVALID_FORMAT",
          `dpkg status: several records match ${h.package}${h.architecture ? `:${h.architecture}` : ""}`,
        );
      }
      used.add(h);
    }
    const record = hits[0]!.record;
    if (record) out.push(...record.toString().replace(/\n$/, "").split("\n"));
    else if (i < lines.length - 1 && lines[i]!.trim() === "") i++; // its separating blank line
  }
  for (const r of replacements) {
    if (!used.has(r)) {
      throw new OcipatchError("NOT_FOUND", `dpkg status: no record for ${r.package} to replace`);
    }
  }
  return out.join("\n");
}

/**
 * Distroless images keep one record per file in /var/lib/dpkg/status.d/<file>
 * (and sometimes `<file>.md5sums`). The new content keeps the original file name.
 */
export function statusDFiles(
  originalFile: string,
  record: Paragraph,
  md5sums?: Buffer,
): Array<{ path: string; data: Buffer }> {
  const base = originalFile.replace(/^.*\//, "");
  const out: Array<{ path: string; data: Buffer }> = [
    { path: `var/lib/dpkg/status.d/${base}`, data: Buffer.from(record.toString()) },
  ];
  if (md5sums) out.push({ path: `var/lib/dpkg/status.d/${base}.md5sums`, data: md5sums });
  return out;
}
