import type { RecordSink } from "../sources/types.js";
import type { AffectedRecord } from "../types.js";

/** A RecordSink that keeps everything, for tests. */
export class CollectingSink implements RecordSink {
  readonly records: AffectedRecord[] = [];
  readonly skipped: string[] = [];
  notAffectedCount = 0;
  add(r: AffectedRecord): void {
    this.records.push(r);
  }
  skip(reason: string): void {
    this.skipped.push(reason);
  }
  notAffected(): void {
    this.notAffectedCount++;
  }
}
