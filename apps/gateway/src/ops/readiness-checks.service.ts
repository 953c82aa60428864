import { Injectable } from '@nestjs/common';

/**
 * Readiness conditions that feature modules own (the route canary lives with the sockets): each registers a named
 * check, and `/health/ready` reports every one. Ops stays free of the modules it reports on.
 */
@Injectable()
export class ReadinessChecks {
  private readonly checks = new Map<string, () => boolean>();

  register(name: string, check: () => boolean): void {
    this.checks.set(name, check);
  }

  entries(): Array<[string, () => boolean]> {
    return [...this.checks];
  }
}
