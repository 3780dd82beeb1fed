/**
 * Checks an image's CA trust store with the image's OWN openssl: every certificate expected to be
 * trusted verifies against /etc/ssl/certs/ca-certificates.crt (-CAfile) and against the hash
 * links (-CApath) — validity dates ignored: some roots have expired — every dropped one verifies against neither, and every hash link resolves to a
 * certificate whose subject hash is the link's name. `exec` runs `sh -c SCRIPT` in the image with
 * stdin (a chroot of an unpacked rootfs, or `docker run --network none -i IMAGE`).
 */
type ImageExec = (script: string, stdin: string) => Promise<string>;

interface TrustStoreReport {
  /** Index in `trusted` → [CAfile ok, CApath ok]. */
  readonly trusted: ReadonlyArray<readonly [boolean, boolean]>;
  readonly dropped: ReadonlyArray<readonly [boolean, boolean]>;
  /** Hash link name → the subject hash of what it leads to ("dangling" if nothing). */
  readonly links: ReadonlyMap<string, string>;
}

const SCRIPT = `set -u
d=$(mktemp -d)
cur=
while IFS= read -r line; do
  case "$line" in
    "=== "*) cur="$d/\${line#=== }"; : > "$cur" ;;
    *) printf '%s\\n' "$line" >> "$cur" ;;
  esac
done
for f in "$d"/*; do
  [ -e "$f" ] || continue
  if openssl verify -no_check_time -CAfile /etc/ssl/certs/ca-certificates.crt -no-CApath "$f" >/dev/null 2>&1; then a=ok; else a=fail; fi
  if openssl verify -no_check_time -CApath /etc/ssl/certs -no-CAfile "$f" >/dev/null 2>&1; then b=ok; else b=fail; fi
  echo "verify \${f##*/} $a $b"
done
for l in /etc/ssl/certs/*; do
  b=\${l##*/}
  case "$b" in
    [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].[0-9]*)
      if [ -f "$l" ]; then echo "link $b $(openssl x509 -hash -noout -in "$l")"; else echo "link $b dangling"; fi ;;
  esac
done
rm -rf "$d"
`;

export async function checkTrustStore(
  exec: ImageExec,
  trusted: readonly string[],
  dropped: readonly string[],
): Promise<TrustStoreReport> {
  const input = [
    ...trusted.map((pem, i) => `=== t${i}\n${pem.trimEnd()}\n`),
    ...dropped.map((pem, i) => `=== d${i}\n${pem.trimEnd()}\n`),
  ].join("");
  const out = await exec(SCRIPT, input);
  const t: Array<[boolean, boolean]> = trusted.map(() => [false, false]);
  const d: Array<[boolean, boolean]> = dropped.map(() => [false, false]);
  const links = new Map<string, string>();
  for (const line of out.split("\n")) {
    const v = /^verify ([td])(\d+) (ok|fail) (ok|fail)$/.exec(line);
    if (v) {
      (v[1] === "t" ? t : d)[Number(v[2])] = [v[3] === "ok", v[4] === "ok"];
      continue;
    }
    const l = /^link (\S+) (\S+)$/.exec(line);
    if (l) links.set(l[1]!, l[2]!);
  }
  return { trusted: t, dropped: d, links };
}
