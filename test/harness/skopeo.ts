/** skopeo references and flags for the test registries (plain HTTP on loopback) and OCI layouts. */

export interface RegistryCreds {
  readonly username: string;
  readonly password: string;
}

/** "oci:..."/"docker://..."/"docker-archive:..." pass through; "host/repo:tag" becomes docker://. */
export function skopeoRef(ref: string): string {
  return /^(docker|oci|oci-archive|docker-archive|dir):/.test(ref) ? ref : `docker://${ref}`;
}

/** Flags for one side of skopeo copy ("src"/"dest") or for inspect ("") of a ref. */
export function skopeoFlags(side: "src" | "dest" | "", ref: string, creds?: RegistryCreds): string[] {
  if (!ref.startsWith("docker://")) return [];
  const p = side ? `--${side}-` : "--";
  const flags = [`${p}tls-verify=false`];
  if (creds) flags.push(`${p}creds=${creds.username}:${creds.password}`);
  return flags;
}
