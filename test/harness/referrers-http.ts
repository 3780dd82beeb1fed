/**
 * Reads an image's OCI referrers with plain HTTP, independently of ocipatch, the way
 * go-containerregistry's remote.Referrers (used by trivy's `--vex oci` and
 * `--sbom-sources oci`) does: `GET /v2/<repo>/referrers/<digest>`, and when the registry
 * has no such API (404), the referrers tag schema `GET /v2/<repo>/manifests/sha256-<hex>`.
 * Then each referrer's manifest and its single layer blob.
 */
export interface HttpAuth {
  readonly username: string;
  readonly password: string;
}

export interface ReferrerEntry {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
}

interface ReferrerManifest {
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly config: { mediaType: string; digest: string; size: number };
  readonly layers: Array<{
    mediaType: string;
    digest: string;
    size: number;
    annotations?: Record<string, string>;
  }>;
  readonly subject?: { mediaType: string; digest: string; size: number };
  readonly annotations?: Record<string, string>;
}

const INDEX = "application/vnd.oci.image.index.v1+json";
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

function headers(auth: HttpAuth | undefined, accept: string): Record<string, string> {
  const h: Record<string, string> = { accept };
  if (auth)
    h["authorization"] = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
  return h;
}

async function get(url: string, auth: HttpAuth | undefined, accept: string): Promise<Response> {
  return fetch(url, { headers: headers(auth, accept) });
}

/** The referrers index of `digest` in `host/repo` and how it was found. */
export async function discoverReferrers(
  host: string,
  repo: string,
  digest: string,
  auth?: HttpAuth,
): Promise<{ method: "api" | "tag"; manifests: ReferrerEntry[] }> {
  const base = `http://${host}/v2/${repo}`;
  const api = await get(`${base}/referrers/${digest}`, auth, INDEX);
  if (api.status === 200 && api.headers.get("content-type")?.startsWith(INDEX)) {
    const j = (await api.json()) as { manifests?: ReferrerEntry[] };
    return { method: "api", manifests: j.manifests ?? [] };
  }
  await api.body?.cancel();
  const tag = digest.replace(":", "-");
  const r = await get(`${base}/manifests/${tag}`, auth, INDEX);
  if (r.status === 404) {
    await r.body?.cancel();
    return { method: "tag", manifests: [] };
  }
  if (r.status !== 200) throw new Error(`GET ${base}/manifests/${tag}: HTTP ${r.status}`);
  const j = (await r.json()) as { mediaType?: string; manifests?: ReferrerEntry[] };
  if (j.mediaType !== INDEX) throw new Error(`${tag} is a ${j.mediaType}, not an OCI index`);
  return { method: "tag", manifests: j.manifests ?? [] };
}

export async function fetchManifest(
  host: string,
  repo: string,
  digest: string,
  auth?: HttpAuth,
): Promise<ReferrerManifest> {
  const r = await get(`http://${host}/v2/${repo}/manifests/${digest}`, auth, MANIFEST);
  if (r.status !== 200) throw new Error(`manifest ${digest}: HTTP ${r.status}`);
  return (await r.json()) as ReferrerManifest;
}

export async function fetchBlob(
  host: string,
  repo: string,
  digest: string,
  auth?: HttpAuth,
): Promise<Buffer> {
  const r = await get(`http://${host}/v2/${repo}/blobs/${digest}`, auth, "*/*");
  if (r.status !== 200) throw new Error(`blob ${digest}: HTTP ${r.status}`);
  return Buffer.from(await r.arrayBuffer());
}

/** Every blob digest the referrers of `digest` use (their configs and layers). */
export async function referrerBlobDigests(
  host: string,
  repo: string,
  digest: string,
  auth?: HttpAuth,
): Promise<Set<string>> {
  const out = new Set<string>();
  const { manifests } = await discoverReferrers(host, repo, digest, auth);
  for (const m of manifests) {
    const man = await fetchManifest(host, repo, m.digest, auth);
    out.add(man.config.digest);
    for (const l of man.layers) out.add(l.digest);
  }
  return out;
}
