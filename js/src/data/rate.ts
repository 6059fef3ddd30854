/**
 * Rows per second as the deltas bring them: shown (the rows sent) and offered (rows sent +
 * `skipped`, the thinned ones). With criteria Python filters before it thins, so "offered"
 * is the rate of events matching the filter, a figure the stats trait does not have (its
 * `rate_per_s` counts every event received).
 */

/** How far back the rates look (milliseconds). */
export const RATE_WINDOW_MS = 2000;
/** The shortest span a rate is divided by, so the first delta after a reset is not a spike. */
const MIN_SPAN_MS = 500;

interface Sample {
  t: number;
  shown: number;
  offered: number;
}

export class DeltaRates {
  private samples: Sample[] = [];
  private since: number | null = null;

  /** Counts one delta's rows, received at `t` (milliseconds, performance.now()). */
  add(t: number, shown: number, skipped: number): void {
    this.since ??= t;
    this.samples.push({ t, shown, offered: shown + Math.max(0, skipped) });
    this.prune(t);
  }

  /** Starts over (a snapshot: the criteria, and so the matching stream, may have changed). */
  reset(t: number): void {
    this.samples = [];
    this.since = t;
  }

  /** Rows per second over the last RATE_WINDOW_MS, or null before any delta. */
  perSecond(t: number): { shown: number; offered: number } | null {
    if (this.since === null) return null;
    this.prune(t);
    const span = Math.max(MIN_SPAN_MS, Math.min(RATE_WINDOW_MS, t - this.since));
    let shown = 0;
    let offered = 0;
    for (const s of this.samples) {
      shown += s.shown;
      offered += s.offered;
    }
    return { shown: (shown * 1000) / span, offered: (offered * 1000) / span };
  }

  private prune(t: number): void {
    const cutoff = t - RATE_WINDOW_MS;
    let i = 0;
    while (i < this.samples.length && this.samples[i].t <= cutoff) i += 1;
    if (i > 0) this.samples.splice(0, i);
  }
}
