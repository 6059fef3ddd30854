/**
 * The rows the list shows: the store's rows (or, while paused, the rows frozen
 * at pause time) that pass the query, the type toggles and the invalid and warnings toggles.
 * Kept oldest first internally; `at(0)` is the newest.
 *
 * Python filters by the same criteria before it thins, so the store holds what the
 * criteria Python last had match; filtering here again gives instant feedback while the
 * user types (narrowing is exact; widening is completed by Python's snapshot).
 */
import { compileQuery, type Filter } from "./filter";
import { filterInput } from "./payload";
import type { Row } from "../sync/protocol";
import { findSeq, type RowStore } from "./store";

/** What the user filters on (the query, type_filter, invalid_only and warnings_only traits). */
export interface Criteria {
  query: string;
  typeFilter: readonly string[];
  invalidOnly: boolean;
  /** only rows with warnings (missing: off) */
  warningsOnly?: boolean;
}

/** A key equal for equal criteria (types in any order). */
function criteriaKey(c: Criteria): string {
  return JSON.stringify([c.query, [...c.typeFilter].sort(), c.invalidOnly, Boolean(c.warningsOnly)]);
}

/** Builds the row predicate for the given criteria. */
function rowPredicate(criteria: Criteria, store: RowStore): (row: Row) => boolean {
  // person: terms use the id sets of the newest snapshot (Python resolves who is who)
  const filter: Filter = compileQuery(criteria.query, { persons: () => store.persons });
  const types = new Set(criteria.typeFilter);
  const { invalidOnly } = criteria;
  const warningsOnly = Boolean(criteria.warningsOnly);
  return (row) => {
    if (types.size > 0 && (row.type === null || !types.has(row.type))) return false;
    if (invalidOnly && row.valid) return false;
    if (warningsOnly && (row.warnings ?? []).length === 0) return false;
    return filter.test(filterInput(row, filter.needsData));
  };
}

/** The filtered, possibly frozen, list of rows. */
export class RowView {
  private matched: Row[] = [];
  private start = 0;
  private frozen: Row[] | null = null;
  /** while frozen: the store's last_seq at the freeze, and the criteria then */
  private frozenAt = -1;
  private frozenKey = "";
  private predicate: (row: Row) => boolean;
  private key: string;

  constructor(
    private readonly store: RowStore,
    criteria: Criteria,
  ) {
    this.predicate = rowPredicate(criteria, store);
    this.key = criteriaKey(criteria);
    this.rebuild();
  }

  /** Rows shown. */
  get length(): number {
    return this.matched.length - this.start;
  }

  /** Rows the filter ran over (the store, or the frozen rows while paused). */
  get total(): number {
    return this.frozen ? this.frozen.length : this.store.size;
  }

  get isFrozen(): boolean {
    return this.frozen !== null;
  }

  /** The i-th row shown, newest first. */
  at(i: number): Row | undefined {
    return i >= 0 && i < this.length ? this.matched[this.matched.length - 1 - i] : undefined;
  }

  /** Position (newest first) of the row with this seq, or -1. */
  indexOfSeq(seq: number): number {
    const i = findSeq(this.matched, seq, this.start);
    return i >= 0 ? this.matched.length - 1 - i : -1;
  }

  /**
   * Position (newest first) of the newest row shown with a seq at or before `seq`, or -1
   * when every row shown is newer: where a list anchored on `seq` stays.
   */
  indexAtOrBefore(seq: number): number {
    let lo = this.start;
    let hi = this.matched.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.matched[mid].seq <= seq) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found >= 0 ? this.matched.length - 1 - found : -1;
  }

  /** New criteria: filters everything again (the frozen rows while paused). */
  setCriteria(criteria: Criteria): void {
    this.predicate = rowPredicate(criteria, this.store);
    this.key = criteriaKey(criteria);
    this.rebuild();
  }

  /** Freezes the view on the rows it holds now. */
  freeze(): void {
    if (!this.frozen) {
      this.frozen = this.store.toArray();
      this.frozenAt = this.store.lastSeq ?? this.frozen.at(-1)?.seq ?? -1;
      this.frozenKey = this.key;
    }
  }

  /**
   * A snapshot replaced the store. Live: filters it again. Frozen: the rows stay frozen,
   * unless the criteria changed since the freeze: then the snapshot (what Python's new
   * criteria match) is merged in, up to the freeze's last_seq only. So widening the filter
   * while paused shows the older matches, never anything newer than the pause (that is the
   * backlog, "N new"), and a resync snapshot with the same criteria changes nothing.
   */
  applySnapshot(): void {
    if (!this.frozen) {
      this.rebuild();
      return;
    }
    if (this.key === this.frozenKey) return;
    const merged = new Map<number, Row>();
    for (const row of this.frozen) merged.set(row.seq, row);
    for (let i = 0; i < this.store.size; i++) {
      const row = this.store.at(i)!;
      if (row.seq > this.frozenAt) break;
      if (!merged.has(row.seq)) merged.set(row.seq, row);
    }
    if (merged.size === this.frozen.length) return;
    const rows = [...merged.values()].sort((a, b) => a.seq - b.seq);
    this.frozen = rows.slice(Math.max(0, rows.length - this.store.capacity));
    this.rebuild();
  }

  /** Back to the live store. */
  unfreeze(): void {
    if (this.frozen) {
      this.frozen = null;
      this.rebuild();
    }
  }

  /** Filters everything again from the source rows. */
  rebuild(): void {
    const source = this.frozen ?? this.store.toArray();
    this.matched = source.filter(this.predicate);
    this.start = 0;
  }

  /**
   * Takes rows just appended to the store and drops rows it evicted.
   * Returns how many rows were added at the top (newest end). No-op while frozen.
   */
  append(added: readonly Row[]): number {
    if (this.frozen) return 0;
    let n = 0;
    for (const row of added) {
      if (this.predicate(row)) {
        this.matched.push(row);
        n += 1;
      }
    }
    const oldest = this.store.at(0)?.seq;
    if (oldest === undefined) {
      this.matched = [];
      this.start = 0;
      return 0;
    }
    while (this.start < this.matched.length && this.matched[this.start].seq < oldest) {
      this.start += 1;
    }
    if (this.start > 1024 && this.start >= this.length) {
      this.matched = this.matched.slice(this.start);
      this.start = 0;
    }
    return n;
  }
}
