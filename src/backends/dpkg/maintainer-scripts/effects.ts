import type { ScriptEffect } from "../../types.js";

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
  readonly effect: ScriptEffect;
  readonly writes: readonly EffectWrite[];
  /** Absolute paths the effect deletes. */
  readonly removes: readonly string[];
}
