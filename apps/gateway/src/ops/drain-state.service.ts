import { Injectable } from '@nestjs/common';

/** Whether the instance still takes connections: false from the start of a graceful shutdown. Readiness reports it. */
@Injectable()
export class DrainState {
  private accepting = true;

  get isAccepting(): boolean {
    return this.accepting;
  }

  stopAccepting(): void {
    this.accepting = false;
  }
}
