import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on Linux almost everywhere). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime in seconds from the text of /proc/<pid>/stat. The command name may contain spaces and parentheses. */
export function parseCpuSeconds(statText: string, ticks = clockTicks()): number {
  const fields = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ", field 3 (state) is index 0, so utime (14) and stime (15) are at 11 and 12.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unexpected /proc stat format: ${statText.slice(0, 80)}`);
  return (utime + stime) / ticks;
}

/** VmRSS in KB from the text of /proc/<pid>/status. */
export function parseRssKb(statusText: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(statusText);
  if (!match) throw new Error('no VmRSS in /proc status (has the process exited?)');
  return Number(match[1]);
}

export function cpuSecondsOf(pid: number): number {
  return parseCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

export function rssKbOf(pid: number): number {
  return parseRssKb(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/** CPU seconds of a process, or undefined when it is gone or unknown (targets given by URL). */
export function tryCpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return cpuSecondsOf(pid);
  } catch {
    return undefined;
  }
}

/** Busy CPU seconds of the whole machine, all cores (user, nice, system, irq, softirq, steal), from /proc/stat's text. */
export function parseMachineBusySeconds(statText: string, ticks = clockTicks()): number {
  const line = statText.split('\n').find((entry) => entry.startsWith('cpu '));
  if (!line) throw new Error('no cpu line in /proc/stat');
  const [user, nice, system, _idle, _iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + (steal || 0)) / ticks;
}

/** Busy CPU seconds of the machine, or undefined where there is no /proc/stat. */
export function tryMachineBusySeconds(): number | undefined {
  try {
    return parseMachineBusySeconds(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}
