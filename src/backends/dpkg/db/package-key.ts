/** `name:arch`, the identity of an installed dpkg package (one place builds it). */
export function packageKey(name: string, arch: string): string {
  return `${name}:${arch}`;
}
