/** What the maintainer scripts ocipatch does not run would have done, and the effects it reproduces natively. */
export { caCertificatesPostinst } from "./ca-certificates/index.js";
export {
  classifyScript,
  type ScriptActionKind,
} from "./classify.js";
export type { EffectOutcome } from "./effects.js";
export { upgradeScriptReport } from "./report.js";
