import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { durabilityWarnings, redisDurabilityArgs, redisOwningDir, redisPidFile } from './redis-durability.js';

describe('redis durability of the local cluster', () => {
  it('starts redis-server with AOF fsynced every second, noeviction and no RDB snapshots', () => {
    const args = redisDurabilityArgs();
    const value = (name: string): string | undefined => args[args.indexOf(`--${name}`) + 1];
    assert.equal(value('appendonly'), 'yes');
    assert.equal(value('appendfsync'), 'everysec');
    assert.equal(value('maxmemory-policy'), 'noeviction');
    assert.equal(value('save'), '');
  });

  it('warns about a Redis that would lose or evict notifications, and only then', () => {
    assert.deepEqual(durabilityWarnings({ appendonly: 'yes', appendfsync: 'everysec', 'maxmemory-policy': 'noeviction' }), []);
    assert.deepEqual(durabilityWarnings({ appendonly: 'yes', appendfsync: 'always', 'maxmemory-policy': 'noeviction' }), []);
    assert.match(durabilityWarnings({ appendonly: 'no', appendfsync: 'everysec', 'maxmemory-policy': 'noeviction' }).join('\n'), /appendonly/);
    assert.match(durabilityWarnings({ appendonly: 'yes', appendfsync: 'no', 'maxmemory-policy': 'noeviction' }).join('\n'), /appendfsync/);
    const evicting = durabilityWarnings({ appendonly: 'yes', appendfsync: 'everysec', 'maxmemory-policy': 'volatile-lru' });
    assert.equal(evicting.length, 1);
    assert.match(evicting[0], /volatile-lru/);
  });

  it('sees a data folder as taken only while a redis-server of its pid file runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-redis-dir-'));
    try {
      assert.equal(redisOwningDir(dir), undefined, 'no pid file');
      writeFileSync(redisPidFile(dir), 'garbage\n');
      assert.equal(redisOwningDir(dir), undefined, 'unreadable pid');
      // This test process is alive but is no redis-server: a stale pid file whose pid was reused (told by /proc).
      writeFileSync(redisPidFile(dir), `${process.pid}\n`);
      assert.equal(redisOwningDir(dir), existsSync('/proc/self/comm') ? undefined : process.pid, 'pid of another program');
      writeFileSync(redisPidFile(dir), '2147483646\n');
      assert.equal(redisOwningDir(dir), undefined, 'dead pid');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
