// loomcycle's operator snapshots as a result (list_snapshots, loomcycle://snapshots).
import type { SnapshotEntry } from "../bridge/loomcycle/api-types.js";

export interface SnapshotRow {
  id: string;
  label: string;
  created_at: string;
  byte_size: number;
  schema_version: number;
}

/** The structured list and its text, for snapshots loomcycle returned newest first. */
export function snapshotList(
  entries: readonly SnapshotEntry[],
  hasMore: boolean,
): { structured: { snapshots: SnapshotRow[]; count: number; has_more: boolean }; text: string } {
  const snapshots = entries.map((e) => ({
    id: e.id,
    label: e.label ?? "",
    created_at: e.created_at,
    byte_size: e.byte_size ?? 0,
    schema_version: e.schema_version ?? 0,
  }));
  const lines = [
    `count=${snapshots.length} has_more=${hasMore}${hasMore ? " (more snapshots exist: raise limit or narrow label_contains)" : ""}`,
    ...snapshots.map(
      (s) =>
        `- ${s.id} label=${JSON.stringify(s.label)} created_at=${s.created_at} byte_size=${s.byte_size} schema_version=${s.schema_version}`,
    ),
  ];
  return { structured: { snapshots, count: snapshots.length, has_more: hasMore }, text: lines.join("\n") };
}
