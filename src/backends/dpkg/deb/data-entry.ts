import type { Header } from "tar-stream";
import { OcipatchError } from "../../../errors.js";
import type { DataEntryHeader, DataEntryType } from "./types.js";

function hostile(source: string, message: string): OcipatchError {
  return new OcipatchError("HOSTILE_LAYER", `${source}: ${message}`);
}

/**
 * Normalise a data.tar member name the way dpkg records it: leading `./`
 * dropped, trailing `/` dropped, `.` and empty components collapsed; the root
 * becomes ".". Absolute names and `..` components are refused.
 */
export function normaliseDataPath(raw: string, source: string): string {
  if (raw.includes("\0")) throw hostile(source, `entry name contains a NUL byte`);
  if (raw.startsWith("/")) throw hostile(source, `absolute path "${raw.slice(0, 200)}" in data.tar`);
  const parts: string[] = [];
  for (const part of raw.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") throw hostile(source, `path "${raw.slice(0, 200)}" escapes the root with ".."`);
    parts.push(part);
  }
  return parts.length === 0 ? "." : parts.join("/");
}

function entryType(t: Header["type"] | null | undefined, name: string, source: string): DataEntryType {
  switch (t) {
    case "file":
    case "contiguous-file":
    case undefined:
    case null:
      return "file";
    case "directory":
      return "directory";
    case "symlink":
      return "symlink";
    case "link":
      return "hardlink";
    case "character-device":
    case "block-device":
      throw hostile(source, `device file "${name.slice(0, 200)}" in data.tar`);
    case "fifo":
      throw hostile(source, `named pipe "${name.slice(0, 200)}" in data.tar`);
    default:
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${source}: unsupported tar entry type "${t}" for "${name.slice(0, 200)}"`,
      );
  }
}

/** Turn a tar-stream header into a checked, normalised data entry header. */
export function toDataEntryHeader(h: Partial<Header> & { name: string }, source: string): DataEntryHeader {
  const type = entryType(h.type, h.name, source);
  const path = normaliseDataPath(h.name, source);
  let linkname = "";
  if (type === "symlink") {
    linkname = h.linkname ?? "";
    if (linkname === "")
      throw new OcipatchError("INVALID_FORMAT", `${source}: symlink "${path}" has no target`);
  } else if (type === "hardlink") {
    linkname = normaliseDataPath(h.linkname ?? "", source);
    if (linkname === ".") throw hostile(source, `hardlink "${path}" points at the root`);
  }
  return {
    path,
    type,
    mode: (h.mode ?? 0) & 0o7777,
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    uname: h.uname ?? "",
    gname: h.gname ?? "",
    mtime: h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0,
    linkname,
    size: type === "file" ? (h.size ?? 0) : 0,
  };
}
