// Process CPU seconds (user + system, every thread of the process) of a synchronous call.

/** The call's result and the CPU seconds it took. */
export function cpu<T>(f: () => T): [T, number] {
  const c = process.cpuUsage();
  const r = f();
  const u = process.cpuUsage(c);
  return [r, (u.user + u.system) / 1e6];
}

/** The same for an async call (CPU of everything the process did meanwhile, so run it alone). */
export async function cpuAsync<T>(f: () => Promise<T>): Promise<[T, number]> {
  const c = process.cpuUsage();
  const r = await f();
  const u = process.cpuUsage(c);
  return [r, (u.user + u.system) / 1e6];
}
