import { describe, expect, it } from "vitest";
import { prettyCall, prettyFromRaw } from "../src/ui/pretty";

describe("prettyCall", () => {
  it("track: event and properties", () => {
    expect(
      prettyCall({ type: "track", event: "Order Completed", properties: { revenue: 10, currency: "USD" } }),
    ).toBe('analytics.track("Order Completed", {\n  "revenue": 10,\n  "currency": "USD"\n});');
    expect(prettyCall({ type: "track", event: "Ping", properties: {} })).toBe('analytics.track("Ping");');
  });

  it("identify: userId and traits; anonymous identify has traits only", () => {
    expect(prettyCall({ type: "identify", userId: "user-1", traits: { email: "a@b.c" } })).toBe(
      'analytics.identify("user-1", {\n  "email": "a@b.c"\n});',
    );
    expect(prettyCall({ type: "identify", anonymousId: "x", traits: { plan: "pro" } })).toBe(
      'analytics.identify({\n  "plan": "pro"\n});',
    );
  });

  it("page: category and name, name only, or properties only", () => {
    expect(prettyCall({ type: "page", category: "Docs", name: "Home", properties: { path: "/" } })).toBe(
      'analytics.page("Docs", "Home", {\n  "path": "/"\n});',
    );
    expect(prettyCall({ type: "page", name: "Home" })).toBe('analytics.page("Home");');
    expect(prettyCall({ type: "page", properties: { path: "/x" } })).toBe('analytics.page({\n  "path": "/x"\n});');
  });

  it("screen: name and properties", () => {
    expect(prettyCall({ type: "screen", name: "Settings", properties: { tab: "a" } })).toBe(
      'analytics.screen("Settings", {\n  "tab": "a"\n});',
    );
  });

  it("group: groupId and traits", () => {
    expect(prettyCall({ type: "group", groupId: "acme", traits: { name: "Acme" } })).toBe(
      'analytics.group("acme", {\n  "name": "Acme"\n});',
    );
  });

  it("alias: userId then previousId", () => {
    expect(prettyCall({ type: "alias", userId: "user-1", previousId: "anon-9" })).toBe(
      'analytics.alias("user-1", "anon-9");',
    );
  });

  it("quotes hostile strings as JSON", () => {
    expect(prettyCall({ type: "track", event: 'a"); alert(1); ("' })).toBe(
      'analytics.track("a\\"); alert(1); (\\"");',
    );
  });

  it("says so when the payload is not a Segment call", () => {
    expect(prettyCall({ type: "nope" })).toBe('// not a Segment call: type "nope"');
    expect(prettyFromRaw("[1,2]")).toBe("// the payload is not a JSON object");
  });
});
