/** `name:architecture`: the identity of an installed package in every package database (one place builds it). */
export function packageKey(name: string, architecture: string): string {
  return `${name}:${architecture}`;
}
