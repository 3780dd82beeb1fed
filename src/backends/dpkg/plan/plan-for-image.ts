import type { AptConfig } from "../../../config/repositories.js";
import { OcipatchError } from "../../../errors.js";
import type { Inventory } from "../../../inventory/types.js";
import type { SuiteKind } from "../../../plan/suites.js";
import type { Plan, PlanMode, UpgradeTarget } from "../../../plan/types.js";
import type { ProgressListener } from "../../../util/progress.js";
import { readRegularFile } from "../../../util/regular-file.js";
import { AptClient, type AptClientOptions, type VerifiedRelease } from "../apt/client.js";
import { hostKeyringFiles, readHostAptSources } from "../apt/host.js";
import type { FetchStats } from "../apt/http.js";
import { type KeyringFiles, keyringFilesFromList, TrustStore } from "../apt/keyring.js";
import type { PackagesIndex } from "../apt/packages.js";
import {
  deriveRepositories,
  type HostAptSources,
  type ReleaseId,
  type Repository,
} from "../apt/repositories.js";
import type { SourceFile } from "../apt/sources.js";
import { NeedMoreIndices, planUpgrades } from "./planner.js";
import { universeFromIndices } from "./universe.js";

/** Where, in an image, the apt files planning needs are. The caller reads them through the layers. */
export const APT_FILE_LOCATIONS = {
  /** Files, and directories whose `*.list`/`*.sources` files to read. */
  sources: ["/etc/apt/sources.list", "/etc/apt/sources.list.d/"],
  /** Files, and directories whose files to read (keyrings named by Signed-By live anywhere; these are the usual places). */
  keyrings: ["/etc/apt/trusted.gpg", "/etc/apt/trusted.gpg.d/", "/usr/share/keyrings/", "/etc/apt/keyrings/"],
} as const;

/** Largest keyring file read from this machine (`--keyring`, config `keyrings`). */
const KEYRING_MAX_BYTES = 16 * 1024 * 1024;

export interface PlanForImageInput {
  /**
   * With `distroless` true (no dpkg/apt in the image), dependencies the image already lacked are
   * left unmet rather than installed (see PlanInput.keepUnmetDependencies).
   */
  readonly inventory: Pick<Inventory, "os" | "packages"> & { readonly distroless?: boolean };
  /** The image's Debian architecture (see debianArchitecture() for the image config's). */
  readonly architecture: string;
  /** The image's apt sources and keyring files (contents), see APT_FILE_LOCATIONS. */
  readonly aptFiles: { readonly sources: readonly SourceFile[]; readonly keyrings: readonly SourceFile[] };
  /**
   * The image's keyrings by path, for `Signed-By` paths outside APT_FILE_LOCATIONS (resolved in
   * the image's filesystem view only; see imageKeyringFiles). Default: `aptFiles.keyrings` only.
   */
  readonly imageKeyrings?: KeyringFiles;
  readonly mode: PlanMode;
  /**
   * Plan only from these kinds of suites (default all of PLANNED_KINDS: release, security,
   * updates), e.g. `["updates", "release"]` when the security archive is unreachable.
   */
  readonly suites?: readonly SuiteKind[];
  readonly targets?: readonly UpgradeTarget[];
  readonly holds?: readonly string[];
  readonly ignoreErrors?: boolean;
  /** Mirrors, extra keyrings (`--keyring`, read from this machine), Valid-Until policy. */
  readonly config?: Pick<AptConfig, "mirrors" | "keyrings" | "checkValidUntil">;
  /** The host's apt sources for images without any; default: read `/` when needed. `null`: never. */
  readonly host?: HostAptSources | null;
  /** The host's keyrings (fallback for images that ship none); default: `/`. `null`: never. */
  readonly hostKeyrings?: KeyringFiles | null;
  readonly client?: Omit<AptClientOptions, "checkValidUntil" | "progress">;
  readonly progress?: ProgressListener;
  /**
   * `when-needed` (default): read the security/updates indices, and the release's own (large)
   * index only when a dependency or a fix cannot be found in them. `always`: read all up front.
   */
  readonly releaseIndex?: "when-needed" | "always";
}

export interface PlanForImageResult {
  readonly plan: Plan;
  readonly release: ReleaseId;
  readonly repositories: readonly Repository[];
  /** Which key signed each Release that was used. */
  readonly signatures: ReadonlyArray<{ suite: string; url: string; keyId: string; userId: string }>;
  /** Whether the release suite's index had to be read. */
  readonly releaseIndexLoaded: boolean;
  readonly stats: FetchStats;
  readonly warnings: readonly string[];
}

