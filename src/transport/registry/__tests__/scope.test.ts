import { describe, expect, it } from "vitest";
import { mergeScopes } from "../scope.js";

describe("scopes", () => {
  it("merges actions per repository", () => {
    expect(
      mergeScopes(["repository:a:pull"], ["repository:a:push", "repository:b:pull", "registry:catalog:*"]),
    ).toEqual(["repository:a:pull,push", "repository:b:pull", "registry:catalog:*"]);
  });
});
