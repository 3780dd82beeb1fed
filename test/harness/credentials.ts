/** Temporary homes, auth files and docker-credential helpers for credential tests. */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "./registry-fixtures.js";

export function basicAuthField(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`).toString("base64");
}

export async function writeJson(path: string, doc: unknown): Promise<string> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, JSON.stringify(doc));
  return path;
}

/**
 * A `docker-credential-<name>` shell script in a new bin directory. It logs the
 * server URL it was asked about to `log`, and answers only for `server`.
 */
export async function writeCredentialHelper(opts: {
  name: string;
  server: string;
  username: string;
  secret: string;
}): Promise<{ binDir: string; log: string }> {
  const binDir = await tempDir("ocipatch-bin-");
  const log = join(binDir, "requests.log");
  const script = `#!/bin/sh
[ "$1" = get ] || { echo "unsupported" >&2; exit 1; }
read -r server
echo "$server" >> '${log}'
if [ "$server" = '${opts.server}' ]; then
  printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}\\n' "$server" '${opts.username}' '${opts.secret}'
else
  echo "credentials not found in native keychain"
  exit 1
fi
`;
  const path = join(binDir, `docker-credential-${opts.name}`);
  await writeFile(path, script);
  await chmod(path, 0o755);
  return { binDir, log };
}
