import { describe, expect, it } from "vitest";
import { DeltaRates, RATE_WINDOW_MS } from "../src/data/rate";

describe("DeltaRates", () => {
  it("is null before any delta", () => {
    expect(new DeltaRates().perSecond(0)).toBeNull();
  });

  it("counts rows shown and rows offered (shown + thinned) per second over the window", () => {
    const r = new DeltaRates();
    r.reset(0);
    for (let t = 100; t <= 4000; t += 100) r.add(t, 5, 20); // 50 shown, 250 offered per second
    expect(r.perSecond(4000)).toEqual({ shown: 50, offered: 250 });
    expect(r.perSecond(4000 + RATE_WINDOW_MS)).toEqual({ shown: 0, offered: 0 });
  });

  it("starts over on reset, and does not spike on the first delta after it", () => {
    const r = new DeltaRates();
    r.add(0, 1000, 0);
    r.reset(1000);
    r.add(1050, 10, 40);
    expect(r.perSecond(1100)).toEqual({ shown: 20, offered: 100 }); // over the 500 ms minimum
  });
});
