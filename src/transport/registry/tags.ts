import { z } from "zod";
import { OcipatchError } from "../../errors.js";
import { parseReference, type Reference } from "../../reference/reference.js";
import { readAll } from "../../util/streams.js";
import { RegistryClient } from "./client.js";
import { headerValue } from "./http.js";
import type { RegistryOptions } from "./options.js";
import { pullScope } from "./scope.js";

/**
 * `GET /v2/<name>/tags/list` (distribution spec "content discovery"), following the `Link:
 * <...>; rel="next"` header page by page. Authentication is the client's, as for manifests.
 */

const TagListSchema = z.object({
  name: z.string().optional(),
  tags: z.array(z.string()).nullable().optional(),
});

/** Largest tag list page read. */
const MAX_PAGE_BYTES = 8 * 1024 * 1024;
/** Pages followed at most (a registry whose `Link` loops stops here). */
const MAX_PAGES = 1000;
/** Page size asked for (`n`); registries may answer with fewer. */
const PAGE_SIZE = 1000;

export interface ListTagsOptions extends RegistryOptions {
  /** Page size asked for (`?n=`); default 1000. */
  readonly pageSize?: number | undefined;
}

/** The `rel="next"` target of a `Link` header, if any (RFC 8288, as registries send it). */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*((?:;[^;]*)*)$/.exec(part);
    if (!m) continue;
    const params = m[2] ?? "";
    if (/;\s*rel\s*=\s*"?(?:[^";]*\s)?next(?:\s[^";]*)?"?\s*(?:;|$)/i.test(params)) return m[1];
  }
  return undefined;
}

/** Every tag of `ref`'s repository, in the order the registry lists them. */
export async function listTags(ref: Reference | string, opts: ListTagsOptions = {}): Promise<string[]> {
  const r = typeof ref === "string" ? parseReference(ref) : ref;
  const client = new RegistryClient(r.registry, opts);
  const repo = r.repository;
  const name = `${r.registry}/${repo}`;
  const tags: string[] = [];
  const seen = new Set<string>();
  let target: string | URL = `/v2/${repo}/tags/list?n=${opts.pageSize ?? PAGE_SIZE}`;
  for (let page = 0; ; page++) {
    if (page >= MAX_PAGES) {
      throw new OcipatchError(
        "REGISTRY",
        `registry ${r.registry} listed more than ${MAX_PAGES} pages of tags for ${repo}`,
      );
    }
    const res = await client.send({
      method: "GET",
      target,
      scopes: [pullScope(repo)],
      headers: { accept: "application/json" },
      expect: [200],
      what: `GET tags of ${name}`,
      notFound: () => new OcipatchError("NOT_FOUND", `repository ${name} not found`),
      signal: opts.signal,
    });
    const link = headerValue(res, "link");
    const bytes = await readAll(res.body, MAX_PAGE_BYTES);
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString("utf8"));
    } catch {
      throw new OcipatchError(
        "REGISTRY",
        `registry ${r.registry} answered the tag list of ${repo} with invalid JSON`,
      );
    }
    const parsed = TagListSchema.safeParse(json);
    if (!parsed.success) {
      throw new OcipatchError(
        "REGISTRY",
        `registry ${r.registry} answered the tag list of ${repo} with an unexpected document`,
      );
    }
    for (const t of parsed.data.tags ?? []) {
      if (seen.has(t)) continue;
      seen.add(t);
      tags.push(t);
    }
    const next = nextLink(link);
    if (next === undefined) return tags;
    const origin = await client.origin();
    const url = new URL(next, `${origin}/v2/${repo}/tags/list`);
    // credentials go to the registry only: a link elsewhere is refused
    if (url.origin !== new URL(origin).origin) {
      throw new OcipatchError(
        "REGISTRY",
        `registry ${r.registry} sent a tag list link to another host (${url.host})`,
      );
    }
    target = url;
  }
}
