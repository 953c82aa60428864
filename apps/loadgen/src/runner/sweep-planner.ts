/**
 * The systems the harness can measure (docs/performance.md, phase 6):
 * - `herald`: the gateway, fed through the command stream;
 * - `herald-acks`: the same, with clients that acknowledge delivery as the SDK does (`inbox.ack`, at most every 250 ms);
 * - `local`: bare socket.io in Herald's previous design, every instance subscribed to `notify.user` and emitting to its
 *   own sockets only (bench/baseline/local-server.ts), the bare baseline in its strongest form;
 * - `streams`: bare socket.io on `@socket.io/redis-streams-adapter` with connection state recovery, the durable option
 *   a user would pick instead (bench/baseline/streams-server.ts);
 * - `baseline`: bare socket.io on `@socket.io/redis-adapter`, fed by `@socket.io/redis-emitter` (phases 1-5);
 * - `previous`: Herald's gateway as it was before durable delivery, built from another checkout (`--previous-dir`).
 */
export type SystemName = 'herald' | 'herald-acks' | 'local' | 'streams' | 'baseline' | 'previous';
export const SYSTEM_NAMES: readonly SystemName[] = ['herald', 'herald-acks', 'local', 'streams', 'baseline', 'previous'];
/** What `npm run bench` measures without --systems. */
export const DEFAULT_SYSTEMS: readonly SystemName[] = ['herald', 'local', 'streams'];

/**
 * The bare baseline whose saturation sets the comparison rate (half of it): the strongest bare form of the previous
 * design when it is measured, else the emitter-fed baseline, else the streams baseline; none without Herald.
 */
export function referenceSystem(systems: readonly SystemName[]): SystemName | undefined {
  if (!systems.includes('herald')) return undefined;
  return (['local', 'baseline', 'streams', 'previous'] as const).find((system) => systems.includes(system));
}

export type SweepPhase = 'escalate' | 'refine' | 'compare' | 'fixed' | 'warmup' | 'settle' | 'storm' | 'scaling';

export interface SweepStep {
  rate: number;
  systems: SystemName[];
  phase: SweepPhase;
}

export interface SweepSettings {
  startRate: number;
  factor: number;
  maxRate: number;
  /** Bisection steps between the last passing and the first failing rate, per system. */
  refineSteps: number;
  systems: readonly SystemName[];
  /** Runs per system at half the reference's saturation (the runner alternates which system goes first). */
  compareRepeats: number;
}

interface SystemProgress {
  lastPass?: number;
  firstFail?: number;
  refinesLeft: number;
}

/** Rates people can read: two significant digits (1125 -> 1100). */
export function roundRate(rate: number): number {
  if (rate < 100) return Math.max(1, Math.round(rate));
  const scale = 10 ** (Math.floor(Math.log10(rate)) - 1);
  return Math.round(rate / scale) * scale;
}

/**
 * Finds each system's saturation rate: the highest rate with zero loss, zero duplicates and p99 under the limit.
 * Escalates geometrically while a system passes (systems share steps, so their runs interleave at equal rates),
 * bisects between each system's last pass and first failure, then compares all at half the reference system's
 * saturation (referenceSystem: the bare baseline).
 */
export class SweepPlanner {
  private readonly progress = new Map<SystemName, SystemProgress>();
  private escalateRate: number;
  private phase: 'escalate' | 'refine' | 'compare' | 'done' = 'escalate';
  private refineTurn = 0;
  /** Comparison steps still to run; the runner alternates the order, so each system goes first as often. */
  private comparesLeft: number;

  constructor(private readonly settings: SweepSettings) {
    this.comparesLeft = settings.compareRepeats;
    for (const system of settings.systems) this.progress.set(system, { refinesLeft: settings.refineSteps });
    this.escalateRate = roundRate(settings.startRate);
  }

  next(): SweepStep | undefined {
    if (this.phase === 'escalate') {
      const active = this.settings.systems.filter((system) => this.progressOf(system).firstFail === undefined);
      if (active.length > 0 && this.escalateRate <= this.settings.maxRate) {
        const step: SweepStep = { rate: this.escalateRate, systems: active, phase: 'escalate' };
        this.escalateRate = roundRate(this.escalateRate * this.settings.factor);
        return step;
      }
      this.phase = 'refine';
    }
    if (this.phase === 'refine') {
      const step = this.nextRefinement();
      if (step) return step;
      this.phase = 'compare';
    }
    if (this.phase === 'compare') {
      const reference = referenceSystem(this.settings.systems);
      const saturation = reference && this.saturation(reference);
      if (saturation !== undefined && this.comparesLeft-- > 0) {
        return { rate: roundRate(saturation / 2), systems: [...this.settings.systems], phase: 'compare' };
      }
      this.phase = 'done';
    }
    return undefined;
  }

  record(system: SystemName, rate: number, passed: boolean, phase: SweepPhase): void {
    if (phase === 'compare' || phase === 'fixed') return;
    const progress = this.progress.get(system);
    if (!progress) return;
    if (passed) progress.lastPass = Math.max(progress.lastPass ?? 0, rate);
    else progress.firstFail = Math.min(progress.firstFail ?? Number.POSITIVE_INFINITY, rate);
  }

  /** The highest rate that passed, or undefined when none did. */
  saturation(system: SystemName): number | undefined {
    return this.progress.get(system)?.lastPass;
  }

  /** Whether the system never failed, so its saturation is only a lower bound (the sweep's maximum rate). */
  unbounded(system: SystemName): boolean {
    return this.progress.get(system)?.firstFail === undefined;
  }

  /** Every system of the settings has its entry from the constructor on. */
  private progressOf(system: SystemName): SystemProgress {
    const progress = this.progress.get(system);
    if (!progress) throw new Error(`${system} is not part of this sweep`);
    return progress;
  }

  private nextRefinement(): SweepStep | undefined {
    const systems = this.settings.systems;
    for (let tried = 0; tried < systems.length; tried++) {
      const system = systems[(this.refineTurn + tried) % systems.length];
      const progress = this.progressOf(system);
      if (progress.refinesLeft <= 0 || progress.firstFail === undefined) continue;
      const low = progress.lastPass ?? 0;
      const middle = roundRate((low + progress.firstFail) / 2);
      progress.refinesLeft--;
      if (middle <= low || middle >= progress.firstFail) {
        progress.refinesLeft = 0;
        continue;
      }
      this.refineTurn = (this.refineTurn + tried + 1) % systems.length;
      return { rate: middle, systems: [system], phase: 'refine' };
    }
    return undefined;
  }
}
