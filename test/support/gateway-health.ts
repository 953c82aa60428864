/** The gateway's health endpoints as the tests read them, for process and container gateways alike. */
export async function fetchHealth(baseUrl: string, kind: 'live' | 'ready'): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${baseUrl}/health/${kind}`);
  return { status: response.status, body: await response.json() };
}

/** True when /health/ready answers 200; false while the gateway is not reachable or not ready. */
export async function isGatewayReady(baseUrl: string): Promise<boolean> {
  try {
    return (await fetchHealth(baseUrl, 'ready')).status === 200;
  } catch {
    return false;
  }
}
