/** What the maintainer scripts ocipatch does not run would have done, and the effects it reproduces natively. */
export { caCertificatesPostinst } from "./ca-certificates/index.js";
export {
  classifyScript,
  type ScriptAction,
  type ScriptActionKind,
  type ScriptClassification,
} from "./classify.js";
export type { EffectOutcome, EffectWrite, ImageView } from "./effects.js";
export { type UpgradeScripts, upgradeScriptReport } from "./report.js";
