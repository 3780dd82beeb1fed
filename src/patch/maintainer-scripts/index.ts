/** Heuristic report of what the maintainer scripts ocipatch does not run would have done. */
export {
  classifyScript,
  type ScriptAction,
  type ScriptActionKind,
  type ScriptClassification,
} from "./classify.js";
export {
  formatScriptReport,
  type MaintainerScriptReport,
  type ScriptFinding,
  type UpgradeScripts,
  upgradeScriptReport,
} from "./report.js";
