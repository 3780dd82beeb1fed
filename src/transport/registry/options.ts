import type { Credentials } from "../../auth/credentials.js";
import type { ProgressListener } from "../../util/progress.js";
import type { Challenge } from "./challenge.js";
import type { SharedBlobs } from "./shared-blobs.js";

/** Options of the registry transport (reading and writing). */
export interface RegistryOptions {
  /** Explicit credentials (e.g. `--username/--password`); otherwise the keychain is searched. */
  readonly credentials?: Credentials | undefined;
  /**
   * Talk to a registry that has no valid TLS: try HTTPS without verifying the
   * certificate, then plain HTTP. Loopback registries (127.0.0.0/8, ::1, localhost)
   * may use plain HTTP without this option, but their certificates are still verified.
   */
  readonly insecure?: boolean | undefined;
  /**
   * Environment (default `process.env`): OCIPATCH_USERNAME/OCIPATCH_PASSWORD,
   * REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, DOCKER_CONFIG, PATH (credential helpers), and
   * the CA bundles OCIPATCH_CA_FILE and SSL_CERT_FILE (see tls.ts).
   */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Home directory for `~/.docker/config.json` and `~/.config/containers/auth.json`. */
  readonly homeDir?: string | undefined;
  /** Retries of a failed request (429, 502, 503, 504, connection reset); default 4. */
  readonly retries?: number | undefined;
  /** First backoff delay in ms (doubles each retry, with jitter); default 500. */
  readonly retryBaseDelayMs?: number | undefined;
  /** Longest wait between retries in ms, `Retry-After` included; default 30000. */
  readonly maxRetryDelayMs?: number | undefined;
  /** Timeout in ms for connecting, for response headers, and between body chunks; default 60000. */
  readonly timeoutMs?: number | undefined;
  /** Blobs larger than this are uploaded in chunks of this size (PATCH); default 32 MiB. */
  readonly chunkSize?: number | undefined;
  /** Blobs uploaded in parallel; default 3. */
  readonly concurrency?: number | undefined;
  readonly progress?: ProgressListener | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * Blobs written by the other writes of this run (a fleet): each blob is uploaded once per
   * registry and mounted into the other repositories.
   */
  readonly sharedBlobs?: SharedBlobs | undefined;
  /**
   * Registries' origins (and first challenges) as `GET /v2/` found them, shared by the clients
   * of one operation (a copy's source and destination): each registry is checked once.
   */
  readonly endpoints?: EndpointCache | undefined;
  /** User-Agent header; default `ocipatch/<version>`. */
  readonly userAgent?: string | undefined;
}

export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_CHUNK_SIZE = 32 * 1024 * 1024;
export const DEFAULT_CONCURRENCY = 3;

/** What `GET /v2/` found out about a registry: its origin and the challenge it answered with. */
export interface Endpoint {
  readonly origin: string;
  readonly challenge: Challenge | undefined;
}

/** Endpoints by registry host (and insecure option); see `RegistryOptions.endpoints`. */
export type EndpointCache = Map<string, Promise<Endpoint>>;
