/**
 * File capabilities of an rpm (`%caps`, FILECAPS): libcap's text form (`cap_from_text`) into the
 * `security.capability` xattr that rpm's `cap_set_fd` writes on installation — a `vfs_cap_data`
 * (kernel `include/uapi/linux/capability.h`), revision 2, little-endian: magic_etc
 * (0x02000000, | 0x000001 when any capability is effective), then permitted and inheritable of
 * capabilities 0–31, then of 32–63: 20 bytes.
 *
 * The grammar, as libcap's `cap_from_text` reads it: whitespace-separated clauses, each a
 * capability list (`cap_a,cap_b`, `all`, numbers; empty before `=` means all) then one or more
 * actions: an operator (`=`, `+`, `-`; `=+`/`=-` after a list) and flags (`e`, `i`, `p`). `=`
 * clears the listed capabilities from every set, then adds the flagged ones; `+`/`-` add/remove.
 * Names are case-insensitive. `all` is every capability named here (libcap: every capability the
 * running kernel has; 41 since Linux 5.9).
 */
import { OcipatchError } from "../../../errors.js";

/** Capability names by number (kernel `capability.h`, CAP_CHOWN = 0 … CAP_CHECKPOINT_RESTORE = 40). */
export const CAP_NAMES: readonly string[] = [
  "chown",
  "dac_override",
  "dac_read_search",
  "fowner",
  "fsetid",
  "kill",
  "setgid",
  "setuid",
  "setpcap",
  "linux_immutable",
  "net_bind_service",
  "net_broadcast",
  "net_admin",
  "net_raw",
  "ipc_lock",
  "ipc_owner",
  "sys_module",
  "sys_rawio",
  "sys_chroot",
  "sys_ptrace",
  "sys_pacct",
  "sys_admin",
  "sys_boot",
  "sys_nice",
  "sys_resource",
  "sys_time",
  "sys_tty_config",
  "mknod",
  "lease",
  "audit_write",
  "audit_control",
  "setfcap",
  "mac_override",
  "mac_admin",
  "syslog",
  "wake_alarm",
  "block_suspend",
  "audit_read",
  "perfmon",
  "bpf",
  "checkpoint_restore",
].map((n) => `cap_${n}`);

const BY_NAME = new Map(CAP_NAMES.map((n, i) => [n, i]));
/** Bits a capability number may have (libcap's __CAP_MAXBITS). */
const MAX_BITS = 64;
const VFS_CAP_REVISION_2 = 0x02000000;
const VFS_CAP_FLAGS_EFFECTIVE = 0x000001;

/** Capability sets as 64-bit masks. */
interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

const ALL = (1n << BigInt(CAP_NAMES.length)) - 1n;
const FLAGS = { e: "effective", i: "inheritable", p: "permitted" } as const;

/** `cap_from_text`: the sets a text names; undefined when the grammar or a name is wrong. */
function parseCapText(text: string): CapSets | undefined {
  const sets: CapSets = { effective: 0n, permitted: 0n, inheritable: 0n };
  let i = 0;
  const at = () => text[i] ?? "";
  const space = (c: string) => c !== "" && /\s/.test(c);
  const word = (c: string) => /[A-Za-z0-9_]/.test(c);
  for (;;) {
    while (space(at())) i++;
    if (i >= text.length) return sets;
    let list = 0n;
    let listed = false;
    if (word(at())) {
      for (;;) {
        const m = /^(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*|[A-Za-z_]+)/.exec(text.slice(i));
        if (m === null) return undefined;
        const tok = m[0];
        if (/^[0-9]/.test(tok)) {
          const n = Number.parseInt(
            tok,
            tok.startsWith("0x") || tok.startsWith("0X") ? 16 : tok.startsWith("0") ? 8 : 10,
          );
          if (n >= MAX_BITS) return undefined;
          list |= 1n << BigInt(n);
        } else if (tok.toLowerCase() === "all") {
          list = ALL; // libcap's forceall: replaces what the list named before it (numbers above 40)
        } else {
          const n = BY_NAME.get(tok.toLowerCase());
          if (n === undefined) return undefined;
          list |= 1n << BigInt(n);
        }
        i += tok.length;
        if (at() !== ",") break;
        i++;
        if (!word(at())) return undefined;
      }
      listed = true;
    } else if (at() === "+" || at() === "-") {
      return undefined; // + and - need a list
    } else {
      list = ALL;
    }
    let op = at();
    i++;
    if (op === "=" && (at() === "+" || at() === "-")) {
      if (!listed) return undefined;
      op = at() === "+" ? "=+" : "=-";
      i++;
    } else if (op !== "+" && op !== "-" && op !== "=") return undefined;
    let flags: Array<keyof CapSets> = [];
    do {
      const c = at();
      if (c !== "" && !space(c)) {
        const f = FLAGS[c as keyof typeof FLAGS];
        if (f === undefined) return undefined;
        flags.push(f);
        i++;
      } else if (op !== "=") return undefined; // only "=" may stand without flags
      if (op === "=" || op === "=+" || op === "=-") {
        sets.effective &= ~list;
        sets.permitted &= ~list;
        sets.inheritable &= ~list;
      }
      for (const f of flags) {
        if (op === "-" || op === "=-") sets[f] &= ~list;
        else sets[f] |= list;
      }
      if (at() === "+" || at() === "-") {
        if (!listed) return undefined;
        flags = [];
        op = at();
        i++;
        if (!/[A-Za-z]/.test(at())) return undefined;
      }
    } while (at() !== "" && !space(at()));
  }
}

/**
 * The `security.capability` value rpm writes for a file's FILECAPS text (`cap_from_text` then
 * `cap_set_fd`). Refused as libcap refuses it: bad grammar, an unknown name, or effective bits
 * that do not cover the permitted and inheritable ones (a file has one effective bit).
 */
export function fileCapsXattr(text: string, what: string): Buffer {
  const sets = parseCapText(text);
  if (sets === undefined)
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${what}: file capabilities "${text.slice(0, 200)}" are not valid`,
    );
  if (sets.effective !== 0n && (sets.permitted | sets.inheritable) & ~sets.effective)
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${what}: file capabilities "${text.slice(0, 200)}": effective must be empty or cover permitted and inheritable`,
    );
  const b = Buffer.alloc(20);
  b.writeUInt32LE(VFS_CAP_REVISION_2 | (sets.effective !== 0n ? VFS_CAP_FLAGS_EFFECTIVE : 0), 0);
  const lo = (v: bigint) => Number(v & 0xffffffffn);
  const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
  b.writeUInt32LE(lo(sets.permitted), 4);
  b.writeUInt32LE(lo(sets.inheritable), 8);
  b.writeUInt32LE(hi(sets.permitted), 12);
  b.writeUInt32LE(hi(sets.inheritable), 16);
  return b;
}
