import { OcipatchError } from "../../../errors.js";
import type { LayeredFs } from "../../../rootfs/index.js";
import { DPKG_DIVERSIONS } from "../db/paths.js";

/** One diversion (`dpkg-divert`): what a package other than `by` ships as `from` is placed at `to`. */
export interface Diversion {
  readonly from: string;
  readonly to: string;
  /** The diverting package; undefined for a local (the administrator's) diversion. */
  readonly by: string | undefined;
}

function invalid(where: string, why: string): OcipatchError {
  return new OcipatchError("INVALID_FORMAT", `${where}: ${why}`);
}

/**
 * The image's diversions, as dpkg reads /var/lib/dpkg/diversions: three lines per entry (the
 * diverted path, where it is diverted to, the diverting package or `:` for a local diversion).
 * An image without the file (distroless status.d) diverts nothing.
 */
export class Diversions {
  static readonly none = new Diversions(new Map());

  private constructor(private readonly byFrom: ReadonlyMap<string, Diversion>) {}

  static parse(text: string, where: string = DPKG_DIVERSIONS): Diversions {
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    if (lines.length % 3 !== 0) {
      throw invalid(where, `${lines.length} lines, not three per diversion (from, to, package)`);
    }
    const byFrom = new Map<string, Diversion>();
    for (let i = 0; i < lines.length; i += 3) {
      const [from, to, pkg] = [lines[i]!, lines[i + 1]!, lines[i + 2]!];
      const at = `line ${i + 1}`;
      if (!from.startsWith("/") || !to.startsWith("/") || from === to) {
        throw invalid(where, `${at}: "${from.slice(0, 200)}" → "${to.slice(0, 200)}" is not a diversion`);
      }
      if (pkg === "" || /\s/.test(pkg)) throw invalid(where, `${at}: "${pkg.slice(0, 200)}" is no package`);
      if (byFrom.has(from)) throw invalid(where, `${at}: ${from.slice(0, 200)} is diverted twice`);
      byFrom.set(from, { from, to, by: pkg === ":" ? undefined : pkg });
    }
    return new Diversions(byFrom);
  }

  static async read(fs: Pick<LayeredFs, "readTextIfExists">): Promise<Diversions> {
    const text = await fs.readTextIfExists(DPKG_DIVERSIONS);
    return text === undefined ? Diversions.none : Diversions.parse(text);
  }

  /** The diversion of a path (absolute, as the package names it), if any. */
  of(path: string): Diversion | undefined {
    return this.byFrom.get(path);
  }

  /**
   * Where package `pkg` places the path it names `path` (absolute): the divert-to path when a
   * local diversion or another package diverts it, else the path itself (as dpkg's namenodetouse).
   */
  placement(path: string, pkg: string): string {
    const d = this.byFrom.get(path);
    return d === undefined || d.by === pkg ? path : d.to;
  }
}
