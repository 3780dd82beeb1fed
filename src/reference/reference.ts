import { OcipatchError } from "../errors.js";
import { type Digest, isDigest } from "../util/digest.js";

/**
 * A normalised image reference, as Docker's distribution/reference package parses
 * them: `nginx` is `docker.io/library/nginx:latest`.
 */
export interface Reference {
  /** Registry host as written (with port), `docker.io` for Docker Hub. */
  readonly registry: string;
  /** Repository path inside the registry, e.g. `library/nginx`. */
  readonly repository: string;
  /** Tag; `latest` when neither tag nor digest was given. */
  readonly tag: string | undefined;
  readonly digest: Digest | undefined;
}

export const DOCKER_HUB = "docker.io";
const LEGACY_HUB = "index.docker.io";
export const DEFAULT_TAG = "latest";

const ALNUM = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|[-]+)";
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const IPV6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|${IPV6})(?::[0-9]+)?$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_SHAPE_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
const NAME_TOTAL_LENGTH_MAX = 255;

function invalid(input: string, why: string): OcipatchError {
  return new OcipatchError("REFERENCE_INVALID", `invalid image reference "${input}": ${why}`);
}

/** Split `host/path` the way Docker does: the first component is a registry only if it looks like one. */
function splitDomain(name: string): [string, string] {
  const i = name.indexOf("/");
  let domain: string;
  let remainder: string;
  const first = i === -1 ? "" : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== "localhost" && first.toLowerCase() === first)) {
    domain = DOCKER_HUB;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_HUB) domain = DOCKER_HUB;
  if (domain === DOCKER_HUB && !remainder.includes("/")) remainder = `library/${remainder}`;
  return [domain, remainder];
}

/** Parse and normalise a reference. Throws REFERENCE_INVALID with the reason. */
export function parseReference(input: string): Reference {
  const s = input.trim();
  if (s === "") throw invalid(input, "empty");
  if (IDENTIFIER_RE.test(s)) {
    throw invalid(input, "cannot specify 64-byte hexadecimal strings as a repository name");
  }
  let rest = s;
  let digest: Digest | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    const d = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_SHAPE_RE.test(d)) throw invalid(input, `invalid digest "${d}"`);
    if (!isDigest(d)) throw invalid(input, `unsupported digest "${d}" (sha256 or sha512, lowercase hex)`);
    digest = d;
  }
  let tag: string | undefined;
  // a tag is after the last ':' that follows the last '/'
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.indexOf(":", lastSlash + 1);
  if (colon !== -1) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw invalid(input, `invalid tag "${tag}"`);
  }
  if (rest === "") throw invalid(input, "missing repository name");
  if (rest.length > NAME_TOTAL_LENGTH_MAX)
    throw invalid(input, `repository name longer than ${NAME_TOTAL_LENGTH_MAX} characters`);
  const [registry, repository] = splitDomain(rest);
  if (!DOMAIN_RE.test(registry)) throw invalid(input, `invalid registry host "${registry}"`);
  if (repository !== repository.toLowerCase()) throw invalid(input, "repository name must be lowercase");
  if (!PATH_RE.test(repository)) throw invalid(input, `invalid repository name "${repository}"`);
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return { registry, repository, tag, digest };
}

/** `registry/repository` */
export function repositoryName(ref: Reference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** Fully qualified string: `docker.io/library/nginx:1.22@sha256:...` */
export function formatReference(ref: Reference): string {
  let s = repositoryName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** Docker's "familiar" form: `nginx:1.22`, `user/app:tag`, other registries unchanged. */
export function familiarReference(ref: Reference): string {
  let name = repositoryName(ref);
  if (ref.registry === DOCKER_HUB) {
    name = ref.repository.startsWith("library/") ? ref.repository.slice("library/".length) : ref.repository;
  }
  let s = name;
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

export function withTag(ref: Reference, tag: string): Reference {
  if (!TAG_RE.test(tag)) throw invalid(tag, `invalid tag "${tag}"`);
  return { registry: ref.registry, repository: ref.repository, tag, digest: undefined };
}

export function withDigest(ref: Reference, digest: Digest): Reference {
  return { registry: ref.registry, repository: ref.repository, tag: undefined, digest };
}

/** What to ask the registry for: the digest when pinned, otherwise the tag. */
export function manifestIdentifier(ref: Reference): string {
  return ref.digest ?? ref.tag ?? DEFAULT_TAG;
}

/** Registry host to connect to (Docker Hub's API lives on registry-1.docker.io). */
export function registryEndpointHost(registry: string): string {
  return registry === DOCKER_HUB ? "registry-1.docker.io" : registry;
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}
