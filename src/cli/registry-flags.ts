/**
 * Registry flags in skopeo's spelling (`--src-creds USER:PASSWORD`, `--src-tls-verify=false`,
 * `--insecure`), turned into transport options. Error messages never repeat a flag's value.
 */
import type { Credentials } from "../auth/credentials.js";
import { OcipatchError } from "../errors.js";
import type { TransportOptions } from "../transport/index.js";

/** `USER:PASSWORD` → credentials; the password may contain colons. */
export function parseCreds(value: string, flag: string): Credentials {
  const colon = value.indexOf(":");
  if (colon === -1) {
    throw new OcipatchError(
      "USAGE",
      `${flag} needs USER:PASSWORD (ocipatch does not prompt for a password; or use ~/.docker/config.json)`,
    );
  }
  const username = value.slice(0, colon);
  const password = value.slice(colon + 1);
  if (username === "") throw new OcipatchError("USAGE", `${flag}: the user name is empty`);
  if (password === "") throw new OcipatchError("USAGE", `${flag}: the password is empty`);
  return { username, password };
}

/** `--x-tls-verify[=true|false]`: commander hands over `true` for the bare flag. */
export function parseTlsVerify(value: string | boolean | undefined, flag: string): boolean | undefined {
  if (value === undefined || value === true) return value;
  if (value === false) return false;
  const v = value.toLowerCase();
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new OcipatchError("USAGE", `${flag} must be true or false, got "${value}"`);
}

/** Transport options for one side of a transfer. */
export function transportOptions(
  env: NodeJS.ProcessEnv,
  creds: string | undefined,
  credsFlag: string,
  insecure: boolean | undefined,
  tlsVerify: string | boolean | undefined,
  tlsFlag: string,
): TransportOptions {
  const verify = parseTlsVerify(tlsVerify, tlsFlag);
  return {
    env,
    ...(creds === undefined ? {} : { credentials: parseCreds(creds, credsFlag) }),
    ...(insecure || verify === false ? { insecure: true } : {}),
  };
}

/**
 * The secrets in a command line: values of any `*creds*` / `*password*` option (and
 * their password parts), also when the option name is misspelled, so that no error
 * message can echo them.
 */
export function secretsInArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  const add = (v: string | undefined, creds: boolean) => {
    if (v === undefined || v === "") return;
    if (!creds) {
      out.push(v);
      return;
    }
    // USER:PASSWORD; a user name alone carries no secret
    const colon = v.indexOf(":");
    if (colon !== -1 && colon < v.length - 1) out.push(v, v.slice(colon + 1));
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--?([\w-]*?(creds?|password|passwd|token)[\w-]*)(?:=(.*))?$/is.exec(a);
    if (m) {
      const creds = /cred/i.test(m[1]!);
      if (m[3] !== undefined) add(m[3], creds);
      else add(argv[i + 1], creds);
    } else if (a === "-p") {
      add(argv[i + 1], false);
    }
  }
  return out.sort((x, y) => y.length - x.length);
}

/** Replace every secret in `text` with `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let t = text;
  for (const s of secrets) if (s.length > 0) t = t.split(s).join("***");
  return t;
}

/** kubescape's variables for `-u/-p` (cmd/shared: RegistryUsernameEnvVar, RegistryPasswordEnvVar). */
const KUBESCAPE_USERNAME_ENV = "KUBESCAPE_REGISTRY_USERNAME";
const KUBESCAPE_PASSWORD_ENV = "KUBESCAPE_REGISTRY_PASSWORD";

/**
 * `-u/-p` of `patch` as kubescape reads them: each flag that is not given falls back to its
 * KUBESCAPE_REGISTRY_* variable (so `-u USER` pairs with the password from the
 * environment); a flag given as "" stays empty and is not replaced. What results is used as
 * the flags are, so it wins over OCIPATCH_USERNAME/OCIPATCH_PASSWORD and the auth files;
 * both empty means no explicit credentials.
 */
export function patchCredentialFlags(
  username: string | undefined,
  password: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): { username: string | undefined; password: string | undefined } {
  const fromEnv = (v: string | undefined) => (v === undefined || v === "" ? undefined : v);
  const u = username ?? fromEnv(env[KUBESCAPE_USERNAME_ENV]);
  const p = password ?? fromEnv(env[KUBESCAPE_PASSWORD_ENV]);
  if (u === "" && (p === "" || p === undefined)) return { username: undefined, password: undefined };
  if (p === "" && u === undefined) return { username: undefined, password: undefined };
  return { username: u, password: p };
}
