/** `load()` run on the first call only; its result (a value, a promise, or undefined) kept. */
export function once<T>(load: () => T): () => T {
  let got: { value: T } | undefined;
  return () => {
    got ??= { value: load() };
    return got.value;
  };
}
