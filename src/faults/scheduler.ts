import { stackPaths } from "../stack/layout.js";
import { isolateNode, powerOffNode, signalMember, type SignalName } from "../stack/member-faults.js";
import { pidList } from "../stack/members.js";
import { stackStartMember } from "../stack/stack.js";
import { stackMoveVip } from "../stack/vip-nodes.js";
import type { Fault } from "./fault.js";
import type { FaultRecord } from "../schema/events.js";
import { vipEvents } from "../stack/vip-events.js";

/**
 * Carries out faults on the local stack at their times after t0 (the run's common start), through the same
 * kill/start handles as `dcpbench stack kill|start`. Faults still pending when the run ends are recorded as
 * not done.
 */
export class FaultScheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly pending: Array<Promise<void>> = [];
  /** Each member's faults, one after another: a start due while a crash is still under way waits for it. */
  private readonly lanes = new Map<string, Promise<void>>();
  readonly records: FaultRecord[];
  private t0 = 0;

  constructor(
    private readonly stackDir: string,
    faults: Fault[],
    private readonly notice: (line: string) => void,
  ) {
    this.records = [...faults]
      .sort((a, b) => a.at - b.at)
      .map((f) => ({
        spec: f.spec,
        action: f.action,
        member: f.member,
        signal: f.signal,
        at: f.at,
        startedAt: null,
        doneAt: null,
        ok: false,
      }));
  }

  private now(): number {
    return (Date.now() - this.t0) / 1000;
  }

  /** Arms every fault relative to t0 (epoch ms). */
  start(t0: number): void {
    this.t0 = t0;
    for (const r of this.records) {
      this.timers.push(
        setTimeout(() => this.pending.push(this.inLane(r)), Math.max(0, t0 + r.at * 1000 - Date.now())),
      );
    }
  }

  private inLane(r: FaultRecord): Promise<void> {
    const next = (this.lanes.get(r.member) ?? Promise.resolve()).then(() => this.fire(r));
    this.lanes.set(r.member, next);
    return next;
  }

  private async fire(r: FaultRecord): Promise<void> {
    r.startedAt = +this.now().toFixed(3);
    try {
      if (r.action === "kill") {
        const pids = await signalMember(
          stackPaths(this.stackDir),
          r.member,
          (r.signal ?? "TERM") as SignalName,
        );
        this.notice(`fault at ${r.startedAt.toFixed(1)}s: SIG${r.signal} → ${r.member} (${pidList(pids)})`);
      } else if (r.action === "poweroff") {
        const pids = await powerOffNode(stackPaths(this.stackDir), r.member);
        this.notice(`fault at ${r.startedAt.toFixed(1)}s: ${r.member} powered off (${pidList(pids)})`);
      } else if (r.action === "move") {
        this.notice(`fault at ${r.startedAt.toFixed(1)}s: moving the VIP to ${r.member}`);
        await stackMoveVip(this.stackDir, r.member);
      } else if (r.action === "isolate" || r.action === "rejoin") {
        isolateNode(stackPaths(this.stackDir), r.member, r.action === "isolate");
        this.notice(
          `fault at ${r.startedAt.toFixed(1)}s: ${r.member} ${r.action === "isolate" ? "isolated" : "rejoined"}`,
        );
      } else {
        this.notice(`fault at ${r.startedAt.toFixed(1)}s: starting ${r.member}`);
        const status = await stackStartMember(this.stackDir, r.member);
        this.notice(
          `fault: ${r.member} running again (${pidList(status.pids ?? [])}) after ${(this.now() - r.startedAt).toFixed(1)}s`,
        );
      }
      r.ok = true;
    } catch (err) {
      r.error = (err as Error).message;
      this.notice(`fault at ${r.startedAt.toFixed(1)}s failed: ${r.spec}: ${r.error}`);
    }
    r.doneAt = +this.now().toFixed(3);
  }

  /** Cancels what has not fired and waits for what is under way. */
  async stop(): Promise<FaultRecord[]> {
    for (const t of this.timers) clearTimeout(t);
    await Promise.all(this.pending);
    for (const r of this.records) if (r.startedAt === null) r.error = "not carried out: the run ended first";
    this.attachVipEvents();
    return this.records;
  }

  /** On a `--vip` stack: each fault gets the VIP manager's state changes from it to the next fault (or the end). */
  private attachVipEvents(): void {
    const events = vipEvents(stackPaths(this.stackDir), this.t0);
    if (!events) return;
    const fired = this.records.filter((r) => r.startedAt !== null);
    fired.forEach((r, i) => {
      const until = fired[i + 1]?.startedAt ?? Infinity;
      r.vip = events.filter((e) => e.at >= r.startedAt! && e.at < until);
    });
  }
}
