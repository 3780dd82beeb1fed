/**
 * docs/kubernetes/ checked offline with the installed kubectl (no cluster):
 * `kubectl set env --local -f FILE OCIPATCH_CHECKED=1 -o json` (a change, else kubectl prints nothing) decodes each workload into client-go's typed
 * objects (wrong types and YAML 1.1 traps fail there) and prints it back; every field of the
 * file must survive that round trip, so a misspelled or misplaced field (which the typed decode
 * drops) fails too. What this does NOT check: server-side validation and admission (required
 * fields the API server enforces, value ranges, feature gates of a given cluster version), and
 * that the image exists. The PatchConfig in the ConfigMap is checked by ocipatch's own parser;
 * the `--shard` argument of each pod index by ocipatch's.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { parseConfigText, parseFleetConfig } from "../../src/fleet/config.js";
import { parseShard } from "../../src/fleet/shard.js";
import { REPO_ROOT } from "../harness/cli.js";
import { run } from "../harness/exec.js";

const DIR = join(REPO_ROOT, "docs/kubernetes");
const env = { PATH: process.env["PATH"], HOME: process.env["HOME"], KUBECONFIG: "/dev/null" };

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Paths of `input`'s leaves missing or different in `output` (numbers and numeric strings compare as written). */
function lost(input: Json, output: Json | undefined, at = ""): string[] {
  if (input === null || typeof input !== "object") {
    return output === input || (typeof input === "number" && output === input)
      ? []
      : [`${at} (${JSON.stringify(output)})`];
  }
  if (Array.isArray(input)) {
    if (!Array.isArray(output)) return [at];
    return input.flatMap((v, i) => lost(v, output[i], `${at}[${i}]`));
  }
  if (output === null || typeof output !== "object" || Array.isArray(output)) return [at];
  return Object.entries(input).flatMap(([k, v]) => lost(v, output[k], `${at}.${k}`));
}

function documents(file: string): Json[] {
  return parseAllDocuments(readFileSync(join(DIR, file), "utf8")).map((d) => d.toJSON() as Json);
}

interface Container {
  args: string[];
  env: { name: string; value: string }[];
  volumeMounts: { name: string; mountPath: string }[];
}
interface JobSpec {
  completionMode: string;
  completions: number;
  template: {
    spec: {
      containers: Container[];
      volumes: { name: string; emptyDir?: object; secret?: { secretName: string } }[];
    };
  };
}
interface Workload {
  kind: string;
  spec: JobSpec & { jobTemplate: { spec: JobSpec } };
}

const files = readdirSync(DIR).filter((f) => f.endsWith(".yaml"));

describe("docs/kubernetes (kubectl, offline)", () => {
  it("ships a CronJob, an Indexed Job and the fleet's ConfigMap", () => {
    const kinds = files.flatMap((f) => documents(f).map((d) => (d as { kind: string }).kind)).sort();
    expect(kinds).toEqual(["ConfigMap", "CronJob", "Job"]);
  });

  for (const file of files.filter((f) => f !== "configmap.yaml")) {
    it(`${file}: kubectl decodes it into typed objects without losing a field`, async () => {
      const r = await run(
        "kubectl",
        ["set", "env", "--local", "-f", join(DIR, file), "OCIPATCH_CHECKED=1", "-o", "json"],
        {
          env,
        },
      );
      const out = JSON.parse(r.stdout) as Json;
      const [input] = documents(file);
      expect(lost(input!, out)).toEqual([]);
    });
  }

  it("kubectl refuses a misspelled field and a wrongly typed one (the check can fail)", async () => {
    const job = readFileSync(join(DIR, "indexed-job.yaml"), "utf8");
    const typed = await run(
      "kubectl",
      ["set", "env", "--local", "-f", "-", "OCIPATCH_CHECKED=1", "-o", "json"],
      {
        env,
        input: job.replace("completions: 4", 'completions: "four"'),
        okCodes: [1],
      },
    );
    expect(typed.stderr).toContain("JobSpec.spec.completions");
    const typo = job.replace("backoffLimitPerIndex:", "backofLimitPerIndex:");
    const r = await run("kubectl", ["set", "env", "--local", "-f", "-", "OCIPATCH_CHECKED=1", "-o", "json"], {
      env,
      input: typo,
    });
    const [input] = parseAllDocuments(typo).map((d) => d.toJSON() as Json);
    expect(lost(input!, JSON.parse(r.stdout) as Json)).toEqual([".spec.backofLimitPerIndex (undefined)"]);
  });

  it("each pod's --shard is JOB_COMPLETION_INDEX of completions, and the ConfigMap holds a valid PatchConfig", () => {
    for (const file of ["indexed-job.yaml", "cronjob.yaml"]) {
      const [doc] = documents(file) as unknown as [Workload];
      const jobSpec = doc.kind === "CronJob" ? doc.spec.jobTemplate.spec : doc.spec;
      expect(jobSpec.completionMode).toBe("Indexed");
      const n = jobSpec.completions as number;
      const container = jobSpec.template.spec.containers[0]!;
      const shardArg = container.args.find((a) => a.startsWith("--shard="))!;
      expect(shardArg).toBe(`--shard=$(JOB_COMPLETION_INDEX)/${n}`);
      for (let k = 0; k < n; k++) {
        expect(
          parseShard(shardArg.slice("--shard=".length).replace("$(JOB_COMPLETION_INDEX)", String(k))),
        ).toEqual({
          index: k,
          count: n,
        });
      }
      const mounts = container.volumeMounts;
      const volumes = jobSpec.template.spec.volumes;
      const volumeOf = (path: string) =>
        volumes.find((v) => v.name === mounts.find((m) => m.mountPath === path)?.name);
      expect(volumeOf("/cache")?.["emptyDir"]).toBeDefined();
      expect(volumeOf("/etc/ocipatch/docker")?.["secret"]?.secretName).toBe("ocipatch-registry");
      const envs = Object.fromEntries(
        (container.env as { name: string; value: string }[]).map((e) => [e.name, e.value]),
      );
      expect(envs).toMatchObject({ OCIPATCH_CACHE_DIR: "/cache", DOCKER_CONFIG: "/etc/ocipatch/docker" });
    }
    const [cm] = documents("configmap.yaml") as unknown as [{ data: Record<string, string> }];
    const fleet = parseFleetConfig(parseConfigText(cm.data["fleet.yaml"]!, "fleet.yaml"), "fleet.yaml");
    expect(fleet.images.map((i) => i.name)).toEqual(["nginx", "debian"]);
  });
});
