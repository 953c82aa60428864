// cluster-key-slot (ioredis' own dependency) ships no types: the Redis Cluster hash slot (CRC16 of the hash tag, mod 16384).
declare module 'cluster-key-slot' {
  export default function calculateSlot(key: string | Buffer): number;
}
