import { spawn } from "node:child_process";
import { z } from "zod";
import { OcipatchError } from "../errors.js";
import type { Credentials } from "./credentials.js";

/**
 * Docker credential helpers (`docker-credential-<name>`): `get` reads the server URL
 * on stdin and prints `{"ServerURL","Username","Secret"}`. A username of `<token>`
 * means the secret is an identity (refresh) token.
 */
const helperOutputSchema = z.looseObject({
  Username: z.string().optional(),
  Secret: z.string().optional(),
});

const NOT_FOUND_RE = /credentials not found|not found in native keychain|no credentials/i;
const HELPER_TIMEOUT_MS = 60_000;

interface HelperOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal | undefined;
}

/** Ask a credential helper for a server's credentials; `undefined` when it has none. */
export async function runCredentialHelper(
  helper: string,
  serverUrl: string,
  opts: HelperOptions,
): Promise<Credentials | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(helper)) {
    throw new OcipatchError("INVALID_FORMAT", `invalid credential helper name "${helper}"`);
  }
  const program = `docker-credential-${helper}`;
  const { code, stdout, stderr } = await run(program, serverUrl, opts);
  if (code !== 0) {
    const said = `${stdout} ${stderr}`;
    if (NOT_FOUND_RE.test(said)) return undefined;
    throw new OcipatchError(
      "AUTH_FAILED",
      `credential helper ${program} failed for ${serverUrl} (exit ${code})${firstLine(stderr || stdout)}`,
    );
  }
  if (stdout.trim() === "") return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw new OcipatchError("AUTH_FAILED", `credential helper ${program} printed something that is not JSON`);
  }
  const r = helperOutputSchema.safeParse(doc);
  if (!r.success) {
    throw new OcipatchError("AUTH_FAILED", `credential helper ${program} printed an unexpected answer`);
  }
  const username = r.data.Username ?? "";
  const secret = r.data.Secret ?? "";
  if (secret === "" && username === "") return undefined;
  if (username === "<token>") return { identityToken: secret };
  return { username, password: secret };
}

function firstLine(s: string): string {
  const line = s.trim().split("\n")[0]?.trim() ?? "";
  return line === "" ? "" : `: ${line.slice(0, 200)}`;
}

function run(
  program: string,
  input: string,
  opts: HelperOptions,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, ["get"], {
      env: opts.env as NodeJS.ProcessEnv,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: HELPER_TIMEOUT_MS,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.stdin.on("error", () => {
      // the helper may exit without reading stdin; its exit status tells
    });
    child.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") {
        reject(
          new OcipatchError(
            "AUTH_FAILED",
            `credential helper ${program} is configured but not found on PATH`,
            { cause: e },
          ),
        );
      } else if (e.name === "AbortError") {
        reject(new OcipatchError("CANCELLED", `credential helper ${program} was cancelled`, { cause: e }));
      } else {
        reject(new OcipatchError("AUTH_FAILED", `cannot run credential helper ${program}: ${e.message}`));
      }
    });
    child.on("close", (code, signal) => {
      if (signal) {
        reject(new OcipatchError("AUTH_FAILED", `credential helper ${program} was killed (${signal})`));
        return;
      }
      resolve({
        code: code ?? 1,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
    child.stdin.end(input);
  });
}
