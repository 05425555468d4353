import { afterEach, describe, expect, it, vi } from "vitest";
import { DeadlineError, seconds, watchStall, withDeadline } from "../../../src/remote/deadline.js";

// The one deadline mechanism of the Docker and S3 clients (issue 22 item 11): a total deadline
// for a call, a stall deadline for a stream.

afterEach(() => {
  vi.useRealTimers();
});

const late = () => new DeadlineError("the thing on server 'x' did not answer within 1 s", { server: "x" });

describe("withDeadline", () => {
  it("gives the call's result when it answers in time", async () => {
    await expect(withDeadline({ ms: 1000, error: late }, async () => 42)).resolves.toBe(42);
  });

  it("rejects with the error once the deadline passes, and aborts the call through its signal", async () => {
    vi.useFakeTimers();
    let seen: AbortSignal | undefined;
    const p = withDeadline({ ms: 1000, error: late }, (signal) => {
      seen = signal;
      return new Promise<never>(() => {}); // a call on a dead socket: never settles
    });
    const outcome = p.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(999);
    expect(seen!.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const e = await outcome;
    expect(e).toBeInstanceOf(DeadlineError);
    expect(e).toMatchObject({ message: "the thing on server 'x' did not answer within 1 s", code: "deadline", server: "x", exitCode: 1 });
    expect(seen!.aborted).toBe(true);
    expect(seen!.reason).toBe(e);
  });

  it("passes an outer abort (an interrupt) on to the call", async () => {
    const outer = new AbortController();
    const p = withDeadline({ ms: 60_000, error: late, signal: outer.signal }, (signal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted by the outer signal")))));
    outer.abort(new Error("interrupted"));
    await expect(p).rejects.toThrow("aborted by the outer signal");
  });
});

describe("watchStall", () => {
  it("fires once when nothing moved for the deadline while the far side held things up", async () => {
    vi.useFakeTimers();
    const onStall = vi.fn();
    watchStall({ ms: 1000, blocked: () => true, onStall });
    await vi.advanceTimersByTimeAsync(750);
    expect(onStall).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(500);
    expect(onStall).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(5000);
    expect(onStall).toHaveBeenCalledTimes(1);
  });

  it("does not fire while bytes keep moving, nor while our own side is the slow one", async () => {
    vi.useFakeTimers();
    const onStall = vi.fn();
    let blocked = true;
    const w = watchStall({ ms: 1000, blocked: () => blocked, onStall });
    for (let i = 0; i < 10; i++) {
      await vi.advanceTimersByTimeAsync(500);
      w.progress();
    }
    blocked = false; // e.g. paused by a slow consumer downstream
    await vi.advanceTimersByTimeAsync(10_000);
    expect(onStall).not.toHaveBeenCalled();
    blocked = true;
    await vi.advanceTimersByTimeAsync(1500);
    expect(onStall).toHaveBeenCalledTimes(1);
  });

  it("stops", async () => {
    vi.useFakeTimers();
    const onStall = vi.fn();
    watchStall({ ms: 100, blocked: () => true, onStall }).stop();
    await vi.advanceTimersByTimeAsync(1000);
    expect(onStall).not.toHaveBeenCalled();
  });
});

it("seconds() prints deadlines as people read them", () => {
  expect([seconds(500), seconds(1000), seconds(1500), seconds(60_000)]).toEqual(["500 ms", "1 s", "1.5 s", "60 s"]);
});
