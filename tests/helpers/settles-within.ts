// Fails a test whose promise has not settled by a deadline, instead of letting it hang until the test timeout.
export function settlesWithin<T>(promise: Promise<T>, ms: number, why?: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms${why ? ` (${why})` : ''}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
