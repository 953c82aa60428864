import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cpuSecondsOf, parseCpuSeconds, parseMachineBusySeconds, parseRssKb, rssKbOf } from './proc-stats.js';

describe('/proc parsing', () => {
  it('reads utime + stime even when the command name has spaces and parentheses', () => {
    const stat = '4242 (node (main) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 11 0 100 1000000 5000';
    assert.equal(parseCpuSeconds(stat, 100), 3);
  });

  it('reads VmRSS and refuses text without it', () => {
    assert.equal(parseRssKb('Name:\tnode\nVmRSS:\t  123456 kB\nThreads:\t7\n'), 123456);
    assert.throws(() => parseRssKb('Name:\tzombie\n'), /no VmRSS/);
  });

  it('adds up the busy time of every core from /proc/stat, idle and iowait left out', () => {
    const stat = 'cpu  100 20 30 5000 40 5 5 10 0 0\ncpu0 50 10 15 2500 20 2 3 5 0 0\nintr 123\n';
    assert.equal(parseMachineBusySeconds(stat, 100), 1.7);
    assert.throws(() => parseMachineBusySeconds('intr 1\n'), /no cpu line/);
  });

  it('measures this very process', () => {
    assert.ok(rssKbOf(process.pid) > 1000);
    assert.ok(cpuSecondsOf(process.pid) >= 0);
  });
});
