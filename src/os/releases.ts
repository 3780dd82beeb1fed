/** Release facts defined once: Debian release numbers and their codenames. */

/** Debian major version → codename (the archive and the security tracker use codenames). */
export const DEBIAN_CODENAMES: Readonly<Record<string, string>> = {
  "7": "wheezy",
  "8": "jessie",
  "9": "stretch",
  "10": "buster",
  "11": "bullseye",
  "12": "bookworm",
  "13": "trixie",
  "14": "forky",
  "15": "duke",
};

/** The codename of a Debian `VERSION_ID` ("12", "12.5" → bookworm); undefined when unknown. */
export function debianCodename(versionId: string): string | undefined {
  return DEBIAN_CODENAMES[versionId.split(".")[0] ?? ""];
}