/** Repositories → verified indices → plan, for one image. */
export async function planForImage(input: PlanForImageInput): Promise<PlanForImageResult> {
  const warnings: string[] = [];
  const hasSources = input.aptFiles.sources.length > 0;
  let host: HostAptSources | undefined;
  if (input.host !== null && !hasSources && !input.config?.mirrors.mirror) {
    host = input.host ?? (await readHostAptSources("/"));
  }
  const foreign = [
    ...new Set(
      input.inventory.packages
        .map((p) => p.architecture)
        .filter((a) => a !== "all" && a !== input.architecture),
    ),
  ].sort();
  const derived = deriveRepositories({
    os: input.inventory.os,
    architecture: input.architecture,
    foreignArchitectures: foreign,
    sources: input.aptFiles.sources,
    host,
    mirrors: input.config?.mirrors,
  });
  warnings.push(...derived.warnings);
  const repositories = input.suites
    ? derived.repositories.filter((r) => input.suites!.includes(r.kind))
    : derived.repositories;
  if (repositories.length === 0) {
    throw new OcipatchError(
      "USAGE",
      `none of the image's ${derived.release.codename} suites is of kind ${input.suites!.join(", ")}`,
    );
  }

  const extra: SourceFile[] = [];
  for (const path of input.config?.keyrings ?? []) {
    // a file of this machine: a bounded regular file (a FIFO or /dev/zero is an error, not a hang)
    extra.push({ path, content: await readRegularFile(path, KEYRING_MAX_BYTES, { what: "keyring" }) });
  }
  const trust = new TrustStore(
    input.imageKeyrings ?? keyringFilesFromList(input.aptFiles.keyrings, "the image"),
    extra,
    input.hostKeyrings === null ? undefined : (input.hostKeyrings ?? hostKeyringFiles("/")),
  );
  const client = new AptClient(trust, {
    ...input.client,
    ...(input.config?.checkValidUntil === undefined ? {} : { checkValidUntil: input.config.checkValidUntil }),
    ...(input.progress ? { progress: input.progress } : {}),
  });

  const signatures: Array<{ suite: string; url: string; keyId: string; userId: string }> = [];
  const loadIndices = async (repos: readonly Repository[]): Promise<PackagesIndex[]> => {
    const releases = await settleInOrder(repos.map((r) => client.release(r)));
    const jobs: Array<Promise<PackagesIndex | undefined>> = [];
    const what: string[] = [];
    for (const rel of releases) {
      signatures.push({
        suite: rel.repository.suite,
        url: rel.url,
        keyId: rel.signer.keyId,
        userId: rel.signer.userId,
      });
      for (const component of rel.repository.components) {
        for (const arch of rel.repository.architectures) {
          if (!suiteOffers(rel, component)) {
            warnings.push(`${rel.repository.suite} has no component ${component}`);
            continue;
          }
          jobs.push(client.packages(rel, component, arch));
          what.push(`${rel.repository.suite}/${component}/binary-${arch}`);
        }
      }
    }
    const out: PackagesIndex[] = [];
    const got = await settleInOrder(jobs);
    got.forEach((idx, i) => {
      if (idx) out.push(idx);
      else warnings.push(`${what[i]}: not in the signed Release (architecture not carried?)`);
    });
    return out;
  };

  const isRelease = (r: Repository): boolean => r.kind === "release";
  const lazy =
    (input.releaseIndex ?? "when-needed") === "when-needed" && repositories.some((r) => !isRelease(r));
  const first = lazy ? repositories.filter((r) => !isRelease(r)) : repositories;
  const rest = lazy ? repositories.filter(isRelease) : [];
  const indices = await loadIndices(first);
  let releaseIndexLoaded = !lazy;

  const plan = (complete: boolean): Plan =>
    planUpgrades({
      packages: input.inventory.packages,
      architecture: input.architecture,
      universe: universeFromIndices(indices, complete),
      mode: input.mode,
      ...(input.targets ? { targets: input.targets } : {}),
      ...(input.holds ? { holds: input.holds } : {}),
      ...(input.ignoreErrors ? { ignoreErrors: true } : {}),
      ...(input.inventory.distroless ? { keepUnmetDependencies: true } : {}),
    });

  let result: Plan;
  try {
    result = plan(rest.length === 0);
  } catch (e) {
    if (!(e instanceof NeedMoreIndices)) throw e;
    input.progress?.info?.(`reading the ${derived.release.codename} index: ${e.why}`);
    indices.push(...(await loadIndices(rest)));
    releaseIndexLoaded = true;
    result = plan(true);
  }
  warnings.push(...trust.warnings);
  return {
    plan: { ...result, warnings: [...warnings, ...result.warnings] },
    release: derived.release,
    repositories,
    signatures,
    releaseIndexLoaded,
    stats: client.stats,
    warnings,
  };
}

function suiteOffers(rel: VerifiedRelease, component: string): boolean {
  if (rel.repository.suite.endsWith("/")) return true;
  // Debian's security Release lists components as "updates/main"; the files are under main/
  const comps = rel.info.components.map((c) => c.split("/").pop());
  return comps.length === 0 || comps.includes(component);
}

/** Wait for all; on failure throw the first error in the given order (deterministic messages). */
async function settleInOrder<T>(jobs: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(jobs);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}
