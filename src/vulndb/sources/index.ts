import { OcipatchError } from "../../errors.js";
import type { FeedName } from "../types.js";
import { alpineSecdbFeed } from "./alpine-secdb.js";
import { debianTrackerFeed } from "./debian-tracker.js";
import { osvFeed, ubuntuOsvFeed } from "./osv.js";
import type { FeedDefinition } from "./types.js";
import { wolfiSecdbFeed } from "./wolfi-secdb.js";

export const FEEDS: Readonly<Record<FeedName, FeedDefinition>> = {
  debian: debianTrackerFeed,
  ubuntu: ubuntuOsvFeed,
  osv: osvFeed,
  alpine: alpineSecdbFeed,
  wolfi: wolfiSecdbFeed,
};

export function feedByName(name: string): FeedDefinition {
  const f = (FEEDS as Record<string, FeedDefinition | undefined>)[name];
  if (!f) {
    throw new OcipatchError(
      "USAGE",
      `unknown vulnerability source "${name}" (known: ${Object.keys(FEEDS).join(", ")})`,
    );
  }
  return f;
}
