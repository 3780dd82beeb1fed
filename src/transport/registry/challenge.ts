/** `WWW-Authenticate` challenges (RFC 7235), as registries send them on 401. */
export interface Challenge {
  /** Lowercased scheme: `bearer`, `basic`, ... */
  readonly scheme: string;
  /** Parameters, keys lowercased: `realm`, `service`, `scope`, `error`. */
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/** Parse one or more `WWW-Authenticate` header values into challenges. */
export function parseWwwAuthenticate(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = typeof header === "string" ? [header] : header;
  const out: Challenge[] = [];
  for (const v of values) out.push(...parseOne(v));
  return out;
}

function parseOne(s: string): Challenge[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const skipWs = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t")) i++;
  };
  const skipSeparators = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t" || s[i] === ",")) i++;
  };
  const token = (): string | undefined => {
    const m = TOKEN_RE.exec(s.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    return m[0];
  };
  let current: { scheme: string; params: Record<string, string> } | undefined;
  while (i < s.length) {
    skipSeparators();
    if (i >= s.length) break;
    const name = token();
    if (name === undefined) {
      i++; // skip a stray character
      continue;
    }
    skipWs();
    if (s[i] === "=" && current) {
      // an auth-param of the current challenge
      i++;
      skipWs();
      let value: string;
      if (s[i] === '"') {
        i++;
        value = "";
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++; // closing quote
      } else {
        // unquoted: a token, leniently up to the next comma or space
        const m = /^[^,\s]*/.exec(s.slice(i));
        value = m ? m[0] : "";
        i += value.length;
      }
      current.params[name.toLowerCase()] = value;
      continue;
    }
    if (s[i] === "=" && !current) {
      i++; // a parameter before any scheme: ignore it
      continue;
    }
    current = { scheme: name.toLowerCase(), params: {} };
    out.push(current);
  }
  return out;
}

/** The challenge to answer: Bearer preferred over Basic. */
export function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "basic");
}
