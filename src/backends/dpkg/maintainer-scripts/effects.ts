/** What ocipatch did about one effect a maintainer script or trigger would have had. */
export type EffectStatus = "applied natively" | "not needed" | "skipped";

export interface MaintainerEffect {
  /** The package whose script or trigger has the effect. */
  readonly package: string;
  /** The command the script would have run ("update-ca-certificates", "ldconfig"). */
  readonly effect: string;
  readonly status: EffectStatus;
  /** One line: what was written, or why it was not needed or skipped. */
  readonly detail: string;
  /** Paths the patch layer writes or removes for this effect (absolute). */
  readonly paths?: readonly string[];
}

/** The image after the upgrade, as the native effects read it (symbolic links resolved inside the image). */
export interface ImageView {
  lstat(
    absPath: string,
  ): Promise<
    { readonly kind: "file" | "directory" | "symlink" | "other"; readonly target?: string } | undefined
  >;
  /** Content of the regular file a path leads to (links followed); undefined when there is none. */
  readRegular(absPath: string): Promise<Buffer | undefined>;
  /** Whether a path leads to a regular file (links followed). */
  isRegular(absPath: string): Promise<boolean>;
  /** Names in a directory (links followed); [] when it is not one. */
  readdir(absPath: string): Promise<string[]>;
}

/** One entry an effect puts into the patch layer. */
export type EffectWrite =
  | { readonly path: string; readonly kind: "file"; readonly content: Buffer; readonly mode: number }
  | { readonly path: string; readonly kind: "symlink"; readonly target: string };

export interface EffectOutcome {
  readonly effect: MaintainerEffect;
  readonly writes: readonly EffectWrite[];
  /** Absolute paths the effect deletes. */
  readonly removes: readonly string[];
}
