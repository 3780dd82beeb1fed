import { OcipatchError } from "../errors.js";
import { isValidTag } from "../reference/reference.js";

/**
 * copa's target tag template: Go `text/template` text where `{{ .SourceTag }}` is the source
 * tag. Only that field exists in copa's bulk mode, so only that action is accepted here; any
 * other `{{ ... }}` is an error rather than text pushed as a tag.
 */

const ACTION = /\{\{-?\s*(.*?)\s*-?\}\}/g;

interface TagTemplate {
  render(sourceTag: string): string;
}

export function parseTagTemplate(template: string): TagTemplate {
  const parts: Array<string | { field: "SourceTag" }> = [];
  let last = 0;
  for (const m of template.matchAll(ACTION)) {
    const inner = m[1]!;
    if (inner !== ".SourceTag") {
      throw new OcipatchError(
        "USAGE",
        `template "${template}": only {{ .SourceTag }} is supported, got {{ ${inner} }}`,
      );
    }
    parts.push(template.slice(last, m.index), { field: "SourceTag" });
    last = m.index + m[0].length;
  }
  parts.push(template.slice(last));
  if (parts.some((p) => typeof p === "string" && (p.includes("{{") || p.includes("}}")))) {
    throw new OcipatchError("USAGE", `template "${template}": unbalanced {{ }}`);
  }
  return {
    render(sourceTag) {
      const tag = parts.map((p) => (typeof p === "string" ? p : sourceTag)).join("");
      if (!isValidTag(tag)) {
        throw new OcipatchError(
          "USAGE",
          `template "${template}" gives "${tag}" for ${sourceTag}, not a valid tag`,
        );
      }
      return tag;
    },
  };
}
